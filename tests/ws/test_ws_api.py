"""The native WebSocket API (frostfork.WebSocket) over real sockets: bindings, subprotocol
and accept headers, refusals (403 without accept, 500 before it, 1011 after), the
disconnect's code and reason, JSON, `async for`, and backpressure on a reader that stalls."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

import wsraw
from conftest import SANITIZED, SLOW, Server, rss_kib, wait_until
from wsraw import BINARY, TEXT, connect, handshake, upgrade_request
from wsservers import needs_ws

pytestmark = needs_ws


@pytest.fixture(scope="module")
def app():
    srv = Server("ws_app:app", "--workers", "1")
    yield srv
    srv.stop()
    srv.check_clean()


def url(srv, path: str) -> str:
    return f"ws://127.0.0.1:{srv.port}{path}"


def opened(srv, path: str, **kw):
    return ws_connect(url(srv, path), open_timeout=10 * SLOW, close_timeout=10 * SLOW,
                      proxy=None, **kw)


def http_json(srv, path: str):
    return httpx.get(srv.url(path), timeout=10 * SLOW).json()


def test_path_query_and_header_bindings(app):
    with opened(app, "/bind/lobby?token=abc%20d", subprotocols=["x1", "x2"],
                additional_headers={"X-User": "ann"}, user_agent_header="tester/1") as ws:
        got = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert got == {"room": "lobby", "token": "abc d", "user": "ann", "ua": "tester/1",
                   "subprotocols": ["x1", "x2"]}
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1000, "done")


def test_binding_defaults(app):
    with opened(app, "/bind/r%C3%A9") as ws:
        got = json.loads(ws.recv(timeout=10))
    assert (got["room"], got["token"], got["user"], got["subprotocols"]) == ("ré", "", "anon", [])


@pytest.mark.parametrize("offer,chosen", [(["superchat"], "superchat"), (["x", "chat"], "chat"),
                                          ([], None), (["x"], None)])
def test_subprotocol_and_accept_headers(app, offer, chosen):
    with opened(app, "/sub", subprotocols=offer or None) as ws:
        assert ws.subprotocol == chosen
        assert ws.response.headers.get("x-a") == "b"
        assert ws.recv(timeout=10) == (chosen or "none")
        ws.send("back")
        assert ws.recv(timeout=10) == "back"


def test_handler_that_never_accepts_is_403(app):
    hs = handshake(app.port, upgrade_request("/never"))
    assert hs.resp.status == 403 and hs.conn is None


def test_handler_raising_before_accept_is_500_and_logged(app):
    hs = handshake(app.port, upgrade_request("/raise-before"))
    assert hs.resp.status == 500 and hs.conn is None
    app.wait_output("failed before accept")
    with opened(app, "/echo") as ws:  # the worker goes on
        ws.send("alive")
        assert ws.recv(timeout=10) == "alive"


def test_handler_raising_after_accept_is_1011(app):
    conn, _ = connect(app.port, "/raise-after")
    conn.send_text("go")
    f = conn.expect_close()
    assert f.code == 1011
    app.wait_output("failed after accept")


def test_returning_without_close_sends_1000(app):
    conn, _ = connect(app.port, "/return")
    conn.send_text("one")
    assert conn.expect_close().code == 1000


def test_unknown_websocket_path_is_404(app):
    hs = handshake(app.port, upgrade_request("/no-such-route"))
    assert hs.resp.status == 404


def test_http_routes_still_served(app):
    assert http_json(app, "/") == {"message": "Hello, World!"}


@pytest.mark.parametrize("code,reason", [(1000, ""), (4321, "see you"), (1001, "κόσμε")])
def test_disconnect_carries_the_clients_code_and_reason(app, code, reason):
    conn, _ = connect(app.port, "/until-disconnect")
    conn.send_close(code, reason.encode())
    assert conn.expect_close(reply=False).code == code
    got = wait_until(lambda: (lambda d: d if d.get("code") == code else None)(
        http_json(app, "/last-disconnect")), what="the handler saw the disconnect")
    assert got == {"code": code, "reason": reason, "again": True}


def test_disconnect_without_a_close_frame_is_1006(app):
    conn, _ = connect(app.port, "/until-disconnect")
    conn.send_text("then gone")
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    got = wait_until(lambda: (lambda d: d if d.get("code") == 1006 else None)(
        http_json(app, "/last-disconnect")), what="the handler saw the lost connection")
    assert got["again"] is True


def test_async_for_ends_at_the_close(app):
    conn, _ = connect(app.port, "/iterate")
    for i in range(3):
        conn.send_text(f"m{i}")
    conn.send_frame(BINARY, b"\x00\x01")
    conn.send_close(1000)
    assert conn.expect_close(reply=False).code == 1000
    wait_until(lambda: http_json(app, "/last-disconnect").get("iterated") == 4,
               what="async for counted 4 messages and ended")


def test_json_both_ways(app):
    with opened(app, "/json") as ws:
        for obj in [{"a": [1, 2.5, None, True]}, [], "text", 12, {"é": "€"}]:
            ws.send(json.dumps(obj))
            assert json.loads(ws.recv(timeout=10)) == {"got": obj}


def test_receive_text_bytes_and_receive(app):
    with opened(app, "/kinds") as ws:
        ws.send("hi")
        ws.send(b"abc")
        ws.send("z")
        assert json.loads(ws.recv(timeout=10)) == ["str", "bytes", "str", "hi", 3]


def test_text_and_binary_keep_their_types(app):
    with opened(app, "/echo") as ws:
        ws.send("text")
        ws.send(b"\x00bytes")
        assert ws.recv(timeout=10) == "text"
        assert ws.recv(timeout=10) == b"\x00bytes"


def test_handler_that_suspends_between_messages(app):
    with opened(app, "/sleepy") as ws:
        for i in range(20):
            ws.send(f"s{i}")
        assert [ws.recv(timeout=10) for _ in range(20)] == [f"s{i}" for i in range(20)]


def test_backpressure_bounds_the_worker_memory(app):
    """A client that does not read: the handler's sends must wait (its progress stops),
    the worker's memory stays bounded, and reading resumes it to the end."""
    (pid,) = app.wait_workers(1)
    before = rss_kib(pid)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(10 * SLOW)
    sock.connect(("127.0.0.1", app.port))
    key = wsraw.new_key()
    sock.sendall(upgrade_request("/flood?n=200&size=1048576", key))  # 200 MiB
    resp = wsraw.read_response_upgrade(sock, 10)
    assert resp.status == 101
    readings: list[int] = []

    def stalled() -> bool:
        readings.append(http_json(app, "/progress")["sent"])
        return len(readings) >= 5 and len(set(readings[-5:])) == 1

    wait_until(stalled, timeout=20, interval=0.1, what=lambda: f"progress stopped: {readings}")
    assert readings[-1] < 50, readings  # far from all 200 MiB were queued
    grown = rss_kib(pid) - before
    assert grown < 64 * 1024, f"the worker grew {grown} KiB while the client did not read"
    # now read it all: every message arrives, then the close
    conn = wsraw.Conn(sock, wsraw.pending(sock))
    deadline = time.monotonic() + 60 * SLOW
    for i in range(200):
        assert time.monotonic() < deadline
        f = conn.read_frame(timeout=20)
        assert (f.opcode, len(f.payload)) == (BINARY, 1 << 20), i
    assert conn.expect_close().code == 1000
    assert http_json(app, "/progress") == {"sent": 200, "done": 1}
    if not SANITIZED:  # ASan's quarantine keeps freed buffers resident
        assert rss_kib(pid) - before < 64 * 1024


def test_open_sessions_survive_a_garbage_collection(app):
    """Nothing but the server holds a waiting handler's task: a cyclic collection in the
    worker must not reclaim it (the session would be freed under an open connection)."""
    conns = [connect(app.port, "/echo")[0] for _ in range(5)]
    for i, conn in enumerate(conns):
        conn.send_text(f"before {i}")
        assert conn.read_message() == (TEXT, f"before {i}".encode())
    http_json(app, "/gc")
    for i, conn in enumerate(conns):
        conn.send_text(f"after {i}")
        assert conn.read_message() == (TEXT, f"after {i}".encode())
        conn.send_close(1000)
        assert conn.expect_close(reply=False).code == 1000
    assert http_json(app, "/")["message"] == "Hello, World!"


def test_many_connections_at_once(app):
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(opened(app, "/echo")) for _ in range(100)]
        for i, ws in enumerate(conns):
            ws.send(f"c{i}")
        assert [ws.recv(timeout=10) for ws in conns] == [f"c{i}" for i in range(100)]


def test_ws_options_on_the_command_line(serve):
    srv = serve("ws_app:app", "--workers", "1", "--ws-max-message", "1000", "--no-ws-deflate",
                "--ws-ping", "0.2")
    conn, hs = connect(srv.port, "/echo", deflate="permessage-deflate")
    assert hs.header("sec-websocket-extensions") is None  # --no-ws-deflate
    # --ws-ping: an idle connection gets pings
    f = conn.read_frame(timeout=5)
    assert f.opcode == wsraw.PING
    conn.send_frame(wsraw.PONG, f.payload)
    conn.send_frame(TEXT, b"x" * 1000)
    assert conn.read_message() == (TEXT, b"x" * 1000)
    conn.send_frame(TEXT, b"x" * 1001)
    assert conn.expect_close().code == 1009


def test_idle_websocket_outlives_the_http_timeouts(serve):
    srv = serve("ws_app:app", "--workers", "1", "--keepalive", "1", "--header-timeout", "1",
                "--body-timeout", "1")
    conn, _ = connect(srv.port, "/echo")
    with pytest.raises(TimeoutError):  # nothing comes for 3 s, not even a close
        conn.read_frame(timeout=3)
    conn.send_text("still open")
    assert conn.read_message() == (TEXT, b"still open")
    conn.close()


def test_unanswered_ping_closes_with_1011(serve):
    srv = serve("ws_app:app", "--workers", "1", "--ws-ping", "0.3")
    conn, _ = connect(srv.port, "/echo")
    f = conn.read_frame(timeout=5)
    assert f.opcode == wsraw.PING  # not answered: the next ping time closes the session
    f = conn.expect_close(timeout=5)
    assert f.code == 1011
