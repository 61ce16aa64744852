"""WebSockets under --asgi: the Starlette and FastAPI apps of ws_asgi give the same
transcript under frostfork as under uvicorn (differential), the websocket scope as the
ASGI spec says, and the websocket.http.response denial extension."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as _connect

from conftest import SLOW, Server
from wsraw import connect, handshake, upgrade_request
from wsservers import HAS_WS, Uvicorn, needs_ws


def ws_connect(port: int, path: str, **kw):
    return _connect(f"ws://127.0.0.1:{port}{path}", proxy=None, open_timeout=10 * SLOW,
                    close_timeout=10 * SLOW, **kw)


def closed(ws) -> tuple:
    """Reads until the server closes: (code, reason) of its close frame."""
    try:
        while True:
            ws.recv(timeout=10)
    except ConnectionClosed as e:
        return (e.rcvd.code, e.rcvd.reason) if e.rcvd else ("no close frame",)


def refused_status(port: int, path: str) -> int | str:
    """The HTTP status a handshake to `path` got (101: it was accepted)."""
    hs = handshake(port, upgrade_request(path))
    if hs.conn:
        hs.conn.close()
    return hs.resp.status


def transcript(port: int, app: str) -> list:
    """What a fixed series of conversations with `app` (starlette or fastapi) looked like."""
    out: list = []
    with ws_connect(port, "/echo") as ws:
        for msg in ["hello", "κόσμε", "x" * 70000, ""]:
            ws.send(msg)
            out.append(ws.recv(timeout=10))
        if app == "starlette":
            ws.send(b"\x00\x01bytes")
            out.append(ws.recv(timeout=10))
    with ws_connect(port, "/room/lobby?q=x", subprotocols=["chat"],
                    additional_headers={"X-User": "ann"}) as ws:
        out.append(("subprotocol", ws.subprotocol))
        out.append(json.loads(ws.recv(timeout=10)))
        ws.send(json.dumps({"say": [1, 2]}))
        out.append(json.loads(ws.recv(timeout=10)))
        out.append(closed(ws))
    with ws_connect(port, "/room/other") as ws:  # no subprotocol, no header, default query
        out.append(("subprotocol", ws.subprotocol))
        out.append(json.loads(ws.recv(timeout=10)))
        ws.send("[]")
        out.append(json.loads(ws.recv(timeout=10)))
        out.append(closed(ws))
    with ws_connect(port, "/fail") as ws:
        ws.send("go")
        out.append(("after the failure", closed(ws)[0]))
    out.append(("deny", refused_status(port, "/deny")))
    out.append(("no route", refused_status(port, "/nope")))
    if app == "fastapi":
        out.append(("typed ok", refused_status(port, "/typed/3")))
        out.append(("typed bad", refused_status(port, "/typed/abc")))
    try:
        with ws_connect(port, "/deny"):
            pass
    except InvalidStatus as e:
        out.append(("library sees", e.response.status_code))
    return out


@needs_ws
@pytest.mark.parametrize("app", ["starlette", "fastapi"])
def test_same_transcript_as_uvicorn(serve, app):
    target = f"ws_asgi:{app}_app"
    ours = serve(target, "--asgi", "--workers", "1")
    ref = Uvicorn(target)
    try:
        want = transcript(ref.port, app)
    finally:
        ref.stop()
    # uvicorn drops the TCP connection when the app fails after accept; frostfork sends the
    # close frame RFC 6455 §7.4.1 has for it, 1011: the one difference allowed
    fail = want.index(("after the failure", "no close frame"))
    want[fail] = ("after the failure", 1011)
    got = transcript(ours.port, app)
    assert got == want


@pytest.fixture(scope="module")
def echo_app():
    if not HAS_WS:
        pytest.skip("frostfork has no WebSocket support yet")
    srv = Server("ws_asgi:echo", "--asgi", "--workers", "1", "--root-path", "/api")
    yield srv
    srv.stop()
    srv.check_clean()


def test_websocket_scope(echo_app):
    with ws_connect(echo_app.port, "/scope?a=1&b=%20", subprotocols=["p1", "p2"],
                    additional_headers={"X-Custom": "Value"}) as ws:
        s = json.loads(ws.recv(timeout=10))
    assert (s["path"], s["raw_path"], s["query_string"]) == ("/scope", "/scope", "a=1&b=%20")
    assert (s["scheme"], s["http_version"], s["root_path"]) == ("ws", "1.1", "/api")
    assert s["subprotocols"] == ["p1", "p2"]
    assert s["asgi"]["version"] == "3.0"
    assert ["x-custom", "Value"] in s["headers"]
    assert s["client_host"] == "127.0.0.1"
    assert "websocket.http.response" in s["extensions"]


def test_denial_response_extension(echo_app):
    hs = handshake(echo_app.port, upgrade_request("/deny"))
    assert hs.conn is None
    assert hs.resp.status == 403
    assert hs.resp.body == b"denied: no token"
    assert hs.header("x-denied") == "yes"


def test_denial_response_same_as_uvicorn(echo_app):
    ref = Uvicorn("ws_asgi:echo")
    try:
        want = handshake(ref.port, upgrade_request("/deny"))
    finally:
        ref.stop()
    got = handshake(echo_app.port, upgrade_request("/deny"))
    assert (got.resp.status, got.resp.body, got.header("x-denied")) == \
        (want.resp.status, want.resp.body, want.header("x-denied"))


def test_app_closing_with_a_code(echo_app):
    conn, _ = connect(echo_app.port, "/close?code=4005&reason=later")
    f = conn.expect_close()
    assert (f.code, f.reason) == (4005, b"later")


def test_plain_http_reaches_the_app(echo_app):
    import httpx
    r = httpx.get(echo_app.url("/echo"), timeout=10 * SLOW)
    assert (r.status_code, r.text) == (426, "a WebSocket endpoint\n")
