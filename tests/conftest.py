"""Shared fixtures: start a real frostfork master in a subprocess, talk to it
over real sockets, and fail the test if the server printed a sanitizer report."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
SANITIZED = bool(os.environ.get("FROSTFORK_SANITIZED"))
# Sanitized builds are several times slower: scale waits, never loop counts.
SLOW = 4.0 if SANITIZED else 1.0


def wait_banner(proc: subprocess.Popen, output: Callable[[], str]) -> int:
    """The port from a starting master's "on http://127.0.0.1:PORT" line."""
    deadline = time.monotonic() + 20 * SLOW
    while time.monotonic() < deadline:
        m = re.search(r"on http://127\.0\.0\.1:(\d+)", output())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode} before serving:\n{output()}")
        time.sleep(0.02)
    raise RuntimeError(f"server did not start:\n{output()}")


def stop_process(proc: subprocess.Popen) -> int:
    """SIGTERM (the drain), then SIGKILL if it outlasts the drain."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15 * SLOW)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


class Server:
    """A running `python -m frostfork serve ...` with its stderr in a file."""

    def __init__(self, target: str, *args: str, env: dict[str, str] | None = None):
        self.log = tempfile.NamedTemporaryFile(prefix="frostfork-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "frostfork", "serve", target, "--bind", "127.0.0.1:0", *args]
        full_env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'tests' / 'apps'}",
                        PYTHONUNBUFFERED="1")
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=ROOT, env=full_env)
        self.port = self._wait_banner()
        self.wait_ready()

    def _wait_banner(self) -> int:
        return wait_banner(self.proc, self.output)

    def wait_ready(self, timeout: float = 10) -> None:
        """Until a worker answers (any status) on a fresh connection."""
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            try:
                raw(self.port, b"GET /__ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                    timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"no worker answered:\n{self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def workers(self) -> list[int]:
        """Child pids of the master, read from /proc (no subprocess: under the
        sanitizer run LD_PRELOAD would reach it too)."""
        return children(self.proc.pid)

    def wait_workers(self, n: int, timeout: float = 10, exclude: set[int] = frozenset()) -> list[int]:
        deadline = time.monotonic() + timeout * SLOW
        pids: list[int] = []
        while time.monotonic() < deadline:
            pids = [p for p in self.workers() if p not in exclude]
            if len(pids) == n:
                return pids
            time.sleep(0.05)
        raise AssertionError(f"expected {n} workers, have {pids}\n{self.output()}")

    def stop(self) -> int:
        self.log.close()
        return stop_process(self.proc)

    def check_clean(self) -> None:
        out = self.output()
        for mark in SANITIZER_MARKS:
            assert mark not in out, f"sanitizer report in server output:\n{out}"
        reports = sanitizer_reports()
        assert not reports, "sanitizer reports:\n" + reports


def sanitizer_reports() -> str:
    """Reports the sanitized build wrote to FROSTFORK_SANITIZER_LOGS (make test-asan)."""
    where = os.environ.get("FROSTFORK_SANITIZER_LOGS")
    if not where or not os.path.isdir(where):
        return ""
    return "".join(Path(where, f).read_text(errors="replace") for f in sorted(os.listdir(where)))


@pytest.fixture
def serve():
    """serve(target, *cli_args) -> Server; stopped and checked at teardown."""
    started: list[Server] = []

    def start(target: str, *args: str, **kw) -> Server:
        s = Server(target, *args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
        s.check_clean()
        os.unlink(s.log.name)


def children(ppid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name may contain spaces: fields resume after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == ppid and fields[0] != "Z":
            pids.append(int(entry))
    return sorted(pids)


def raw(port: int, data: bytes, timeout: float = 5.0, shut: bool = False) -> bytes:
    """Send raw bytes, read until the server closes or `timeout` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except socket.timeout:
            pass
        return b"".join(chunks)


def parse_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a byte stream of HTTP/1.1 responses (Content-Length framed)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"incomplete response: {data[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if status < 200:
            n = 0
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out
