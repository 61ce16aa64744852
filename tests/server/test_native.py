"""Native routing, binding and responses, over real sockets."""

import json
import os
import socket

import httpx
import pytest

from conftest import SANITIZED, parse_responses, raw, read_response, request, rss_kib


@pytest.fixture
def app(serve):
    return serve("native_basic:app", "--workers", "1")


def get(app, path, **kw):
    return httpx.request(kw.pop("method", "GET"), f"http://127.0.0.1:{app.port}{path}",
                         timeout=10, **kw)


def test_dict_is_json(app):
    r = get(app, "/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content == b'{"message":"Hello, World!"}'
    assert r.headers["content-length"] == "27"
    assert r.headers["server"] == "frostfork"
    assert "GMT" in r.headers["date"]


def test_result_types(app):
    r = get(app, "/bytes")
    assert (r.headers["content-type"], r.content) == ("application/octet-stream", b"\x00\x01binary")
    r = get(app, "/text")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == "héllo"
    assert get(app, "/none").content == b"null"


def test_path_params_are_converted(app):
    assert get(app, "/users/42").json() == {"id": 42, "type": "int"}
    assert get(app, "/price/2.5").json() == {"value": 2.5}
    assert get(app, "/files/a%20b%2Fc/raw").json() == {"name": "a b/c"}


def test_literal_beats_parameter(app):
    assert get(app, "/users/me").json() == {"me": True}


def test_unconvertible_path_param_is_422(app):
    r = get(app, "/users/abc")
    assert r.status_code == 422
    assert r.json() == {"detail": [{"type": "int_parsing", "loc": ["path", "id"],
                                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                                    "input": "abc"}]}


def test_404_and_405(app):
    r = get(app, "/nope")
    assert r.status_code == 404
    r = get(app, "/users/1", method="DELETE")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    r = get(app, "/items", method="PATCH")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, POST"


def test_request_object(app):
    r = get(app, "/items?a=1&b=2", method="POST", content=b"x" * 1000,
            headers={"Content-Type": "text/x"})
    assert r.json() == {"method": "POST", "len": 1000, "query": "a=1&b=2", "ct": "text/x"}


def test_response_status_headers_and_body(app):
    r = get(app, "/echo/k1", method="PUT", content=b"payload")
    assert r.status_code == 201
    assert r.headers["x-key"] == "k1"
    assert r.headers["content-type"] == "application/x-echo"
    assert r.content == b"payload"


def test_204_has_no_content_length(app):
    data = raw(app.port, b"GET /status/204 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head = data.split(b"\r\n\r\n")[0].lower()
    assert data.startswith(b"HTTP/1.1 204 ")
    assert b"content-length" not in head
    assert data.endswith(b"\r\n\r\n")


def test_head_has_headers_but_no_body(app):
    data = raw(app.port, b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: 27\r\n" in data
    assert data.endswith(b"\r\n\r\n")


def test_handler_exception_is_500_with_request_id_and_worker_lives(app):
    before = get(app, "/pid").json()["pid"]
    r = get(app, "/boom")
    assert r.status_code == 500
    body = r.json()
    assert body["detail"] == "Internal Server Error"
    assert r.headers["x-request-id"] == body["request_id"]
    assert get(app, "/pid").json()["pid"] == before
    out = app.output()
    assert body["request_id"] in out
    assert "handler exploded on purpose" in out
    assert "GET /boom" in out


def test_unencodable_result_and_bad_header_are_500(app):
    assert get(app, "/badjson").status_code == 500
    data = raw(app.port, b"GET /badheader HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 ")
    assert b"Injected" not in data


def test_keep_alive_and_pipelining(app):
    reqs = b"".join(b"GET /users/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(20))
    reqs += b"GET /users/99 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    resps = parse_responses(raw(app.port, reqs))
    assert [json.loads(b)["id"] for _, _, b in resps] == list(range(20)) + [99]
    assert resps[-1][1]["connection"] == "close"


def test_large_pipelined_burst_keeps_order(app):
    # more responses than one socket buffer: exercises output backpressure
    n = 3000
    reqs = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * n + b"GET /users/7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    resps = parse_responses(raw(app.port, reqs, timeout=20))
    assert len(resps) == n + 1
    assert json.loads(resps[-1][2]) == {"id": 7, "type": "int"}


def test_request_split_byte_by_byte(app):
    req = b"POST /items HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(req)):
            s.send(req[i:i + 1])
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    (status, _, body), = parse_responses(data)
    assert status == 200 and json.loads(body)["len"] == 5


def test_chunked_request_body(app):
    req = (b"POST /items HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    (status, _, body), = parse_responses(raw(app.port, req))
    assert status == 200 and json.loads(body)["len"] == 11


def test_big_body_arrives_in_pieces(app):
    body = b"z" * (3 * 1024 * 1024)
    r = get(app, "/items", method="POST", content=body)
    assert r.json()["len"] == len(body)


def test_expect_100_continue(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(b"POST /items HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert s.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"data")
        (status, _, body), = parse_responses(s.recv(4096))
        assert status == 200 and json.loads(body)["len"] == 4


def test_http10_closes_by_default_and_keeps_alive_when_asked(app):
    data = raw(app.port, b"GET / HTTP/1.0\r\n\r\n")
    assert b"Connection: close" in data
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        for _ in range(3):
            s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            (status, headers, _), = parse_responses(s.recv(4096))
            assert status == 200 and headers["connection"] == "keep-alive"


def test_unknown_method_is_501_and_non_finite_floats_are_422(app):
    data = raw(app.port, b"BREW / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 501 ")
    for bad in ("nan", "inf", "-inf"):
        r = get(app, f"/price/{bad}")
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "finite_number"


def test_idle_connections_let_go_of_big_buffers(serve):
    """A body kept in memory (under --spool-threshold) and an answer as large
    grow the connection's buffers; waiting for its next request, the
    connection lets go of them. 24 idle keep-alive connections that each
    echoed 3 MiB leave the worker's RSS about where one did (holding them
    would be ~6 MiB each)."""
    srv = serve("native_basic:app", "--workers", "1", "--spool-threshold", "4m",
                "--keepalive", "120")  # the first connection waits through all the others
    (worker,) = srv.wait_workers(1)
    body = os.urandom(3 << 20)
    socks: list[socket.socket] = []

    def echo_on_a_new_connection() -> None:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        socks.append(sock)
        sock.sendall(b"PUT /echo/k HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        r = read_response(sock, timeout=20)
        assert r.status == 201 and r.body == body

    try:
        echo_on_a_new_connection()  # the allocator's first big blocks
        before = rss_kib(worker)
        for _ in range(24):
            echo_on_a_new_connection()
        request(socks[0], "/")  # the first connection still serves, with fresh buffers
        grew = (rss_kib(worker) - before) << 10
        if not SANITIZED:  # ASan's quarantine keeps freed blocks resident
            assert grew < 24 << 20, f"worker RSS grew by {grew >> 20} MiB"
    finally:
        for sock in socks:
            sock.close()
