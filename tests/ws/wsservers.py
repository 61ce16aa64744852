"""Servers for the WebSocket tests: frostfork's native ws_app, the raw ASGI echo app under
frostfork --asgi, and (as the reference) the same ASGI app under uvicorn --ws websockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, SLOW, Server, free_port, wait_until

# the message limit every server under test runs with (--ws-max-message / --ws-max-size)
LIMIT = 1 << 20

try:
    import frostfork
    HAS_WS = hasattr(frostfork, "WebSocket")
except ImportError:  # pragma: no cover
    HAS_WS = False

needs_ws = pytest.mark.skipif(not HAS_WS, reason="frostfork has no WebSocket support yet")

# Which servers the conformance suite runs against. uvicorn is the reference the suite was
# validated on; FROSTFORK_WS_REFERENCE=1 adds it (kept out of `make test` for time).
SERVERS = ["frostfork", "frostfork-asgi"]
if os.environ.get("FROSTFORK_WS_REFERENCE"):
    SERVERS.append("uvicorn")


class Uvicorn:
    """uvicorn serving `target` from tests/apps with its websockets implementation."""

    def __init__(self, target: str, *args: str) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", target, "--port", str(self.port), "--host",
             "127.0.0.1", "--log-level", "warning", "--ws", "websockets", *args],
            cwd=ROOT / "tests" / "apps", stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._up, timeout=60, what=lambda: f"uvicorn up: {self.output()}")

    def _up(self) -> bool:
        assert self.proc.poll() is None, f"uvicorn exited: {self.output()}"
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()
        os.unlink(self.log.name)

    def check_clean(self) -> None:
        pass


def start(kind: str, *extra: str):
    """A running server of `kind` with the suite's message limit."""
    if kind == "uvicorn":
        return Uvicorn("ws_asgi:echo", "--ws-max-size", str(LIMIT), *extra)
    if not HAS_WS:
        pytest.skip("frostfork has no WebSocket support yet")
    target = "ws_app:app" if kind == "frostfork" else "ws_asgi:echo"
    asgi = ["--asgi"] if kind == "frostfork-asgi" else []
    return Server(target, *asgi, "--workers", "1", "--ws-max-message", str(LIMIT), *extra)


@pytest.fixture(scope="module", params=SERVERS)
def ws_server(request):
    """One server per kind for the whole module; .kind says which."""
    srv = start(request.param)
    srv.kind = request.param
    yield srv
    srv.stop()
    srv.check_clean()


def close_path(kind: str, code: int, reason: str = "") -> str:
    """The route that accepts then closes with code and reason, on each server."""
    from urllib.parse import quote
    if kind == "frostfork":
        return f"/close/{code}?reason={quote(reason)}"
    return f"/close?code={code}&reason={quote(reason)}"
