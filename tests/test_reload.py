"""serve --reload (frostfork/reload.py): a change to a watched file brings up a
new master generation on the same socket; the old one drains only once the
new one serves."""

import os
import re
import socket
import sys
import threading
import time

import pytest

from conftest import ROOT, SLOW, children, served_version, wait_until, write_versioned_app

@pytest.fixture
def dev(serve, tmp_path):
    """start(*args) -> Server running reload_app.py from tmp_path with --reload."""
    write_versioned_app(tmp_path / "reload_app.py", "v1")

    def start(*args, **kw):
        srv = serve("reload_app:app", "--reload", *args,
                    env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PYTHONDONTWRITEBYTECODE": "1"},
                    **kw)
        assert served_version(srv.port) == "v1"
        return srv

    return start


def test_an_edit_is_served_and_the_old_generation_drains(dev, tmp_path):
    """(How fast: bench/upgrade_reload.py reload, in bench/RESULTS.md.)"""
    srv = dev()
    out = srv.output()
    assert "(development mode) watching " + str(tmp_path) in out
    write_versioned_app(tmp_path / "reload_app.py", "v2")
    wait_until(lambda: served_version(srv.port) == "v2", 20, what="v2 answering")
    srv.wait_output("generation 1 drains")
    wait_until(lambda: "all workers stopped" in srv.output(), 20, what="generation 1 gone")


def test_a_syntax_error_keeps_the_old_code_and_prints_its_traceback_once(dev, tmp_path):
    srv = dev()
    write_versioned_app(tmp_path / "reload_app.py", "v2", "\ndef broken(:\n")
    out = srv.wait_output("did not start", 20)
    assert "generation 1 keeps serving the old code" in out
    assert out.count("Traceback (most recent call last)") == 1, out
    assert out.count("SyntaxError: invalid syntax") == 2  # the traceback, and the error line
    assert served_version(srv.port) == "v1"
    write_versioned_app(tmp_path / "reload_app.py", "v3")
    wait_until(lambda: served_version(srv.port) == "v3", 10, what="the fixed code answering")
    assert srv.output().count("Traceback (most recent call last)") == 1


def test_ten_swaps_under_paced_load_refuse_no_connection(dev, tmp_path):
    """A client opens a new connection every 5 ms through ten reloads: every one
    is accepted and answered 200 by one version or the next."""
    srv = dev()
    outcomes: list[str] = []
    done = threading.Event()

    def paced():
        for _ in range(20_000):  # bounded by count and by the done flag
            if done.is_set():
                break
            try:
                outcomes.append(served_version(srv.port))
            except (OSError, AssertionError) as e:
                outcomes.append(f"error {type(e).__name__}: {e}")
            time.sleep(0.005)  # the pace

    client = threading.Thread(target=paced)
    client.start()
    try:
        for n in range(2, 12):
            write_versioned_app(tmp_path / "reload_app.py", f"v{n}")
            wait_until(lambda: outcomes and outcomes[-1] == f"v{n}", 20,
                       what=lambda: f"v{n} answering:\n{srv.output()[-2000:]}")
    finally:
        done.set()
        client.join(timeout=30 * SLOW)
    errors = [o for o in outcomes if o.startswith("error")]
    assert not errors, errors[:5]
    assert len(outcomes) > 100
    # the reloader logs a generation's "serves" when it sees it ready, which can be a
    # moment after that generation's workers already answer: wait for the tenth line
    wait_until(lambda: srv.output().count("serves; generation") == 10, 10,
               what=lambda: f"ten 'serves' lines:\n{srv.output()[-2000:]}")


def test_include_and_exclude_patterns(dev, tmp_path):
    srv = dev("--reload-include", "*.py", "--reload-include", "*.toml",
              "--reload-exclude", "scratch_*")
    (tmp_path / "notes.txt").write_text("not watched")
    (tmp_path / "scratch_1.py").write_text("x = 1\n")
    (tmp_path / "settings.toml").write_text("a = 1\n")
    srv.wait_output("settings.toml changed")
    srv.wait_output("generation 2 (master")
    out = srv.output()
    assert "notes.txt" not in out and "scratch_1.py" not in out


def test_reload_dir_and_new_subdirectories_are_watched(dev, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    srv = dev("--reload-dir", str(other))
    (other / "pkg").mkdir()
    assert f"watching {other} for" in srv.output()
    # the new directory is watched once the reloader has read its creation:
    # write until a write is noticed
    deadline = time.monotonic() + 10 * SLOW
    for n in range(200):
        if "mod.py changed" in srv.output() or time.monotonic() > deadline:
            break
        (other / "pkg" / "mod.py").write_text(f"x = {n}\n")
        time.sleep(0.05)
    assert "pkg/mod.py changed" in srv.output()


def test_refused_with_many_workers_unless_forced(tmp_path):
    import subprocess

    env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'tests' / 'apps'}")
    proc = subprocess.run([sys.executable, "-m", "frostfork", "serve", "native_basic:app",
                           "--reload", "--workers", "4", "--bind", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == 2
    assert "--reload is for development" in proc.stderr and "--reload-force" in proc.stderr
    help_text = subprocess.run([sys.executable, "-m", "frostfork", "serve", "--help"],
                               capture_output=True, text=True, timeout=30, env=env).stdout
    assert "development" in " ".join(help_text.split())


def test_forced_with_many_workers(dev):
    srv = dev("--workers", "3", "--reload-force")
    wait_until(lambda: len(srv.workers()) == 1, what="one generation")
    (master,) = srv.workers()
    wait_until(lambda: len(children(master)) == 3, what="three workers")


def test_unix_socket_file_outlives_the_generations(serve, tmp_path):
    path = tmp_path / "dev.sock"
    write_versioned_app(tmp_path / "reload_app.py", "v1")
    srv = serve("reload_app:app", "--reload", bind=f"unix:{path}", wait=False,
                env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PYTHONDONTWRITEBYTECODE": "1"})

    wait_until(lambda: path.exists() and srv.output().count("serves") == 1 and served_version(path) == "v1",
               what="generation 1 on the unix socket")
    write_versioned_app(tmp_path / "reload_app.py", "v2")
    wait_until(lambda: "all workers stopped" in srv.output(), 20, what="generation 1 gone")
    assert path.exists() and served_version(path) == "v2"
    assert srv.stop() == 0
    assert not path.exists()  # the reloader's to remove, at its exit


def test_frostfork_stats_reads_the_serving_generation(dev, tmp_path):
    import json
    import subprocess

    srv = dev()
    write_versioned_app(tmp_path / "reload_app.py", "v2")
    out = srv.wait_output(re.compile(r"generation 2 \(master \d+\) serves"), 20)
    new = int(re.search(r"generation 2 \(master (\d+)\) serves", out).group(1))
    wait_until(lambda: "all workers stopped" in srv.output(), 20, what="generation 1 gone")
    stats = subprocess.run([sys.executable, "-m", "frostfork", "stats", "--bind",
                            f"127.0.0.1:{srv.port}", "--json"], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["master"]["pid"] == new


def test_broken_at_start_waits_for_a_fix(serve, tmp_path):
    """Nothing to keep serving: the reloader waits (connections queue in the
    backlog, none is refused) and the first save that imports serves."""
    write_versioned_app(tmp_path / "reload_app.py", "v1", "\nraise ImportError('not yet')\n")
    srv = serve("reload_app:app", "--reload", wait=False,
                env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PYTHONDONTWRITEBYTECODE": "1"})
    srv.wait_banner()
    srv.wait_output("nothing serves yet; waiting for a change", 20)
    waiting = socket.create_connection(("127.0.0.1", srv.port), timeout=20 * SLOW)
    waiting.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    write_versioned_app(tmp_path / "reload_app.py", "v1")
    with waiting:
        answer = b"".join(iter(lambda: waiting.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 200") and b'"v1"' in answer
