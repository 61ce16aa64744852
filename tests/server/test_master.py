"""The pre-fork master: freeze modes, supervision and signals, with real processes."""

import collections
import http.client
import json
import os
import signal
import socket
import threading
import time

import httpx
import pytest

from conftest import SLOW, accept_queue, read_response, wait_until


def get(srv, path, timeout=10):
    return srv.get(path, timeout=timeout)


def test_workers_are_children_and_share_the_socket(serve):
    srv = serve("native_basic:app", "--workers", "3")
    pids = srv.wait_workers(3)
    seen = set()

    def busy():  # a worker inside a handler cannot accept: the others must
        seen.add(get(srv, "/sleep/300").json()["pid"])

    threads = [threading.Thread(target=busy) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20 * SLOW)
    assert seen <= set(pids) and len(seen) >= 2
    assert set(srv.workers()) == set(pids)


@pytest.mark.parametrize("grown", [False, True], ids=["started-with-4", "grown-by-ttin"])
def test_idle_workers_take_new_connections_in_turn(serve, grown):
    """Keep-alive clients that connect one after another while every worker
    is idle are spread over all of them, not all given to the worker that
    registered first (the EPOLLEXCLUSIVE default): when load rises on those
    connections, every worker carries its share. Also when the first worker
    started alone and TTIN added the others."""
    srv = serve("native_basic:app", "--workers", "1" if grown else "4")
    if grown:
        for n in (2, 3, 4):  # one at a time: identical pending signals merge
            srv.signal(signal.SIGTTIN)
            srv.wait_workers(n)
    pids = srv.wait_workers(4)
    owners = collections.Counter()
    conns = []
    try:
        for _ in range(40):
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10 * SLOW)
            conns.append(c)
            c.request("GET", "/pid")
            owners[json.loads(c.getresponse().read())["pid"]] += 1
        for c in conns:  # each stays with its worker: keep-alive
            c.request("GET", "/pid")
            pid = json.loads(c.getresponse().read())["pid"]
            assert c.sock is not None and pid in owners
    finally:
        for c in conns:
            c.close()
    assert set(owners) == set(pids), owners
    assert min(owners.values()) >= 5, owners


@pytest.mark.parametrize("mode,frozen,enabled", [
    ("collect", True, True), ("early", True, True), ("off", False, True)])
def test_freeze_modes(serve, mode, frozen, enabled):
    srv = serve("native_basic:app", "--freeze", mode)
    info = get(srv, "/gc").json()
    assert (info["frozen"] > 1000) is frozen
    assert info["enabled"] is enabled


def test_crashed_worker_is_replaced(serve):
    srv = serve("native_basic:app", "--workers", "2")
    before = set(srv.wait_workers(2))
    with pytest.raises(httpx.HTTPError):
        get(srv, "/exit")
    after = wait_until(lambda: (lambda now: now if len(now) == 2 and now != before else None)(
        set(srv.workers())), what="the crashed worker replaced")
    assert len(after - before) == 1
    assert "died unexpectedly (exit code 3) while handling GET /exit" in srv.output()
    assert get(srv, "/").status_code == 200


def test_killed_worker_is_replaced(serve):
    srv = serve("native_basic:app", "--workers", "2")
    victim = srv.wait_workers(2)[0]
    os.kill(victim, signal.SIGKILL)
    srv.wait_workers(2, exclude={victim})
    assert victim not in srv.workers()
    assert "signal 9" in srv.output()


def test_crash_loop_backs_off(serve, tmp_path):
    # workers that die on their own, young, before serving anything: a crash loop
    srv = serve("native_basic:app", "--workers", "1")
    for _ in range(3):
        pid = srv.wait_workers(1, timeout=15)[0]
        with pytest.raises(httpx.HTTPError):
            get(srv, "/exit")
        wait_until(lambda: pid not in srv.workers(), what=f"worker {pid} gone")
    srv.wait_workers(1, timeout=15)
    assert "workers keep crashing; next spawn in" in srv.output()


def test_killed_workers_are_not_a_crash_loop(serve):
    # SIGKILL from outside (OOM killer, an operator) respawns at once, without backoff
    srv = serve("native_basic:app", "--workers", "1")
    for _ in range(3):
        pid = srv.wait_workers(1, timeout=5)[0]
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: pid not in srv.workers(), 5, what=f"worker {pid} gone")
    srv.wait_workers(1, timeout=5)
    assert "workers keep crashing" not in srv.output()


def test_stuck_handler_is_killed_after_timeout(serve):
    srv = serve("native_basic:app", "--workers", "1", "--timeout", "1")
    stuck = srv.wait_workers(1)[0]
    with pytest.raises(httpx.HTTPError):
        get(srv, "/spin", timeout=8)
    assert "timed out (no heartbeat" in srv.output()
    assert stuck not in srv.wait_workers(1)
    assert get(srv, "/").status_code == 200


def test_max_requests_recycles_workers(serve):
    srv = serve("native_basic:app", "--workers", "1", "--max-requests", "10",
                "--max-requests-jitter", "5")
    pids = set()
    for _ in range(60):
        pids.add(get(srv, "/pid").json()["pid"])
    assert 4 <= len(pids) <= 7  # 60 requests / (10..15 per worker)
    assert "died unexpectedly" not in srv.output()


def test_sigterm_drains_in_flight_request(serve, tmp_path):
    srv = serve("native_basic:app", "--workers", "1", "--graceful-timeout", "10")
    result = {}
    started = tmp_path / "started"

    def slow():
        result["r"] = get(srv, f"/sleep/800?started={started}")

    t = threading.Thread(target=slow)
    t.start()
    wait_until(started.exists, what="the slow handler started")
    srv.signal(signal.SIGTERM)
    t.join(timeout=15 * SLOW)
    assert result["r"].status_code == 200 and result["r"].json()["slept"] == 800
    assert srv.proc.wait(timeout=15 * SLOW) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


def test_sigint_is_a_fast_stop(serve):
    srv = serve("native_basic:app", "--workers", "2")
    srv.wait_workers(2)
    t0 = time.monotonic()
    srv.signal(signal.SIGINT)
    assert srv.proc.wait(timeout=10 * SLOW) == 0
    assert time.monotonic() - t0 < 5 * SLOW


def test_ttin_ttou_change_the_worker_count(serve):
    srv = serve("native_basic:app", "--workers", "2")
    srv.wait_workers(2)
    srv.signal(signal.SIGTTIN)
    srv.wait_workers(3)
    srv.signal(signal.SIGTTOU)  # one at a time: identical pending signals merge
    srv.wait_workers(2)
    srv.signal(signal.SIGTTOU)
    srv.wait_workers(1)
    assert get(srv, "/").status_code == 200


def test_sighup_replaces_workers_without_failed_requests(serve):
    srv = serve("native_basic:app", "--workers", "2")
    old = set(srv.wait_workers(2))
    errors: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def client():
        with httpx.Client(timeout=10 * SLOW) as c:  # keep-alive connections
            for _ in range(5000):
                if stop.is_set():
                    return
                try:
                    statuses.append(c.get(f"http://127.0.0.1:{srv.port}/").status_code)
                except httpx.HTTPError as e:
                    errors.append(repr(e))

    def served_more(than: int) -> bool:
        return len(statuses) > than + 200

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        gen = old
        for _ in range(2):  # each SIGHUP under load: a whole new set of workers
            wait_until(lambda n=len(statuses): served_more(n), 20,
                       what="the clients are being served")
            srv.signal(signal.SIGHUP)
            gen = set(srv.wait_workers(2, timeout=20, exclude=gen))
        wait_until(lambda n=len(statuses): served_more(n), 20,
                   what="the clients are served by the last workers")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30 * SLOW)
    assert set(srv.wait_workers(2)) == gen and not (gen & old)
    assert errors == []
    assert statuses and set(statuses) == {200}
    assert "died unexpectedly" not in srv.output()


def test_idle_keepalive_connection_is_closed(serve):
    srv = serve("native_basic:app", "--keepalive", "0.5")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(s).status == 200
        t0 = time.monotonic()
        assert s.recv(4096) == b""  # closed by the server
        assert time.monotonic() - t0 < 5 * SLOW


def test_slow_header_gets_408(serve):
    srv = serve("native_basic:app", "--header-timeout", "0.5")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHo")
        data = s.recv(4096)
        assert data.startswith(b"HTTP/1.1 408 ")
        assert s.recv(4096) == b""


def test_slow_client_does_not_block_others(serve):
    srv = serve("native_basic:app", "--workers", "1")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as slow:
        slow.sendall(b"POST /items HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly-part")
        t0 = time.monotonic()
        for _ in range(20):
            assert get(srv, "/").status_code == 200
        assert time.monotonic() - t0 < 5 * SLOW
        slow.sendall(b"x" * 91)
        assert read_response(slow).status == 200


def test_connection_cap(serve):
    srv = serve("native_basic:app", "--workers", "1", "--max-connections", "5")
    held = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(5)]
    extra = None
    try:
        wait_until(lambda: accept_queue(srv.port) == 0, what="the worker accepted all five")
        # a sixth is left in the listen queue, its request unanswered
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW)
        extra.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: accept_queue(srv.port) == 1, what="the sixth in the listen queue")
        extra.settimeout(0.5 * SLOW)  # a window to show it is not served (not a wait)
        with pytest.raises(TimeoutError):
            extra.recv(1)
        assert accept_queue(srv.port) == 1
        held.pop().close()  # a slot frees: the queued connection is taken and answered
        assert read_response(extra, timeout=10).status == 200
    finally:
        for s in held + [extra]:
            if s is not None:
                s.close()


def _holds(pid: int, path) -> bool:
    """Whether process `pid` has `path` open (its fd links, read from /proc)."""
    target = str(path)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in (target, f"{target} (deleted)"):
                return True
        except OSError:
            pass
    return False


def test_sigusr1_reopens_the_masters_log_files_too(serve, tmp_path):
    """After logrotate's rename and USR1, the master holds the new file, not the
    rotated one: a worker forked later (here: replacing one that was killed)
    writes to the new file."""
    log = tmp_path / "access.log"
    srv = serve("native_basic:app", "--access-log", str(log))
    assert get(srv, "/?before").status_code == 200
    wait_until(lambda: log.exists() and "before" in log.read_text(), what="the first line")
    rotated = tmp_path / "access.log.1"
    os.rename(log, rotated)
    assert _holds(srv.proc.pid, rotated)
    srv.signal(signal.SIGUSR1)
    wait_until(lambda: log.exists() and not _holds(srv.proc.pid, rotated)
               and _holds(srv.proc.pid, log), what="the master reopened the log")
    (old,) = srv.wait_workers(1)
    os.kill(old, signal.SIGKILL)
    srv.wait_workers(1, exclude={old})
    assert get(srv, "/?after").status_code == 200
    wait_until(lambda: "after" in log.read_text(), what="the new worker's line in the new file")
    assert "after" not in rotated.read_text()
