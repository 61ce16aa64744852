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

from conftest import SLOW, Held, read_response, request, signal_pending, unread_by_server, wait_until


def wait_exit(srv, timeout: float) -> float:
    """Seconds until the master exits (fails past `timeout`)."""
    t0 = time.monotonic()
    wait_until(lambda: srv.proc.poll() is not None, timeout / SLOW,
               what=lambda: f"master exited after SIGTERM\n{srv.output()}")
    return time.monotonic() - t0


def test_sigterm_drains_like_a_rolling_update_expects(serve, tmp_path):
    graceful = 10
    # --keepalive above the time the request is held: the probe connection stays
    # idle while the worker is busy (see test_upstream_keepalive.py for why that matters).
    srv = serve("native_basic:app", "--workers", "1", "--graceful-timeout", str(graceful),
                "--keepalive", str(60 * SLOW))
    (worker,) = srv.wait_workers(1)
    probe = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW)
    slow = socket.create_connection(("127.0.0.1", srv.port), timeout=20 * SLOW)
    try:
        # the load balancer's keep-alive connection sees a ready server
        r = request(probe, "/_frostfork/ready")
        assert (r.status, r.body) == (200, b"ready")
        assert request(probe, "/_frostfork/health").body == b"ok"

        # A request in flight, held in its handler: the (single) worker is busy, so
        # the SIGTERM and the probe's next request both wait for it, in the order
        # they arrived.
        held = Held(tmp_path)
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(
            r=request(slow, held.path, timeout=30)))
        t.start()
        held.wait_started()

        t_term = time.monotonic()
        srv.signal(signal.SIGTERM)
        # the master has passed it on: it waits for the busy worker's loop
        wait_until(lambda: signal_pending(worker, signal.SIGTERM),
                   what="SIGTERM pending for the busy worker")
        probe.sendall(b"GET /_frostfork/ready HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: unread_by_server(srv.port, probe),
                   what="the probe's request waiting at the server")
        held.release()

        # readiness on the still-open keep-alive connection: 503, and the connection closes
        r = read_response(probe)
        assert (r.status, r.body) == (503, b"draining")
        assert r.header("connection") == "close"
        assert probe.recv(1) == b""

        # nothing new is taken on, and nothing is left to be lost: the master and the
        # worker have let go of the listening socket, so a new connection is refused
        # outright instead of waiting in the listen queue to be reset at exit
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=graceful * SLOW).close()

        # the request in flight completes
        t.join(timeout=graceful * SLOW)
        r = result["r"]
        assert r.status == 200 and b'"released":true' in r.body

        # and the master leaves, with 0, within --graceful-timeout of the SIGTERM
        wait_exit(srv, graceful * SLOW - (time.monotonic() - t_term))
        assert srv.proc.returncode == 0
        assert time.monotonic() - t_term < graceful * SLOW
        assert "SIGTERM: draining workers" in srv.output()
    finally:
        probe.close()
        slow.close()


def test_every_worker_finishes_its_requests(serve, tmp_path):
    srv = serve("native_basic:app", "--workers", "2", "--graceful-timeout", "10")
    pids = srv.wait_workers(2)
    results: list[httpx.Response] = []
    held = [Held(tmp_path, f"r{i}") for i in range(2)]

    def call(h: Held) -> None:
        results.append(httpx.get(srv.url(h.path), timeout=30 * SLOW))

    threads = [threading.Thread(target=call, args=(h,)) for h in held]
    for t, h in zip(threads, held):
        t.start()      # the second connects while the first worker is held in its
        h.wait_started()  # handler, so the other worker takes it: both are in flight
    srv.signal(signal.SIGTERM)
    wait_until(lambda: all(signal_pending(p, signal.SIGTERM) for p in pids),
               what="SIGTERM pending for both busy workers")
    for h in held:
        h.release()
    for t in threads:
        t.join(timeout=20 * SLOW)
    assert [r.status_code for r in results] == [200, 200]
    assert all(r.json()["released"] for r in results)
    assert {r.json()["pid"] for r in results} == set(pids)
    wait_exit(srv, 10 * SLOW)
    assert srv.proc.returncode == 0


def test_graceful_timeout_bounds_the_drain(serve, tmp_path):
    """A request slower than --graceful-timeout does not hold the pod past it."""
    srv = serve("native_basic:app", "--workers", "1", "--graceful-timeout", "1")
    started = tmp_path / "started"
    t = threading.Thread(target=lambda: _ignore(lambda: srv.get(
        f"/sleep/8000?started={started}", timeout=20)))  # 8 s: longer than the drain
    t.start()
    wait_until(started.exists, what="the slow handler started")
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
