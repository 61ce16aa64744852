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

from conftest import SLOW, Held, read_response, request, unread_by_server, wait_until


def test_idle_connection_is_closed_after_keepalive(serve):
    """The baseline: an idle keep-alive connection is closed after --keepalive."""
    srv = serve("native_basic:app", "--keepalive", "1")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as conn:
        assert request(conn, "/pid").status == 200
        t0 = time.monotonic()
        assert conn.recv(1) == b""                   # closed by the server
        assert 0.5 < time.monotonic() - t0 < 5 * SLOW


def test_request_sent_within_keepalive_is_served_after_a_slow_handler(serve, tmp_path):
    keepalive = 1.0 * SLOW
    srv = serve("native_basic:app", "--workers", "1", "--keepalive", str(keepalive))
    pooled = socket.create_connection(("127.0.0.1", srv.port), timeout=20 * SLOW)
    busy = socket.create_connection(("127.0.0.1", srv.port), timeout=20 * SLOW)
    held = Held(tmp_path)
    try:
        assert request(pooled, "/pid").status == 200  # the proxy's pooled connection
        idle_since = time.monotonic()
        slow = threading.Thread(target=lambda: request(busy, held.path, timeout=30))
        slow.start()
        held.wait_started()                            # the only worker is now busy
        # within --keepalive of the last response, the proxy reuses the connection
        pooled.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        assert time.monotonic() - idle_since < keepalive, "too late to show anything"
        wait_until(lambda: unread_by_server(srv.port, pooled),
                   what="the pooled request waiting at the busy worker")
        # The behaviour under test: the connection's keep-alive deadline passes while
        # the handler still holds the worker, with the request already waiting.
        time.sleep(max(0.0, idle_since + keepalive + 0.2 - time.monotonic()))
        held.release()
        assert read_response(pooled, timeout=20).status == 200
        slow.join(timeout=30 * SLOW)
    finally:
        pooled.close()
        busy.close()
