"""--bind unix:PATH: serving on a Unix socket (nginx's favourite upstream).

A stale socket file is replaced, a live one or a regular file is refused,
the file goes away when the master exits, and `frostfork stats --bind
unix:PATH` finds the server's stats socket beside it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys

import httpx

from conftest import ROOT, SLOW, Server, wait_until


def start(serve, path, *args: str) -> Server:
    """A master serving native_basic on unix:path, once its socket file is there."""
    srv = serve("native_basic:app", *args, bind=f"unix:{path}", wait=False)
    srv.wait_output(re.compile(r"serving \S+ on unix:"), 20)
    wait_until(lambda: os.path.exists(path), what=f"{path} created")
    return srv


def start_fails(path) -> subprocess.CompletedProcess:
    """A server that should refuse to start on unix:path (and exit 2)."""
    return subprocess.run([sys.executable, "-m", "frostfork", "serve", "native_basic:app",
                           "--bind", f"unix:{path}"], capture_output=True, text=True, cwd=ROOT,
                          timeout=30 * SLOW,
                          env=dict(os.environ, PYTHONPATH=f"{ROOT / 'tests' / 'apps'}"))


def client(path) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=10 * SLOW)


def test_serves_on_a_unix_socket_and_removes_it_on_exit(serve, tmp_path):
    path = tmp_path / "ff.sock"
    srv = start(serve, path, "--workers", "2", "--access-log", "-")
    try:
        with client(path) as c:
            for _ in range(20):  # both workers, keep-alive
                r = c.get("http://frostfork/users/7")
                assert r.status_code == 200, r.text
            assert c.get("http://frostfork/nope").status_code == 404
        out = subprocess.run([sys.executable, "-m", "frostfork", "stats", "--bind", f"unix:{path}",
                              "--json"], capture_output=True, text=True, timeout=30 * SLOW)
        assert out.returncode == 0, out.stderr
        snap = json.loads(out.stdout)
        assert sum(w["requests"] for w in snap["workers"]) >= 21
    finally:
        assert srv.stop() == 0, srv.output()
    assert not path.exists(), "the socket file outlived the server"
    assert not (tmp_path / "ff.sock.stats").exists()
    lines = [json.loads(l) for l in srv.output().splitlines() if l.startswith("{")]
    assert len(lines) == 21 and {l["remote"] for l in lines} == {"-"}


def test_stale_socket_is_replaced_live_one_and_files_are_refused(serve, tmp_path):
    path = tmp_path / "ff.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # what a SIGKILLed server leaves: a file nobody listens on
    stale.close()
    srv = start(serve, path)
    try:
        with client(path) as c:
            assert c.get("http://frostfork/").status_code == 200
        second = start_fails(path)
        assert second.returncode == 2
        assert f"cannot bind unix:{path}: a server is listening on it" in second.stderr
        with client(path) as c:  # and the first one is untouched
            assert c.get("http://frostfork/").status_code == 200
    finally:
        srv.signal(signal.SIGTERM)
        assert srv.wait_exit(15) == 0
    plain = tmp_path / "plain"
    plain.write_text("not a socket")
    third = start_fails(plain)
    assert third.returncode == 2 and "exists and is not a socket" in third.stderr
    assert plain.read_text() == "not a socket"
