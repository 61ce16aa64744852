"""SIGUSR2: a new master with new code on the same socket (server/upgrade.c).

Each test serves a module written into tmp_path, changes it, sends SIGUSR2 to
the master and follows the pid file to the new one."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import (ROOT, SLOW, alive, children, free_port, served_version, wait_until,
                      write_versioned_app)

def write_app(where: Path, version: str, extra: str = "") -> None:
    write_versioned_app(where / "upgrade_app.py", version, extra)


@pytest.fixture
def upgradable(serve, tmp_path):
    """(start(*args) -> Server, pid file). Teardown stops whichever master the
    pid file names (the one the test process started may have handed over)."""
    pid_file = tmp_path / "api.pid"
    write_app(tmp_path, "v1")
    masters = []

    def start(*args, env=None, **kw):
        srv = serve("upgrade_app:app", "--pid", str(pid_file), *args,
                    env=env or {"PYTHONPATH": f"{tmp_path}:{ROOT}",
                                "PYTHONDONTWRITEBYTECODE": "1"}, **kw)
        wait_until(pid_file.exists, what="the pid file")
        masters.append(srv)
        return srv

    yield start, pid_file
    for pid in {int(pid_file.read_text())} if pid_file.exists() else set():
        if pid != os.getpid() and alive(pid):
            os.kill(pid, signal.SIGTERM)
            wait_until(lambda: not alive(pid), 20, what=f"master {pid} stopped")


def upgrade(srv, pid_file: Path) -> int:
    """SIGUSR2, then the new master's pid once it has taken the pid file."""
    old = int(pid_file.read_text())
    os.kill(old, signal.SIGUSR2)
    new = wait_until(lambda: (lambda p: p if p != old else 0)(int(pid_file.read_text())), 30,
                     what=lambda: f"a new pid in the pid file:\n{srv.output()}")
    return new


def test_usr2_serves_new_code_from_a_new_master(upgradable, tmp_path):
    start, pid_file = upgradable
    srv = start("--workers", "2")
    old = srv.proc.pid
    assert served_version(srv.port) == "v1"
    write_app(tmp_path, "v2")
    new = upgrade(srv, pid_file)
    assert srv.wait_exit() == 0  # the old master drained and left, status 0
    assert served_version(srv.port) == "v2"
    assert len(children(new)) == 2 and alive(new)
    out = srv.output()
    assert f"new master {new} is serving; master {old} drains" in out
    assert f"taking over from {old}" in out
    # the stats socket is the new master's now
    stats = subprocess.run([sys.executable, "-m", "frostfork", "stats", "--bind",
                            f"127.0.0.1:{srv.port}", "--json"], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert json.loads(stats.stdout)["master"]["pid"] == new, stats.stderr
    # and the new master can be upgraded in turn
    write_app(tmp_path, "v3")
    newer = upgrade(srv, pid_file)
    wait_until(lambda: not alive(new), 20, what="the second master gone")
    assert served_version(srv.port) == "v3" and alive(newer)


def test_failed_upgrade_keeps_the_old_master_serving_and_says_why(upgradable, tmp_path):
    start, pid_file = upgradable
    srv = start()
    old = srv.proc.pid
    write_app(tmp_path, "v2", extra="\nraise RuntimeError('database unreachable')\n")
    srv.signal(signal.SIGUSR2)
    out = srv.wait_output("still serving with the old code", 30)
    assert "failed (exit code 2: importing upgrade_app:app raised RuntimeError: " \
           "database unreachable" in out, out
    assert int(pid_file.read_text()) == old and srv.proc.poll() is None
    assert served_version(srv.port) == "v1"
    # fixed: the next SIGUSR2 goes through
    write_app(tmp_path, "v2")
    upgrade(srv, pid_file)
    assert srv.wait_exit() == 0 and served_version(srv.port) == "v2"


def test_bad_config_of_the_new_master_is_reported(upgradable, tmp_path):
    start, pid_file = upgradable
    cfg = tmp_path / "frostfork.toml"
    cfg.write_text("workers = 1\n")
    srv = start("--config", str(cfg))
    cfg.write_text("workers = 1\nthreads = 8\n")  # an option frostfork does not have
    srv.signal(signal.SIGUSR2)
    out = srv.wait_output("still serving with the old code", 30)
    assert "unknown key 'threads'" in out.split("SIGUSR2: new master")[-1]
    assert served_version(srv.port) == "v1" and srv.proc.poll() is None


def test_pid_file_is_left_to_the_new_master(upgradable, tmp_path):
    start, pid_file = upgradable
    srv = start()
    write_app(tmp_path, "v2")
    new = upgrade(srv, pid_file)
    assert srv.wait_exit() == 0
    assert int(pid_file.read_text()) == new  # the old master did not remove it
    os.kill(new, signal.SIGTERM)
    wait_until(lambda: not alive(new), 20, what="the new master stopped")
    assert not pid_file.exists()


def test_unix_socket_file_stays_with_the_new_master(upgradable, tmp_path):
    start, pid_file = upgradable
    path = tmp_path / "api.sock"
    srv = start(bind=f"unix:{path}", wait=False)
    srv.wait_output("serving upgrade_app:app on unix:")

    wait_until(lambda: path.exists() and served_version(path) == "v1", what="the unix socket answering")
    write_app(tmp_path, "v2")
    upgrade(srv, pid_file)
    assert srv.wait_exit() == 0
    assert path.exists() and served_version(path) == "v2"


def test_usr2_under_load_fails_no_request(upgradable, tmp_path):
    """Keep-alive clients hammer the server across an upgrade that changes the
    response: every request gets a 200, every request sent once the old
    master is gone is answered by the new code, and both versions answered."""
    start, pid_file = upgradable
    srv = start("--workers", "2")
    results: list[tuple[float, str]] = []  # (time sent, version or error)
    lock = threading.Lock()
    stop_at = time.monotonic() + 30 * SLOW
    done = threading.Event()

    def client():
        conn = None
        for _ in range(100_000):  # bounded: the clock or this count ends it
            if done.is_set() or time.monotonic() > stop_at:
                break
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10 * SLOW)
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read()
                got = json.loads(body)["version"] if resp.status == 200 else f"status {resp.status}"
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError) as e:
                got = f"error {type(e).__name__}: {e}"
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                results.append((sent, got))
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(results) > 200, 10, what="load running")
        write_app(tmp_path, "v2")
        upgrade(srv, pid_file)
        assert srv.wait_exit() == 0
        old_gone = time.monotonic()
        wait_until(lambda: sum(1 for t, _ in list(results) if t > old_gone) > 200, 10,
                   what="load after the upgrade")
    finally:
        done.set()
        for t in threads:
            t.join(timeout=30 * SLOW)
    failures = [r for r in results if r[1] not in ("v1", "v2")]
    assert not failures, failures[:10]
    assert {v for _, v in results} == {"v1", "v2"}
    late_old = [r for r in results if r[0] > old_gone and r[1] != "v2"]
    assert not late_old, late_old[:10]


def test_systemd_is_told_the_new_main_pid(upgradable, tmp_path):
    """Playing systemd (Type=notify, NotifyAccess=all): the master says READY=1
    with its pid once its workers serve, and the new master says MAINPID=<its
    pid> once it has taken over, so systemd follows the upgrade instead of
    taking the old master's exit for the service's."""
    start, pid_file = upgradable
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(20 * SLOW)
    try:
        srv = start(env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PYTHONDONTWRITEBYTECODE": "1",
                         "NOTIFY_SOCKET": str(tmp_path / "notify")})
        assert notify.recv(4096).decode() == f"MAINPID={srv.proc.pid}\nREADY=1"
        write_app(tmp_path, "v2")
        new = upgrade(srv, pid_file)
        assert notify.recv(4096).decode() == f"MAINPID={new}\nREADY=1"
        assert srv.wait_exit() == 0 and served_version(srv.port) == "v2"
    finally:
        notify.close()


def test_a_second_usr2_while_the_new_master_starts_is_ignored(upgradable, tmp_path):
    start, pid_file = upgradable
    srv = start()
    gate = tmp_path / "gate"  # the new code's import waits for it
    write_app(tmp_path, "v2", extra=f"\nimport os, time\nfor _ in range(2000):\n"
                                    f"    if os.path.exists({str(gate)!r}): break\n"
                                    f"    time.sleep(0.01)\n")
    srv.signal(signal.SIGUSR2)
    srv.wait_output("SIGUSR2: started new master")
    srv.signal(signal.SIGUSR2)
    srv.wait_output("is still starting; ignored")
    gate.touch()
    assert srv.wait_exit() == 0
    assert served_version(srv.port) == "v2"
    assert srv.output().count("SIGUSR2: started new master") == 1


def test_the_metrics_listener_goes_over_too(upgradable, tmp_path):
    start, pid_file = upgradable
    port = free_port()
    srv = start("--metrics-bind", f"127.0.0.1:{port}")

    def metrics_master() -> int:
        """The master whose figures the --metrics-bind listener serves."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
        try:
            conn.request("GET", "/_frostfork/stats.json")
            resp = conn.getresponse()
            assert resp.status == 200
            return json.loads(resp.read())["master"]["pid"]
        finally:
            conn.close()

    assert metrics_master() == srv.proc.pid
    write_app(tmp_path, "v2")
    new = upgrade(srv, pid_file)
    assert srv.wait_exit() == 0
    assert metrics_master() == new


def test_a_bind_problem_of_the_new_master_keeps_the_old_one(upgradable, tmp_path):
    """The config now asks for a metrics listener on a port something else
    holds: the new master cannot bind it, and the old one serves on."""
    start, pid_file = upgradable
    cfg = tmp_path / "frostfork.toml"
    cfg.write_text("workers = 1\n")
    srv = start("--config", str(cfg))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        cfg.write_text(f'workers = 1\nmetrics-bind = "127.0.0.1:{taken}"\n')
        srv.signal(signal.SIGUSR2)
        out = srv.wait_output("still serving with the old code", 30)
    assert f"cannot bind 127.0.0.1:{taken}: Address already in use" in out
    assert served_version(srv.port) == "v1" and srv.proc.poll() is None
    assert int(pid_file.read_text()) == srv.proc.pid
