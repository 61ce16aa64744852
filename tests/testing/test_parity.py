"""The test client's answers equal the socket server's for the same requests:
status, headers (but Date) and body, byte for byte."""

from __future__ import annotations

import re
import sys

import pytest

import httpx

from conftest import ROOT, parse_responses, raw, served
from frostfork.testing import Client, Transport

sys.path.insert(0, str(ROOT / "tests" / "apps"))

def post(path: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: t\r\n" + extra +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


REQUESTS = [
    b"GET /users/7?verbose=1 HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /users/x HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n",
    b"DELETE /users/1 HTTP/1.1\r\nHost: t\r\n\r\n",
    post(b"/users", b'{"name":"ann","age":3,"password":"x12345"}',
         b"Content-Type: application/json\r\n"),
    post(b"/users", b'{"name":"a","age":-1}'),
    post(b"/users", b"{bad"),
    post(b"/raw", bytes(range(256))),
    b"POST /users HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"10\r\n{\"name\":\"ann\",\"a\r\n9\r\nge\":33}  \r\n0\r\n\r\n",
    b"GET /big HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n",
    b"GET /big HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n\r\n",
    b"OPTIONS /users HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n"
    b"Access-Control-Request-Method: POST\r\n\r\n",
    b"OPTIONS /users HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\n"
    b"Access-Control-Request-Method: POST\r\n\r\n",
    b"HEAD /users/3 HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /login HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /me HTTP/1.1\r\nHost: t\r\nCookie: session=zz\r\n\r\n",
    b"GET /redirect HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /users/1 HTTP/1.0\r\n\r\n",
    b"GET /users/1 HTTP/1.1\r\n\r\n",  # no Host: 400
    b"BREW /users/1 HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /users/1 HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n",
]


server = served("client_app:app", "--workers", "1")


def _without_date(response: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*", b"", response, count=1)


@pytest.fixture(scope="module")
def transport():
    import client_app
    with Transport(client_app.app, raise_server_exceptions=False) as t:
        yield t


@pytest.mark.parametrize("request_bytes", REQUESTS, ids=range(len(REQUESTS)))
def test_same_answer_as_the_socket_server(server, transport, request_bytes):
    engine = transport._engine  # the test client's engine, fed the same bytes
    closing = request_bytes.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1) \
        if b"HTTP/1.1\r\nHost" in request_bytes else request_bytes
    over_socket = raw(server.port, closing)
    in_process = engine.handle(closing, raw=True)
    assert _without_date(in_process) == _without_date(over_socket)
    if not closing.startswith(b"HEAD"):
        [(status, _, body)] = parse_responses(in_process)
        assert status == engine.handle(closing)[0]


@pytest.mark.parametrize("method,path,kw", [
    ("POST", "/users", {"json": {"name": "ann", "age": 3}}),
    ("POST", "/users", {"json": {"name": "a"}}),
    ("GET", "/users/9", {"params": {"verbose": "yes"}}),
    ("GET", "/big", {}),
    ("GET", "/headers", {"headers": {"X-Token": "abc"}}),
    ("GET", "/boom", {}),
])
def test_client_and_httpx_over_a_socket_agree(server, method, path, kw):
    import client_app
    over_socket = httpx.request(method, server.url(path), **kw)
    with Client(client_app.app, raise_server_exceptions=False) as c:
        in_process = c.request(method, path, **kw)
    assert in_process.status_code == over_socket.status_code
    if path == "/headers":  # the peer differs: 127.0.0.1 and a port, or the test client's
        assert in_process.json()["x-token"] == over_socket.json()["x-token"]
    elif path == "/boom":  # request ids differ
        assert in_process.json().keys() == over_socket.json().keys()
    else:
        assert in_process.content == over_socket.content
    # /headers echoes the client's own headers; /boom's request ids differ in length
    drop = {"date", "x-request-id"} | ({"content-length"} if path in ("/headers", "/boom") else set())
    assert ({k: v for k, v in in_process.headers.items() if k not in drop} ==
            {k: v for k, v in over_socket.headers.items() if k not in drop})
