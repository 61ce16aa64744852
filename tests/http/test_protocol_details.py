"""Protocol details an application sees, over real sockets: an absolute-form
target replaces Host (RFC 9112 3.2.2), a list-valued Content-Length reaches
WSGI as the one number it stands for, wsgi.input is terminated, and the
status the worker counts and logs is the one the dispatcher answered with."""

import json
import time

import pytest

from conftest import SLOW, parse_responses, raw


def one(port: int, request: bytes):
    """Sends one request that closes the connection; returns (status, headers, body)."""
    got = parse_responses(raw(port, request))
    assert len(got) == 1, got
    return got[0]


def req(target: bytes, headers: bytes = b"Host: origin.test\r\n", version: bytes = b"1.1",
        method: bytes = b"GET", body: bytes = b"") -> bytes:
    return (method + b" " + target + b" HTTP/" + version + b"\r\n" + headers +
            b"Connection: close\r\n\r\n" + body)


# ---------------------------------------------------------------------------
# absolute-form targets
# ---------------------------------------------------------------------------

def test_native_absolute_form_routes_by_path_and_replaces_host(serve):
    s = serve("protocol_app:app")
    status, _, body = one(s.port, req(b"http://example.com:8080/where?q=1"))
    assert status == 200, body
    assert json.loads(body) == {"path": "/where", "query": "q=1", "host": "example.com:8080",
                                "host_param": "example.com:8080"}
    # origin-form: the Host field as sent
    status, _, body = one(s.port, req(b"/where?q=2"))
    assert json.loads(body) == {"path": "/where", "query": "q=2", "host": "origin.test",
                                "host_param": "origin.test"}


def test_native_absolute_form_supplies_host_to_http10_without_one(serve):
    s = serve("protocol_app:app")
    status, _, body = one(s.port, req(b"https://[::1]/where", headers=b"", version=b"1.0"))
    assert status == 200, body
    assert json.loads(body)["host"] == "[::1]"
    assert json.loads(body)["host_param"] == "[::1]"
    status, _, body = one(s.port, req(b"/where", headers=b"", version=b"1.0"))
    assert json.loads(body)["host"] is None


def test_target_host_fits_when_the_header_limit_is_reached(serve):
    # --max-headers 2 and two fields (one is the Connection: close req() adds):
    # the Host the target supplies still has its place.
    s = serve("protocol_app:app", "--max-headers", "2")
    status, _, body = one(s.port, req(b"http://full.test/where", headers=b"X-A: 1\r\n",
                                      version=b"1.0"))
    assert status == 200, body
    assert json.loads(body)["host"] == "full.test"
    status, _, body = one(s.port, req(b"/where", headers=b"X-A: 1\r\nX-B: 2\r\n", version=b"1.0"))
    assert status == 431, body


@pytest.mark.parametrize("target", [b'http://ex"ample/where', b"http://ex<a>/where",
                                    b"http://user@example/where", b"http://{x}/where"])
def test_absolute_form_authority_must_be_a_host(serve, target):
    s = serve("protocol_app:app")
    status, _, body = one(s.port, req(target))
    assert status == 400, body
    assert b"request target" in body


def test_wsgi_absolute_form_sets_host_server_name_and_port(serve):
    s = serve("wsgi_apps:echo", "--wsgi")
    cases = [
        (b"http://example.com:8080/p/a%20th?q=1", "example.com:8080", "example.com", "8080"),
        (b"https://example.com/p/a%20th?q=1", "example.com", "example.com", "443"),
        (b"http://example.com/p/a%20th?q=1", "example.com", "example.com", "80"),
        (b"http://[2001:db8::1]:81/p/a%20th?q=1", "[2001:db8::1]:81", "[2001:db8::1]", "81"),
        (b"http://[2001:db8::1]/p/a%20th?q=1", "[2001:db8::1]", "[2001:db8::1]", "80"),
        (b"http://example.com:/p/a%20th?q=1", "example.com:", "example.com", "80"),
    ]
    for target, host, name, port in cases:
        status, _, body = one(s.port, req(target))
        assert status == 200, (target, body)
        env = json.loads(body)
        assert (env["http"]["HTTP_HOST"], env["SERVER_NAME"], env["SERVER_PORT"]) == \
            (host, name, port), target
        assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/p/a th", "q=1")
    # HTTP/1.0 without a Host field gets the target's
    status, _, body = one(s.port, req(b"http://example.org/x", headers=b"", version=b"1.0"))
    env = json.loads(body)
    assert (env["http"]["HTTP_HOST"], env["SERVER_NAME"], env["SERVER_PORT"]) == \
        ("example.org", "example.org", "80")
    # origin-form keeps the configured SERVER_NAME / SERVER_PORT and the Host as sent
    status, _, body = one(s.port, req(b"/x"))
    env = json.loads(body)
    assert (env["http"]["HTTP_HOST"], env["SERVER_NAME"], env["SERVER_PORT"]) == \
        ("origin.test", "127.0.0.1", str(s.port))


# ---------------------------------------------------------------------------
# Content-Length and wsgi.input
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [b"Content-Length: 5, 5\r\n", b"Content-Length: 5,5\r\n",
                                    b"Content-Length: 5\r\nContent-Length: 5\r\n",
                                    b"Content-Length: 005\r\n"])
def test_wsgi_content_length_is_the_number_the_parser_accepted(serve, fields):
    s = serve("wsgi_apps:echo", "--wsgi")
    status, _, body = one(s.port, req(b"/cl", headers=b"Host: t\r\n" + fields, method=b"POST",
                                      body=b"hello"))
    assert status == 200, body
    env = json.loads(body)
    assert env["CONTENT_LENGTH"] == "5"
    assert env["body"] == "hello"
    assert "HTTP_CONTENT_LENGTH" not in env["http"]


def test_wsgi_input_is_terminated(serve):
    s = serve("protocol_app:read_all", "--wsgi")
    # Content-Length body, then a chunked one, then none, pipelined on one
    # connection: read() to EOF returns each body and never the next request.
    data = (b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
            b"POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            b"GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    got = parse_responses(raw(s.port, data))
    assert [st for st, _, _ in got] == [200, 200, 200], got
    docs = [json.loads(b) for _, _, b in got]
    assert [d["terminated"] for d in docs] == [True, True, True]
    assert [(d["body"], d["content_length"]) for d in docs] == \
        [("hello", "5"), ("abcde", "5"), ("", None)]


def test_wsgi_echo_reports_input_terminated(serve):
    s = serve("wsgi_apps:echo", "--wsgi")  # under wsgiref's validator
    status, _, body = one(s.port, req(b"/e"))
    assert status == 200, body
    assert json.loads(body)["wsgi.input_terminated"] is True


# ---------------------------------------------------------------------------
# the status the worker counts and logs
# ---------------------------------------------------------------------------

def read_log(path, want: int, timeout: float = 10):
    """The access records (less the fixture's readiness probes) once `want`
    of them are written."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        recs = [r for r in map(json.loads, lines) if r["path"] != "/__ready"]
        if len(recs) >= want or time.monotonic() > deadline:
            return recs
        time.sleep(0.02)


def check_logged_statuses(s, log, requests):
    """Sends each request; the access log must hold each with the status on the wire."""
    sent = []
    for request in requests:
        status, _, _ = one(s.port, request)
        sent.append((request.split(b" ")[1].decode(), status))
    recs = read_log(log, len(sent))
    assert [(r["path"], r["status"]) for r in recs] == sent
    return [st for _, st in sent]


def test_native_status_in_access_log_is_the_answered_one(serve, tmp_path):
    log = tmp_path / "access.log"
    s = serve("protocol_app:app", "--access-log", str(log))
    post = lambda body: req(b"/count", method=b"POST", body=body,
                            headers=b"Host: t\r\nContent-Length: %d\r\n" % len(body))
    requests = [req(b"/status/%d" % c) for c in (201, 204, 299, 418, 999, 103)] + [
        req(b"/nowhere"), req(b"/boom"), req(b"/where", method=b"DELETE"),
        req(b"/where", method=b"BREW"), post(b"{"), post(b'{"a":"x"}'), post(b'{"a":1}'),
        req(b"/_frostfork/health"), req(b"/_frostfork/nope")]
    statuses = check_logged_statuses(s, log, requests)
    assert statuses == [201, 204, 299, 418, 999, 103, 404, 500, 405, 501, 400, 422, 200, 200,
                        404]


def test_wsgi_status_in_access_log_is_the_answered_one(serve, tmp_path):
    log = tmp_path / "access.log"
    s = serve("wsgi_apps:status", "--wsgi", "--access-log", str(log))
    statuses = check_logged_statuses(s, log, [req(b"/%d" % c) for c in (201, 204, 418, 599)])
    assert statuses == [201, 204, 418, 599]
    log2 = tmp_path / "access2.log"
    s2 = serve("protocol_app:zero_status", "--wsgi", "--access-log", str(log2))
    assert check_logged_statuses(s2, log2, [req(b"/zero")]) == [500]
