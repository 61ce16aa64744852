"""frostfork._core.Engine: the whole request path from bytes to bytes without a
socket. Every answer must equal the one the socket server gives for the same
bytes (one path, two fronts), and the request's cleanup must have run."""

from __future__ import annotations

import socket
import sys

import pytest

from conftest import ROOT, read_response

sys.path.insert(0, str(ROOT / "tests" / "apps"))

from frostfork import _core  # noqa: E402

import typed_app  # noqa: E402
import wsgi_apps  # noqa: E402

USER = b'{"name":"alice","password":"correct horse battery","age":30,"addresses":[{"city":"Oslo","zip":"01234"}]}'

REQUESTS = [
    b"POST /users/echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(USER), USER),
    b'POST /users/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 13\r\n\r\n{"name":"Al"}',
    b"POST /users/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n{nope",
    b"POST /users/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, USER[:10], len(USER) - 10, USER[10:]),
    b"GET /search?q=hello&page=2&tag=a&tag=b HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /search?page=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /whoami HTTP/1.1\r\nHost: t\r\nUser-Agent: eng/1\r\nCookie: session=s1\r\n\r\n",
    b"GET /raw HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
    b"DELETE /search HTTP/1.1\r\nHost: t\r\n\r\n",
    b"HEAD /search?q=hello HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET http://other.example/raw HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /raw HTTP/1.1\r\n\r\n",
    b"BREW /raw HTTP/1.1\r\nHost: t\r\n\r\n",
    b"garbage\r\n\r\n",
]


def _comparable(status: int, headers: list[tuple[bytes, bytes]], body: bytes):
    return status, [(k.lower(), v) for k, v in headers if k.lower() != b"date"], body


@pytest.fixture(scope="module")
def engine():
    return _core.Engine(typed_app.app._compile())


def test_engine_answers_like_the_socket_server(serve, engine):
    srv = serve("typed_app:app")
    port = srv.wait_banner()
    for req in REQUESTS:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(req)
            resp = read_response(sock, head=req.startswith(b"HEAD"))
        status, headers, body = engine.handle(req)
        wire_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers]
        assert _comparable(status, headers, body) == _comparable(resp.status, wire_headers,
                                                                 resp.body), req


def test_request_cleanup_runs_before_handle_returns(engine):
    typed_app.CLOSED.clear()
    before = typed_app.Settings.instances
    status, _, body = engine.handle(b"GET /items/7 HTTP/1.1\r\nHost: t\r\nX-Request-Id: r-1\r\n\r\n")
    assert status == 200 and b'"db":"r-1"' in body
    # an app-scoped dependency is made once for the engine, like once per worker
    engine.handle(b"GET /items/8 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert typed_app.Settings.instances - before <= 1


def test_handler_exception_is_a_500_or_raised(engine):
    status, headers, body = engine.handle(b"GET /fail/x HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 500 and b"request_id" in body
    with pytest.raises(RuntimeError, match="failed with y"):
        engine.handle(b"GET /fail/y HTTP/1.1\r\nHost: t\r\n\r\n", raise_errors=True)
    # the engine goes on answering after both
    assert engine.handle(b"GET /search?q=ok HTTP/1.1\r\nHost: t\r\n\r\n")[0] == 200


def test_incomplete_bytes_are_refused_not_guessed(engine):
    for part in (b"GET /raw HTTP/1.1\r\nHost: t\r\n",
                 b"POST /users/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{}",
                 b"POST /users/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n"):
        with pytest.raises(ValueError, match="not a complete HTTP request"):
            engine.handle(part)


def test_raw_bytes_and_client_address(engine):
    out = engine.handle(b"GET /raw HTTP/1.1\r\nHost: t\r\n\r\n", raw=True)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b'"params":{}}')
    app = _core.Engine(wsgi_app=wsgi_apps.hello)
    status, headers, body = app.handle(b"GET /hi HTTP/1.1\r\nHost: t\r\n\r\n",
                                       client=("10.1.2.3", 4567))
    assert status == 200 and body


def test_engine_takes_routes_or_a_wsgi_app():
    with pytest.raises(TypeError):
        _core.Engine()
    with pytest.raises(TypeError):
        _core.Engine([], wsgi_app=wsgi_apps.hello)
