"""Keep-alive connections from a proxy (nginx `keepalive` upstreams, cloud load
balancers) while a worker is busy in a slow handler.

A request that arrives on an idle keep-alive connection *within* --keepalive must
be served, even if the worker only gets to read it later because it was running
another request's handler: the connection was not idle for --keepalive seconds.
Resetting it instead breaks the proxy's request (nginx retries an idempotent one
elsewhere; a POST becomes a 502).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from conftest import SLOW, parse_responses


def send(sock: socket.socket, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())


def read_one(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
        if b"\r\n\r\n" in data:
            try:
                return parse_responses(data)[0]
            except (AssertionError, ValueError, IndexError):
                continue


def test_idle_connection_is_closed_after_keepalive(serve):
    """The baseline: an idle keep-alive connection is closed after --keepalive."""
    srv = serve("native_basic:app", "--keepalive", "1")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as conn:
        send(conn, "/pid")
        assert read_one(conn)[0] == 200
        t0 = time.monotonic()
        assert conn.recv(1) == b""                   # closed by the server
        assert 0.5 < time.monotonic() - t0 < 5 * SLOW


def test_request_sent_within_keepalive_is_served_after_a_slow_handler(serve):
    srv = serve("native_basic:app", "--workers", "1", "--keepalive", "1")
    pooled = socket.create_connection(("127.0.0.1", srv.port), timeout=20 * SLOW)
    busy = socket.create_connection(("127.0.0.1", srv.port), timeout=20 * SLOW)
    try:
        send(pooled, "/pid")                           # the proxy's pooled connection
        assert read_one(pooled)[0] == 200
        slow = threading.Thread(target=lambda: (send(busy, f"/sleep/{int(2500 * SLOW)}"),
                                                read_one(busy)))
        slow.start()                                   # the only worker is now busy
        time.sleep(0.4)
        send(pooled, "/pid")                           # 0.4 s after the last response
        status, _, _ = read_one(pooled)                # keep-alive is 1 s: not idle long
        assert status == 200
        slow.join(timeout=30 * SLOW)
    finally:
        pooled.close()
        busy.close()
