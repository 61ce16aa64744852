"""Open WebSockets across the server's life: a TERM drain and a HUP reload close them with
1001 (going away) within --graceful-timeout, and the metrics and stats count them per
worker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx

from conftest import ROOT, SLOW, wait_until
from wsraw import CLOSE, connect
from wsservers import needs_ws

pytestmark = needs_ws


def open_held(srv, n: int) -> list:
    conns = []
    for _ in range(n):
        conn, _ = connect(srv.port, "/hold")
        conns.append(conn)
    wait_until(lambda: srv.output().count("[ws] hold accepted") >= n,
               what=f"{n} handlers accepted")
    return conns


def test_term_drain_closes_open_websockets_with_1001(serve):
    srv = serve("ws_app:app", "--workers", "1", "--graceful-timeout", "5")
    conns = open_held(srv, 3)
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    for conn in conns:
        f = conn.read_frame(timeout=6)
        assert f.opcode == CLOSE and f.code == 1001, f
        conn.send_close(1001)
        conn.expect_eof(timeout=6)
    assert time.monotonic() - t0 < 5 * SLOW + 1
    assert srv.proc.wait(timeout=15 * SLOW) == 0
    wait_until(lambda: srv.output().count("[ws] hold ended") >= 3, what="the handlers ended")


def test_term_drain_with_a_client_that_never_answers_the_close(serve):
    srv = serve("ws_app:app", "--workers", "1", "--graceful-timeout", "2")
    (conn,) = open_held(srv, 1)
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    f = conn.read_frame(timeout=4)
    assert f.opcode == CLOSE and f.code == 1001
    # no close sent back: the server still ends within the graceful timeout (and a bit)
    conn.expect_eof(timeout=6)
    assert srv.proc.wait(timeout=15 * SLOW) == 0
    assert time.monotonic() - t0 < 2 * SLOW + 3


def test_hup_reload_closes_old_websockets_with_1001_and_serves_new_ones(serve):
    srv = serve("ws_app:app", "--workers", "1", "--graceful-timeout", "5")
    old = set(srv.wait_workers(1))
    (conn,) = open_held(srv, 1)
    srv.signal(signal.SIGHUP)
    f = conn.read_frame(timeout=6)
    assert f.opcode == CLOSE and f.code == 1001
    conn.send_close(1001)
    conn.expect_eof(timeout=6)
    new = srv.wait_workers(1, exclude=old, timeout=15)
    assert not set(new) & old
    fresh, _ = connect(srv.port, "/echo")
    fresh.send_text("after the reload")
    assert fresh.read_message() == (1, b"after the reload")
    fresh.close()


def ws_open_metric(text: str) -> int | None:
    """The sum of frostfork_websockets_open over its series (None: not in the page)."""
    vals = re.findall(r"^frostfork_websockets_open(?:\{[^}]*\})? (\d+)$", text, re.M)
    return sum(int(v) for v in vals) if vals else None


def test_metrics_count_open_websockets(serve):
    srv = serve("ws_app:app", "--workers", "2", "--metrics", "--stats-interval", "0.2")
    srv.wait_workers(2)

    def metric() -> int | None:
        return ws_open_metric(httpx.get(srv.url("/_frostfork/metrics"), timeout=10).text)

    wait_until(lambda: metric() == 0, what="frostfork_websockets_open 0 before any")
    conns = open_held(srv, 5)
    wait_until(lambda: metric() == 5, what=lambda: f"frostfork_websockets_open 5, not {metric()}")
    for conn in conns[:3]:
        conn.send_close(1000)
        conn.expect_close(reply=False)
    wait_until(lambda: metric() == 2, what=lambda: f"frostfork_websockets_open 2, not {metric()}")
    for conn in conns[3:]:
        conn.close()


def test_stats_show_open_websockets_per_worker(serve, tmp_path):
    sock = tmp_path / "stats.sock"
    srv = serve("ws_app:app", "--workers", "2", "--stats-socket", str(sock),
                "--stats-interval", "0.2")
    pids = srv.wait_workers(2)

    def snap() -> dict:
        out = subprocess.run([sys.executable, "-m", "frostfork", "stats", "--socket", str(sock),
                              "--json"], capture_output=True, text=True, timeout=30, cwd=ROOT)
        return json.loads(out.stdout)

    conns = open_held(srv, 4)
    got = wait_until(lambda: (lambda s: s if sum(w.get("websockets", 0) for w in s["workers"])
                              == 4 else None)(snap()),
                     what=lambda: f"4 websockets in the stats: {snap()}")
    assert {w["pid"] for w in got["workers"]} == set(pids)
    for conn in conns:
        conn.close()
    wait_until(lambda: sum(w.get("websockets", 0) for w in snap()["workers"]) == 0,
               what="the stats count none once closed")


def test_a_killed_workers_websockets_are_counted_lost(serve):
    """SIGKILL a worker holding open WebSockets: the kernel closes them (the clients see
    the connection end without a close frame), and the master counts them in
    frostfork_websockets_lost_total and the stats' websockets_lost."""
    srv = serve("ws_app:app", "--workers", "1", "--metrics")
    (pid,) = srv.wait_workers(1)
    conns = open_held(srv, 3)

    def lost() -> int:
        text = httpx.get(srv.url("/_frostfork/metrics"), timeout=10).text
        m = re.search(r"^frostfork_websockets_lost_total (\d+)$", text, re.M)
        return int(m.group(1)) if m else -1

    assert lost() == 0
    os.kill(pid, signal.SIGKILL)
    for conn in conns:
        conn.expect_eof(timeout=10)
    srv.wait_workers(1, exclude={pid})
    wait_until(lambda: lost() == 3, what=lambda: f"3 lost websockets, not {lost()}")
    stats = httpx.get(srv.url("/_frostfork/stats.json"), timeout=10).json()
    assert stats["websockets_lost"] == 3
    assert all(w["websockets"] == 0 for w in stats["workers"])
