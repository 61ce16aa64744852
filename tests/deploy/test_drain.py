"""SIGTERM draining as a Kubernetes rolling update (or systemd stop) expects it:
readiness turns 503 at once, requests in flight finish with 200, nothing new is
served, and the master exits 0 within --graceful-timeout."""

from __future__ import annotations

import re
import signal
import socket
import threading
import time

import httpx
import pytest

from conftest import SLOW


def request(sock: socket.socket, path: str) -> tuple[int, dict[str, str], bytes]:
    """One keep-alive GET on an open connection; the response parsed."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response to {path}: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def wait_exit(srv, timeout: float) -> float:
    """Seconds until the master exits (fails past `timeout`)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise AssertionError(f"master still running {timeout:.1f} s after SIGTERM\n{srv.output()}")


def test_sigterm_drains_like_a_rolling_update_expects(serve):
    graceful = 10
    # --keepalive above the slow request's length: the probe connection stays idle
    # while the worker is busy (see test_upstream_keepalive.py for why that matters).
    srv = serve("native_basic:app", "--workers", "1", "--graceful-timeout", str(graceful),
                "--keepalive", str(60 * SLOW))
    probe = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW)
    slow = socket.create_connection(("127.0.0.1", srv.port), timeout=20 * SLOW)
    try:
        # the load balancer's keep-alive connection sees a ready server
        status, _, body = request(probe, "/_frostfork/ready")
        assert (status, body) == (200, b"ready")
        assert request(probe, "/_frostfork/health")[2] == b"ok"

        # A slow request in flight. While its handler runs, the (single) worker is busy,
        # so the SIGTERM and the probe's next request are both handled after it, in
        # the order they arrived: the probe must be sent while the handler still runs.
        slow_ms = int(2000 * SLOW)
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(r=request(slow, f"/sleep/{slow_ms}")))
        t.start()
        time.sleep(0.3 * SLOW)

        t_term = time.monotonic()
        srv.signal(signal.SIGTERM)
        time.sleep(0.3 * SLOW)  # the master has told the worker by now

        # readiness on the still-open keep-alive connection: 503, and the connection closes
        status, headers, body = request(probe, "/_frostfork/ready")
        assert (status, body) == (503, b"draining")
        assert headers.get("connection") == "close"
        assert probe.recv(1) == b""

        # nothing new is taken on, and nothing is left to be lost: the master and the
        # worker have let go of the listening socket, so a new connection is refused
        # outright instead of waiting in the listen queue to be reset at exit
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=graceful * SLOW).close()

        # the request in flight completes
        t.join(timeout=graceful * SLOW)
        status, _, body = result["r"]
        assert status == 200 and f'"slept":{slow_ms}'.encode() in body

        # and the master leaves, with 0, within --graceful-timeout of the SIGTERM
        wait_exit(srv, graceful * SLOW - (time.monotonic() - t_term))
        assert srv.proc.returncode == 0
        assert time.monotonic() - t_term < graceful * SLOW
        assert "SIGTERM: draining workers" in srv.output()
    finally:
        probe.close()
        slow.close()


def test_every_worker_finishes_its_requests(serve):
    srv = serve("native_basic:app", "--workers", "2", "--graceful-timeout", "10")
    srv.wait_workers(2)
    time.sleep(0.5 * SLOW)  # both in their event loops
    results: list[httpx.Response] = []
    slow_ms = int(1500 * SLOW)

    def slow_call():
        results.append(httpx.get(f"http://127.0.0.1:{srv.port}/sleep/{slow_ms}",
                                 timeout=20 * SLOW))

    threads = [threading.Thread(target=slow_call) for _ in range(2)]
    for t in threads:  # the second connects while the first worker sleeps in its handler,
        t.start()      # so the other worker takes it
        time.sleep(0.25 * SLOW)
    srv.signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=20 * SLOW)
    assert [r.status_code for r in results] == [200, 200]
    assert len({r.json()["pid"] for r in results}) == 2
    wait_exit(srv, 10 * SLOW)
    assert srv.proc.returncode == 0


def test_graceful_timeout_bounds_the_drain(serve):
    """A request slower than --graceful-timeout does not hold the pod past it."""
    srv = serve("native_basic:app", "--workers", "1", "--graceful-timeout", "1")
    t = threading.Thread(target=lambda: _ignore(lambda: httpx.get(
        f"http://127.0.0.1:{srv.port}/sleep/8000", timeout=20 * SLOW)))
    t.start()
    time.sleep(0.3 * SLOW)
    srv.signal(signal.SIGTERM)
    took = wait_exit(srv, 1 + 3 * SLOW)
    assert took < 1 + 3 * SLOW
    t.join(timeout=20 * SLOW)
    assert re.search(r"SIGTERM: draining workers \(up to 1000 ms\)", srv.output())


def _ignore(fn):
    try:
        fn()
    except httpx.HTTPError:
        pass
