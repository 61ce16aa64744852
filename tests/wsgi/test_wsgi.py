"""The WSGI (PEP 3333) side of the server, over real sockets.

Apps live in tests/apps/wsgi_apps.py. The plain ones are wrapped in
wsgiref.validate.validator: any PEP 3333 violation by the server (environ
types, wsgi.input, close() protocol...) raises AssertionError inside the app,
which the server answers with 500, so every "== 200" below also means "the
validator found nothing to complain about".
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from conftest import SLOW, parse_responses, pending, raw, read_response

MARKER_ENV = "FROSTFORK_TEST_MARKER_DIR"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def wsgi(serve, name: str, *args: str, **kw):
    return serve(f"wsgi_apps:{name}", "--wsgi", *args, **kw)


def url(s, path: str = "/") -> str:
    return f"http://127.0.0.1:{s.port}{path}"


def client(**kw) -> httpx.Client:
    return httpx.Client(timeout=10 * SLOW, **kw)


def assert_nothing_pending(sock: socket.socket) -> None:
    assert pending(sock) == b"", f"unexpected bytes: {pending(sock)[:200]!r}"


def hget(headers, name: str):
    vals = [v for k, v in headers if k == name.lower()]
    assert len(vals) <= 1, f"{name} sent {len(vals)} times: {vals}"
    return vals[0] if vals else None


def is_closed(sock: socket.socket, wait: float = 0.5) -> bool:
    """True when the server has closed its side (EOF/RST) within `wait`."""
    assert_nothing_pending(sock)
    sock.settimeout(wait * SLOW)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def assert_serves_next(sock: socket.socket, path: str, status: int, body: bytes) -> None:
    """The connection is still open and in step: one more request (the last:
    Connection: close) gets exactly its own response, and then the close.
    Stray bytes left by an earlier response would be read in its place."""
    assert_nothing_pending(sock)
    sock.sendall(get(path, b"Connection: close\r\n"))
    r = read_response(sock)
    assert (r.status, r.body) == (status, body), r
    assert r.header("connection") == "close"
    assert is_closed(sock, wait=3)


def connect(s) -> socket.socket:
    return socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW)


def get(path: str, extra: bytes = b"", method: bytes = b"GET") -> bytes:
    return method + b" " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"


def marker(tmp_path, name: str) -> list[str]:
    p = tmp_path / name
    return p.read_text().splitlines() if p.exists() else []


def check_500(s, status, headers, body, reason_in_log: str):
    assert status == 500
    assert hget(headers, "content-type") == "application/json"
    doc = json.loads(body)
    assert doc["detail"] == "Internal Server Error"
    rid = doc["request_id"]
    assert isinstance(rid, str) and rid
    assert hget(headers, "x-request-id") == rid
    assert int(hget(headers, "content-length")) == len(body)
    # The id ties the response to the traceback in the log.
    out = s.wait_output(rid)
    assert reason_in_log in out, out
    return rid


# ---------------------------------------------------------------------------
# plain apps
# ---------------------------------------------------------------------------

def test_hello_status_headers_body(serve):
    s = wsgi(serve, "hello")
    with client() as c:
        r = c.get(url(s, "/anything"))
    assert r.status_code == 200
    assert r.reason_phrase == "OK"
    assert r.content == b"Hello, World!"
    assert r.headers["content-length"] == "13"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["x-app"] == "hello"
    assert r.headers["server"] == "frostfork"
    assert r.headers["date"].endswith(" GMT")
    assert "transfer-encoding" not in r.headers


def test_response_head_bytes_are_exact(serve):
    s = wsgi(serve, "hello")
    with connect(s) as sock:
        sock.sendall(get("/"))
        status, reason, headers, body, head = read_response(sock)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body == b"Hello, World!"
    names = [k for k, _ in headers]
    assert names.count("content-length") == 1
    assert names.count("content-type") == 1
    assert "connection" not in names  # HTTP/1.1 keep-alive is the default


def test_echo_environ_basic(serve):
    s = wsgi(serve, "echo")
    with connect(s) as sock:
        sock.sendall(b"GET /some/path?a=1&b=%20x HTTP/1.1\r\nHost: example.test:8080\r\n"
                     b"X-Custom-Header: custom value\r\nAccept: */*\r\n\r\n")
        status, _, headers, body, _ = read_response(sock)
        local_port = sock.getsockname()[1]
    assert status == 200, body
    env = json.loads(body)
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/some/path"
    assert env["QUERY_STRING"] == "a=1&b=%20x"  # the query string is not decoded
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(s.port)
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(local_port)
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.multithread"] is False
    assert env["wsgi.multiprocess"] is True
    assert env["wsgi.run_once"] is False
    assert env["http"]["HTTP_HOST"] == "example.test:8080"
    assert env["http"]["HTTP_X_CUSTOM_HEADER"] == "custom value"
    assert env["http"]["HTTP_ACCEPT"] == "*/*"
    assert env.get("CONTENT_LENGTH", "") in ("", "0")
    assert env["body"] == "" and env["body_len"] == 0
    assert env["non_str_keys"] == []
    assert "HTTP_CONTENT_TYPE" not in env["http"] and "HTTP_CONTENT_LENGTH" not in env["http"]


def test_echo_path_info_is_percent_decoded_latin1(serve):
    s = wsgi(serve, "echo")
    with connect(s) as sock:
        sock.sendall(get("/a%20b/%C3%A9/x%2Fy/%7e?q=%C3%A9"))
        status, _, _, body, _ = read_response(sock)
    assert status == 200, body
    env = json.loads(body)
    # PEP 3333: PATH_INFO holds the decoded bytes, one str char per byte.
    assert env["PATH_INFO"] == "/a b/\xc3\xa9/x/y/~"
    assert env["QUERY_STRING"] == "q=%C3%A9"


def test_echo_post_body_content_type_and_length(serve):
    s = wsgi(serve, "echo")
    payload = b'{"k": "v", "n": 1}'
    with client() as c:
        r = c.post(url(s, "/submit"), content=payload,
                   headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text
    env = r.json()
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_TYPE"] == "application/json; charset=utf-8"
    assert env["CONTENT_LENGTH"] == str(len(payload))
    assert env["body"] == payload.decode()
    assert env["body_len"] == len(payload)


def test_echo_binary_body_roundtrip(serve):
    s = wsgi(serve, "echo")
    payload = bytes(range(256)) * 4
    with client() as c:
        r = c.put(url(s, "/bin"), content=payload,
                  headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert r.json()["body"].encode("latin-1") == payload


def test_echo_large_body(serve):
    s = wsgi(serve, "echo")
    payload = bytes(range(97, 123)) * 40000  # ~1 MB
    with client() as c:
        r = c.post(url(s, "/big"), content=payload)
    assert r.status_code == 200
    env = r.json()
    assert env["body_len"] == len(payload)
    assert env["body"].encode("latin-1") == payload


def test_echo_http10_protocol(serve):
    s = wsgi(serve, "echo")
    with connect(s) as sock:
        sock.sendall(b"GET /v HTTP/1.0\r\n\r\n")
        status, _, headers, body, _ = read_response(sock)
        assert is_closed(sock, wait=3)  # HTTP/1.0 without keep-alive closes
    assert status == 200
    assert json.loads(body)["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert hget(headers, "connection") == "close"


def test_echo_header_mapping(serve):
    s = wsgi(serve, "echo")
    with connect(s) as sock:
        sock.sendall(get("/h", b"X-Dup: a\r\nX-Dup: b\r\nX_Sneaky: 1\r\n"
                               b"Content-Type: text/x-test\r\nx-lower-case: v\r\n"))
        status, _, _, body, _ = read_response(sock)
    assert status == 200, body
    env = json.loads(body)
    assert env["http"]["HTTP_X_DUP"] == "a,b"
    assert env["http"]["HTTP_X_LOWER_CASE"] == "v"
    # A name with '_' could impersonate X-Sneaky after the mapping: dropped.
    assert "HTTP_X_SNEAKY" not in env["http"]
    assert env["CONTENT_TYPE"] == "text/x-test"
    assert "HTTP_CONTENT_TYPE" not in env["http"]


def test_chunked_request_body_reaches_wsgi_input_raw(serve):
    s = wsgi(serve, "echo")
    with connect(s) as sock:
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: text/plain\r\n\r\n"
                     b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n")
        status, _, _, body, _ = read_response(sock)
        # The connection stays usable after a chunked request.
        sock.sendall(get("/after"))
        status2, _, _, body2, _ = read_response(sock)
    assert status == 200, body
    env = json.loads(body)
    assert env["body"] == "hello world!"
    assert env["CONTENT_LENGTH"] == "12"
    assert "HTTP_TRANSFER_ENCODING" in env["http"]
    assert "HTTP_X_TRAILER" not in env["http"]
    assert status2 == 200 and json.loads(body2)["PATH_INFO"] == "/after"


def test_chunked_request_body_split_across_reads(serve):
    s = wsgi(serve, "echo")
    msg = (b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")
    with connect(s) as sock:
        for i in range(0, len(msg), 7):  # bounded: ~14 pieces
            sock.sendall(msg[i:i + 7])
            time.sleep(0.005)  # the behaviour under test: pieces in separate reads
        status, _, _, body, _ = read_response(sock)
    assert status == 200, body
    assert json.loads(body)["body"] == "abc0123456789abcdef"


def test_chunked_request_body_via_httpx_stream(serve):
    s = wsgi(serve, "echo")
    parts = [b"x" * 1000, b"y" * 70000, b"z"]

    def gen():
        yield from parts

    with client() as c:
        r = c.post(url(s, "/stream"), content=gen())
    assert r.status_code == 200, r.text
    env = r.json()
    assert env["http"].get("HTTP_TRANSFER_ENCODING") == "chunked"
    assert env["body_len"] == 71001
    assert env["body"] == "x" * 1000 + "y" * 70000 + "z"


def test_keepalive_reuses_one_connection(serve):
    s = wsgi(serve, "echo")
    ports = set()
    with client(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)) as c:
        for i in range(6):
            r = c.get(url(s, f"/req/{i}"))
            assert r.status_code == 200
            env = r.json()
            assert env["PATH_INFO"] == f"/req/{i}"
            ports.add(env["REMOTE_PORT"])
    assert len(ports) == 1, f"expected one connection, saw client ports {ports}"


def test_keepalive_raw_sequential_requests(serve):
    s = wsgi(serve, "hello")
    with connect(s) as sock:
        for i in range(10):
            sock.sendall(get(f"/{i}"))
            status, _, headers, body, _ = read_response(sock)
            assert (status, body) == (200, b"Hello, World!")
            assert hget(headers, "connection") is None
        assert_serves_next(sock, "/last", 200, b"Hello, World!")


def test_pipelined_requests_answered_in_order(serve):
    s = wsgi(serve, "echo")
    data = b"".join(get(f"/p{i}") for i in range(3))
    out = raw(s.port, data + get("/last", b"Connection: close\r\n"))
    resps = parse_responses(out)
    assert [r[0] for r in resps] == [200] * 4
    assert [json.loads(r[2])["PATH_INFO"] for r in resps] == ["/p0", "/p1", "/p2", "/last"]
    assert resps[-1][1]["connection"] == "close"


def test_connection_close_honoured(serve):
    s = wsgi(serve, "hello")
    with connect(s) as sock:
        sock.sendall(get("/", b"Connection: close\r\n"))
        status, _, headers, body, _ = read_response(sock)
        assert is_closed(sock, wait=3)
    assert status == 200 and body == b"Hello, World!"
    assert hget(headers, "connection") == "close"


def test_head_has_no_body_but_same_content_length(serve):
    s = wsgi(serve, "hello")
    with connect(s) as sock:
        sock.sendall(get("/"))
        _, _, gh, gbody, _ = read_response(sock)
        sock.sendall(get("/", method=b"HEAD"))
        status, _, hh, hbody, _ = read_response(sock, head=True)
        # If HEAD had leaked a body, it would be parsed as the next response.
        sock.sendall(get("/again"))
        status3, _, _, body3, _ = read_response(sock)
        assert_serves_next(sock, "/last", 200, b"Hello, World!")
    assert status == 200
    assert hbody == b""
    assert hget(hh, "content-length") == hget(gh, "content-length") == str(len(gbody)) == "13"
    assert hget(hh, "content-type") == hget(gh, "content-type")
    assert (status3, body3) == (200, b"Hello, World!")


def test_head_uses_app_content_length_when_app_sends_no_body(serve):
    s = wsgi(serve, "head_aware")
    with connect(s) as sock:
        sock.sendall(get("/", method=b"HEAD"))
        status, _, hh, hbody, _ = read_response(sock, head=True)
        sock.sendall(get("/"))
        gstatus, _, gh, gbody, _ = read_response(sock)
    assert (status, hbody) == (200, b"")
    assert hget(hh, "content-length") == "1234"
    assert gstatus == 200 and gbody == b"x" * 1234 and hget(gh, "content-length") == "1234"


def test_head_via_httpx(serve):
    s = wsgi(serve, "echo")
    with client() as c:
        g = c.get(url(s, "/x"))
        h = c.head(url(s, "/x"))
    assert h.status_code == 200 and h.content == b""
    # The body echoes REQUEST_METHOD, so its length differs by one byte per
    # letter: compute what the GET body would be for HEAD.
    assert int(h.headers["content-length"]) == len(g.content) + len("HEAD") - len("GET")


def test_app_content_length_is_replaced_by_the_real_one(serve):
    s = wsgi(serve, "wrong_length")
    with connect(s) as sock:
        sock.sendall(get("/"))
        status, _, headers, body, _ = read_response(sock)
        sock.sendall(get("/"))
        status2, _, _, body2, _ = read_response(sock)
    assert status == 200
    assert body == b"only eleven"
    assert hget(headers, "content-length") == "11"
    assert (status2, body2) == (200, b"only eleven")


@pytest.mark.parametrize("code,reason", [(201, "Created"), (404, "Not Found"),
                                         (418, "I'm a teapot"), (599, "Custom Reason")])
def test_status_line_and_reason_from_app(serve, code, reason):
    s = wsgi(serve, "status")
    with connect(s) as sock:
        sock.sendall(get(f"/{code}"))
        status, got_reason, headers, body, head = read_response(sock)
    assert head.startswith(f"HTTP/1.1 {code} {reason}\r\n".encode())
    assert status == code and got_reason == reason
    assert body == b"status %d" % code


@pytest.mark.parametrize("code", [204, 304])
def test_no_body_statuses(serve, code):
    s = wsgi(serve, "status")
    with connect(s) as sock:
        sock.sendall(get(f"/{code}"))
        status, _, headers, body, _ = read_response(sock)
        sock.sendall(get("/200"))
        status2, _, _, body2, _ = read_response(sock)
        assert_serves_next(sock, "/200", 200, b"status 200")
    assert status == code and body == b""
    if code == 204:
        assert hget(headers, "content-length") is None  # RFC 9110 8.6
    assert (status2, body2) == (200, b"status 200")


def test_legacy_write_callable(serve):
    s = wsgi(serve, "legacy_write")
    with client() as c:
        r = c.get(url(s, "/"))
    assert r.status_code == 200
    assert r.content == b"written-1 written-2 returned"
    assert r.headers["content-length"] == str(len(b"written-1 written-2 returned"))


def test_repeated_headers_kept_separate(serve):
    s = wsgi(serve, "many_headers")
    with connect(s) as sock:
        sock.sendall(get("/"))
        status, _, headers, body, _ = read_response(sock)
    assert status == 200 and body == b"cookies"
    assert [v for k, v in headers if k == "set-cookie"] == ["c0=0", "c1=1", "c2=2"]


def test_large_response_body(serve):
    s = wsgi(serve, "big")
    n = 1_000_003
    with client() as c:
        r = c.get(url(s, f"/?n={n}"))
    assert r.status_code == 200
    # past 64 KiB an iterable without a Content-Length is streamed, chunked (issue 16)
    assert r.headers["transfer-encoding"] == "chunked" and "content-length" not in r.headers
    assert len(r.content) == n
    assert r.content[:1000] == b"a" * 1000 and r.content.endswith(b"b" * 1003)


def test_pipelined_large_responses_past_the_output_high_water_mark(serve):
    s = wsgi(serve, "big")
    sizes = [700_001, 300_002, 900_003]
    data = b"".join(get(f"/?n={n}") for n in sizes) + get("/?n=5", b"Connection: close\r\n")
    with connect(s) as sock:
        sock.sendall(data)
        for n in sizes + [5]:
            status, _, headers, body, _ = read_response(sock, timeout=20)
            assert status == 200
            assert len(body) == n  # chunked past 64 KiB, with a Content-Length below
            assert hget(headers, "content-length") == (str(n) if n < 65536 else None)
        assert is_closed(sock, wait=3)


def test_expect_100_continue_reaches_wsgi_app(serve):
    s = wsgi(serve, "echo")
    with connect(s) as sock:
        sock.sendall(b"PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        sock.settimeout(5 * SLOW)
        interim = b""
        while b"\r\n\r\n" not in interim and len(interim) < 1000:
            chunk = sock.recv(1000)
            assert chunk, "closed before the interim response"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"payload")
        status, _, _, body, _ = read_response(sock)
    assert status == 200
    env = json.loads(body)
    assert env["body"] == "payload" and env["http"]["HTTP_EXPECT"] == "100-continue"


def test_close_called_on_iterable(serve, tmp_path):
    s = wsgi(serve, "closing", env={MARKER_ENV: str(tmp_path)})
    with client() as c:
        r = c.get(url(s, "/?marker=m1"))
        assert r.status_code == 200
        assert r.content == b"one two three"
        assert r.headers["content-length"] == "13"
        assert marker(tmp_path, "m1") == ["exhausted", "closed"]
        r2 = c.get(url(s, "/?marker=m2"))
        assert r2.status_code == 200
    assert marker(tmp_path, "m2") == ["exhausted", "closed"]
    assert "garbage collected without being closed" not in s.output()


def test_close_called_for_head(serve, tmp_path):
    s = wsgi(serve, "closing", env={MARKER_ENV: str(tmp_path)})
    with client() as c:
        r = c.head(url(s, "/?marker=h"))
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == "13"
    assert marker(tmp_path, "h")[-1] == "closed"
    assert marker(tmp_path, "h").count("closed") == 1


def test_generator_app(serve, tmp_path):
    s = wsgi(serve, "generator", env={MARKER_ENV: str(tmp_path)})
    with client() as c:
        r = c.get(url(s, "/?marker=g"))
    assert r.status_code == 200
    assert r.content == b"chunk0;chunk1;chunk2;chunk3;chunk4;"
    assert r.headers["content-length"] == "35"
    assert marker(tmp_path, "g") == ["generator-finally"]


@pytest.mark.parametrize("query", ["", "after_start=1"])
def test_app_exception_gives_500_with_request_id_and_server_survives(serve, query):
    s = wsgi(serve, "raises")
    with connect(s) as sock:
        sock.sendall(get(f"/fail?{query}"))
        status, _, headers, body, _ = read_response(sock)
        rid = check_500(s, status, headers, body, "wsgi app exploded on purpose")
        # Same connection, next request: still served.
        sock.sendall(get("/fail"))
        status2, _, headers2, body2, _ = read_response(sock)
        rid2 = check_500(s, status2, headers2, body2, "wsgi app exploded on purpose")
    assert rid2 != rid
    # A fresh connection to the same server still works too.
    with client() as c:
        r = c.get(url(s, "/fail"))
    assert r.status_code == 500 and r.json()["request_id"] not in (rid, rid2)


def test_server_keeps_serving_after_exception(serve):
    s = wsgi(serve, "raises")
    with client() as c:
        for _ in range(5):
            assert c.get(url(s, "/")).status_code == 500
    # The worker is still alive and the same app answers (validator wrapper included).
    assert len(s.workers()) == 1
    out = raw(s.port, get("/", b"Connection: close\r\n"))
    assert parse_responses(out)[0][0] == 500


def test_head_of_failing_app_has_no_body(serve):
    s = wsgi(serve, "raises")
    with connect(s) as sock:
        sock.sendall(get("/", method=b"HEAD"))
        status, _, headers, body, _ = read_response(sock, head=True)
        sock.sendall(get("/", method=b"HEAD"))
        status2, _, _, body2, _ = read_response(sock, head=True)
    assert (status, body, status2, body2) == (500, b"", 500, b"")
    assert int(hget(headers, "content-length")) > 0


def test_iterable_raising_midway_still_closes(serve, tmp_path):
    s = wsgi(serve, "iter_raises", env={MARKER_ENV: str(tmp_path)})
    with connect(s) as sock:
        sock.sendall(get("/?marker=r"))
        status, _, headers, body, _ = read_response(sock)
        check_500(s, status, headers, body, "iterable exploded on purpose")
        assert b"first" not in body  # no half body, one well-framed 500
        assert marker(tmp_path, "r") == ["raising", "closed"]
        sock.sendall(get("/?marker=r2"))
        status2, _, _, _, _ = read_response(sock)
    assert status2 == 500
    assert marker(tmp_path, "r2") == ["raising", "closed"]
    assert "garbage collected without being closed" not in s.output()


@pytest.mark.parametrize("query", ["", "first=1"])
def test_start_response_with_exc_info(serve, query):
    s = wsgi(serve, "exc_info")
    with connect(s) as sock:
        sock.sendall(get(f"/?{query}"))
        status, reason, headers, body, _ = read_response(sock)
        sock.sendall(get("/?first=1"))
        status2, _, _, _, _ = read_response(sock)
    assert status == 500 and reason == "Internal Server Error"
    assert body == b"error page from the app"  # the app's error page, not the server's
    assert hget(headers, "x-stage") == "error"  # the first call's headers are gone
    assert hget(headers, "content-type") == "text/plain"
    assert hget(headers, "x-request-id") is None
    assert status2 == 500


@pytest.mark.parametrize("app", ["non_bytes_body", "no_start_response", "bad_status",
                                 "double_start"])
def test_protocol_violations_by_app_give_500(serve, app):
    s = wsgi(serve, app)
    with connect(s) as sock:
        sock.sendall(get("/"))
        status, _, headers, body, _ = read_response(sock)
        assert status == 500
        assert "request_id" in json.loads(body)
        sock.sendall(get("/"))
        assert read_response(sock).status == 500
    assert s.proc.poll() is None


INJECTIONS = ["crlf-value", "lf-value", "cr-value", "nul-value", "crlf-name", "colon-name",
              "body-split", "crlf-status", "lf-status"]


@pytest.mark.parametrize("how", INJECTIONS)
def test_response_splitting_is_refused(serve, how):
    s = wsgi(serve, "header_injection")
    with connect(s) as sock:
        sock.sendall(get(f"/?{how}"))
        status, reason, headers, body, head = read_response(sock)
        # The same connection must carry exactly one response for one
        # request: the follow-up's answer is the next thing on the wire.
        sock.sendall(get("/"))
        status2, _, headers2, body2, _ = read_response(sock)
        # and nothing after the second response: the next one is in step too
        assert_serves_next(sock, "/", 200, b"safe body")
    assert b"Injected" not in head, head
    assert "injected" not in [k for k, _ in headers]
    assert status == 500, (status, reason, head)
    assert "request_id" in json.loads(body)
    assert (status2, body2) == (200, b"safe body")
    assert hget(headers2, "x-evil") is None


def test_latin1_header_value_sent_as_latin1(serve):
    s = wsgi(serve, "latin1_header")
    with connect(s) as sock:
        sock.sendall(get("/"))
        status, _, headers, body, head = read_response(sock)
    assert status == 200 and body == b"ok"
    assert b"\r\nX-Latin: caf\xe9\r\n" in head + b"\r\n", head


def test_non_latin1_header_value_is_refused(serve):
    s = wsgi(serve, "latin1_header")
    with connect(s) as sock:
        sock.sendall(get("/?snowman"))
        status, _, headers, body, head = read_response(sock)
        sock.sendall(get("/"))
        status2, _, _, _, _ = read_response(sock)
    assert b"\xe2\x98\x83" not in head
    assert status == 500, head
    assert status2 == 200


def test_wsgi_server_with_several_workers(serve):
    s = wsgi(serve, "echo", "--workers", "2")
    s.wait_workers(2)
    pids = set()
    for i in range(8):  # new connections, spread by the kernel
        out = raw(s.port, get(f"/w{i}", b"Connection: close\r\n"))
        (status, _, body), = parse_responses(out)
        assert status == 200
        env = json.loads(body)
        assert env["PATH_INFO"] == f"/w{i}"
        pids.add(env["pid"])
    assert pids <= set(s.workers())


# ---------------------------------------------------------------------------
# Flask
# ---------------------------------------------------------------------------

@pytest.fixture
def flask_server(serve):
    return wsgi(serve, "flask_app")


def test_flask_json_route(flask_server):
    with client() as c:
        r = c.get(url(flask_server, "/api/hello"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"message": "Hello from Flask", "unicode": "h\u00e9llo \u2603"}
    assert int(r.headers["content-length"]) == len(r.content)


def test_flask_int_converter(flask_server):
    with client() as c:
        r = c.get(url(flask_server, "/api/items/42"))
        bad = c.get(url(flask_server, "/api/items/abc"))
        neg = c.get(url(flask_server, "/api/items/-1"))
    assert r.status_code == 200 and r.json() == {"id": 42, "type": "int"}
    assert bad.status_code == 404
    assert neg.status_code == 404  # Flask's int converter takes no sign


def test_flask_post_json_echo(flask_server):
    payload = {"name": "frost", "list": [1, 2, 3], "nested": {"ok": True}, "u": "\u00e9"}
    with client() as c:
        r = c.post(url(flask_server, "/api/echo"), json=payload)
    assert r.status_code == 201
    assert r.json() == {"received": payload, "content_type": "application/json"}


def test_flask_post_json_chunked(flask_server):
    body = json.dumps({"chunked": True, "pad": "p" * 5000}).encode()

    def gen():
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]

    with client() as c:
        r = c.post(url(flask_server, "/api/echo"), content=gen(),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 201
    assert r.json()["received"] == {"chunked": True, "pad": "p" * 5000}


def test_flask_post_invalid_json_is_400(flask_server):
    with client() as c:
        r = c.post(url(flask_server, "/api/echo"), content=b"{not json",
                   headers={"Content-Type": "application/json"})
        r2 = c.post(url(flask_server, "/api/echo"), content=b"{}",
                    headers={"Content-Type": "text/plain"})
    assert r.status_code == 400
    assert r2.status_code == 415  # Flask >= 2.3: get_json() needs a JSON content type


def test_flask_404_and_405(flask_server):
    with client() as c:
        r = c.get(url(flask_server, "/api/nope"))
        m = c.delete(url(flask_server, "/api/hello"))
    assert r.status_code == 404
    assert b"Not Found" in r.content
    assert m.status_code == 405
    assert set(x.strip() for x in m.headers["allow"].split(",")) >= {"GET", "HEAD", "OPTIONS"}


def test_flask_abort_403(flask_server):
    with client() as c:
        r = c.get(url(flask_server, "/api/forbidden"))
    assert r.status_code == 403
    assert b"Forbidden" in r.content


def test_flask_redirect(flask_server):
    with client() as c:
        r = c.get(url(flask_server, "/api/redirect"))
        assert r.status_code == 302
        assert r.headers["location"] == "/api/hello"
        followed = c.get(url(flask_server, "/api/redirect"), follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json()["message"] == "Hello from Flask"


def test_flask_query_args_and_headers(flask_server):
    with client() as c:
        r = c.get(url(flask_server, "/api/search?q=h%C3%A9&tag=a&tag=b"),
                  headers={"User-Agent": "frostfork-tests/1"})
    assert r.status_code == 200
    assert r.json() == {"q": "h\u00e9", "tags": ["a", "b"], "path": "/api/search",
                        "ua": "frostfork-tests/1"}


def test_flask_percent_encoded_path(flask_server):
    # Werkzeug re-decodes PATH_INFO (latin-1 bytes) as UTF-8: a route
    # reached through an escaped path must work.
    with client() as c:
        r = c.get(url(flask_server, "/api/%69tems/7"))
    assert r.status_code == 200 and r.json()["id"] == 7


def test_flask_view_exception_is_flask_500(flask_server):
    with client() as c:
        r = c.get(url(flask_server, "/api/crash"))
        after = c.get(url(flask_server, "/api/hello"))
    # Flask handles its own exceptions: its 500 page, not the server's.
    assert r.status_code == 500
    assert "request_id" not in r.text
    assert after.status_code == 200


def test_flask_204(flask_server):
    with connect(flask_server) as sock:
        sock.sendall(get("/api/created"))
        status, _, headers, body, _ = read_response(sock)
        sock.sendall(get("/api/hello"))
        status2, _, _, body2, _ = read_response(sock)
    assert status == 204 and body == b""
    assert status2 == 200 and json.loads(body2)["message"] == "Hello from Flask"


def test_flask_head(flask_server):
    with client() as c:
        g = c.get(url(flask_server, "/api/items/5"))
        h = c.head(url(flask_server, "/api/items/5"))
    assert h.status_code == 200 and h.content == b""
    assert h.headers["content-length"] == g.headers["content-length"]


def test_flask_keepalive_many_requests(flask_server):
    with client(limits=httpx.Limits(max_connections=1)) as c:
        for i in range(20):
            r = c.get(url(flask_server, f"/api/items/{i}"))
            assert r.status_code == 200 and r.json()["id"] == i
