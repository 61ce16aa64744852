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
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx

import pytest

ROOT = Path(__file__).resolve().parent.parent
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
SANITIZED = bool(os.environ.get("FROSTFORK_SANITIZED"))
# Sanitized builds are several times slower: scale waits, never loop counts.
SLOW = 4.0 if SANITIZED else 1.0


def wait_until(pred: Callable[[], Any], timeout: float = 10, what: str | Callable[[], str] = "",
               interval: float = 0.02) -> Any:
    """Polls pred() until it returns something truthy, which is returned. Fails
    (AssertionError naming `what`) when `timeout` seconds (scaled by SLOW) pass
    first. The way a test waits for the server: never a fixed sleep."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() >= deadline:
            why = what() if callable(what) else what
            raise AssertionError(f"not true within {timeout * SLOW:.1f} s: {why or pred}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    """Resident memory of process `pid` (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def hwm_kib(pid: int) -> int:
    """Peak resident memory of process `pid` (VmHWM), in KiB: a copy made and
    freed between two readings still shows."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def signal_pending(pid: int, sig: int) -> bool:
    """True when `sig` waits, blocked, to be read by process `pid` (a worker
    busy in a handler reads its signalfd only when its loop turns)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = 0
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")):
            mask |= int(line.split()[1], 16)
    return bool(mask & (1 << (sig - 1)))


def _tcp_sockets() -> list[tuple[int, int, int, int]]:
    """(state, local port, remote port, receive queue) of each IPv4 TCP socket
    on 127.0.0.1, from /proc/net/tcp."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        local, remote = f[1].split(":"), f[2].split(":")
        if local[0] != "0100007F":
            continue
        rows.append((int(f[3], 16), int(local[1], 16), int(remote[1], 16),
                     int(f[4].split(":")[1], 16)))
    return rows


def unread_by_server(port: int, client: socket.socket) -> int:
    """Bytes the client sent on this connection that the server listening on
    `port` has not read yet (they have reached its socket)."""
    me = client.getsockname()[1]
    return sum(rx for state, local, remote, rx in _tcp_sockets()
               if state == 1 and local == port and remote == me)  # 1: ESTABLISHED


def server_connections(port: int) -> int:
    """Connections the server on `port` still has open on its side (every state
    but LISTEN, TIME_WAIT and CLOSE: lingering closes included)."""
    return sum(1 for state, local, _, _ in _tcp_sockets()
               if local == port and state not in (6, 7, 10))


def accept_queue(port: int) -> int:
    """Connections to `port` that wait in its listen queue, not yet accepted."""
    return sum(rx for state, local, _, rx in _tcp_sockets()
               if state == 10 and local == port)  # 10: LISTEN


class Held:
    """A request held inside native_basic's /hold handler: `path` makes it,
    wait_started() returns once its handler runs, release() lets it finish."""

    def __init__(self, where: Path, name: str = "held"):
        self.started = Path(where) / f"{name}.started"
        self.released = Path(where) / f"{name}.release"
        self.path = f"/hold?started={self.started}&release={self.released}"

    def wait_started(self, timeout: float = 10) -> None:
        wait_until(self.started.exists, timeout, what=f"the handler of {self.path} started")

    def release(self) -> None:
        self.released.touch()


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
    """A running `python -m frostfork serve TARGET --bind BIND ARGS...` (or any
    `argv` that becomes a frostfork master) with its output in a file. With
    `wait` (the default; needs a 127.0.0.1 bind), returns once a worker answers."""

    def __init__(self, target: str | None, *args: str, env: dict[str, str] | None = None,
                 bind: str = "127.0.0.1:0", argv: list[str] | None = None, pass_fds=(),
                 wait: bool = True):
        self.log = tempfile.NamedTemporaryFile(prefix="frostfork-", suffix=".log", delete=False)
        cmd = argv if argv is not None else [
            sys.executable, "-m", "frostfork", "serve", target, "--bind", bind, *args]
        full_env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'tests' / 'apps'}",
                        PYTHONUNBUFFERED="1")
        for key in ("LISTEN_FDS", "LISTEN_PID"):  # only a test playing systemd sets them
            full_env.pop(key, None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=ROOT, env=full_env, pass_fds=pass_fds)
        self.port = 0
        if wait:
            self.wait_banner()
            self.wait_ready()

    def wait_banner(self) -> int:
        """The TCP port from the master's banner, once it printed it."""
        self.port = wait_banner(self.proc, self.output)
        return self.port

    def wait_exit(self, timeout: float = 20) -> int:
        """The master's exit code, once it exits (by itself) within `timeout`."""
        return self.proc.wait(timeout=timeout * SLOW)

    def wait_ready(self, timeout: float = 10) -> None:
        """Until a worker answers (any status) on a fresh connection."""
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            try:
                if raw(self.port, b"GET /__ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                       timeout=1):
                    return
            except OSError:
                pass
            time.sleep(0.05)  # the poll interval
        raise RuntimeError(f"no worker answered:\n{self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, timeout: float = 10, **kw) -> httpx.Response:
        """One GET over a fresh connection (httpx), the timeout scaled by SLOW."""
        return httpx.get(self.url(path), timeout=timeout * SLOW, **kw)

    def wait_output(self, text: str, timeout: float = 10) -> str:
        """The server's output once it contains `text` (a string or compiled regex)."""
        has = (lambda o: text.search(o)) if hasattr(text, "search") else (lambda o: text in o)
        return wait_until(lambda: (lambda o: o if has(o) else "")(self.output()), timeout,
                          what=lambda: f"{text!r} in the server output:\n{self.output()}")

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
    return exchange(port, data, timeout, shut)[0]


def exchange(port: int, data: bytes, timeout: float = 5.0,
             shut: bool = False) -> tuple[bytes, bool]:
    """Sends data on a new connection, reads until the server closes (True)
    or no byte came for `timeout` seconds, scaled by SLOW (False). A server
    that refuses mid-send or resets still has its earlier answer read."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW) as s:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-send: what it said before closing is still readable
        chunks = []
        closed = False
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    closed = True
                    break
                chunks.append(b)
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        return b"".join(chunks), closed


@dataclass
class Resp:
    """One parsed HTTP/1.1 response: headers as (lower-case name, value) pairs in
    the order sent, and the raw head (status line and headers, no CRLFCRLF)."""
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    head: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of a header sent at most once (fails if it was repeated)."""
        vals = [v for k, v in self.headers if k == name.lower()]
        assert len(vals) <= 1, f"{name} sent {len(vals)} times: {vals}"
        return vals[0] if vals else None

    def __iter__(self):
        """Unpacks as (status, reason, headers, body, head)."""
        return iter((self.status, self.reason, self.headers, self.body, self.head))


def parse_one(buf: bytes, no_body: bool = False) -> tuple[Resp, bytes] | None:
    """(the first response in buf, the bytes after it), or None while it is
    incomplete. Content-Length or chunked framing (the body returned decoded);
    no body for 1xx, 204, 304 or when `no_body` (the answer to a HEAD). Fails
    on a malformed head."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    version, code, reason = (lines[0].split(" ", 2) + [""])[:3]
    assert version == "HTTP/1.1" and code.isdigit(), f"bad status line {lines[0]!r}"
    headers = []
    for line in lines[1:]:
        k, colon, v = line.partition(":")
        assert colon, f"malformed response header line {line!r}"
        headers.append((k.strip().lower(), v.strip()))
    status = int(code)
    cls = [v for k, v in headers if k == "content-length"]
    assert len(cls) <= 1, f"several Content-Length: {head!r}"
    if not (no_body or status < 200 or status in (204, 304)) and \
            any(k == "transfer-encoding" and v.lower() == "chunked" for k, v in headers):
        assert not cls, f"Content-Length with chunked: {head!r}"
        body, pos = b"", 0
        while True:  # chunk-size CRLF data CRLF ... 0 CRLF CRLF (no extensions, no trailers)
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(rest[pos:eol], 16)
            if size == 0:
                if len(rest) < eol + 4:
                    return None
                assert rest[eol + 2:eol + 4] == b"\r\n", "trailers in a response"
                return Resp(status, reason, headers, body, head), rest[eol + 4:]
            if len(rest) < eol + 2 + size + 2:
                return None
            body += rest[eol + 2:eol + 2 + size]
            assert rest[eol + 2 + size:eol + 4 + size] == b"\r\n", "bad chunk framing"
            pos = eol + 4 + size
    n = 0 if (no_body or status < 200 or status in (204, 304)) else int(cls[0]) if cls else 0
    if len(rest) < n:
        return None
    return Resp(status, reason, headers, rest[:n], head), rest[n:]


def parse_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a whole byte stream of HTTP/1.1 responses (interim ones included)
    into (status, headers as a dict, body); fails on an incomplete one."""
    out = []
    while data:
        parsed = parse_one(data)
        assert parsed, f"incomplete response: {data[:200]!r}"
        r, data = parsed
        out.append((r.status, dict(r.headers), r.body))
    return out


class Closed(ConnectionError):
    """The server closed the connection before a whole response arrived;
    `partial` holds the bytes of it that did (b"": none at all)."""

    def __init__(self, msg: str, partial: bytes = b""):
        super().__init__(msg)
        self.partial = partial


_LEFTOVER: "weakref.WeakKeyDictionary[socket.socket, bytes]" = weakref.WeakKeyDictionary()


def recv_by(sock: socket.socket, deadline: float, what: str, have: bytes = b"",
            size: int = 65536) -> bytes:
    """The next bytes from sock, waiting until `deadline` (time.monotonic()) at
    most: TimeoutError after it, Closed if the server closed (or reset) first.
    `what` (what was being read) and `have` (what was read so far) go into the
    error."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"no {what} in time: {have[:300]!r}")
    sock.settimeout(left)
    try:
        chunk = sock.recv(size)
    except socket.timeout:
        raise TimeoutError(f"no {what} in time: {have[:300]!r}") from None
    except ConnectionResetError:
        chunk = b""
    if not chunk:
        raise Closed(f"server closed before a whole {what}: {have[:300]!r}", have)
    return chunk


def read_response(sock: socket.socket, head: bool = False, timeout: float = 5.0) -> Resp:
    """Reads exactly one final response from sock (interim 1xx ones are
    skipped); `head`: it answers a HEAD, so it has no body. Bytes past it (the
    next pipelined response) are kept for the next call on the same socket.
    Raises Closed if the server closes first, TimeoutError after `timeout`
    seconds (scaled by SLOW)."""
    deadline = time.monotonic() + timeout * SLOW
    buf = _LEFTOVER.pop(sock, b"")
    while True:
        parsed = parse_one(buf, head)
        if parsed and parsed[0].status < 200:
            buf = parsed[1]
            continue
        if parsed:
            r, rest = parsed
            if rest:
                _LEFTOVER[sock] = rest
            return r
        buf += recv_by(sock, deadline, "response", buf)


def pending(sock: socket.socket) -> bytes:
    """Bytes read past the last response read_response returned on sock."""
    return _LEFTOVER.get(sock, b"")


def request(sock: socket.socket, path: str, method: str = "GET", head: bool = False,
            timeout: float = 5.0) -> Resp:
    """One request (no body) on an open keep-alive connection, and its response."""
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return read_response(sock, head=head or method == "HEAD", timeout=timeout)


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (read from /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


VERSIONED_APP = """\
import frostfork
app = frostfork.App()

@app.get("/")
def index():
    return {{"version": {version!r}}}
"""


def write_versioned_app(path: Path, version: str, extra: str = "") -> None:
    """A module whose app answers GET / with {"version": version}: rewritten by
    the upgrade and reload tests to see which code answers. Serve it with
    PYTHONDONTWRITEBYTECODE=1: two versions of the same size written within a
    second would otherwise be taken for one by the .pyc check."""
    path.write_text(VERSIONED_APP.format(version=version) + extra)


def served_version(where: "int | Path") -> str:
    """The version a versioned app answers GET / with, over a fresh connection
    to 127.0.0.1:`where` (a port) or to the Unix socket at `where` (a path)."""
    family = socket.AF_INET if isinstance(where, int) else socket.AF_UNIX
    address = ("127.0.0.1", where) if isinstance(where, int) else str(where)
    with socket.socket(family) as s:
        s.settimeout(10 * SLOW)
        s.connect(address)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b"".join(iter(lambda: s.recv(65536), b""))
    m = re.search(rb'"version":"([^"]*)"', data)
    assert m, f"not a versioned app's answer: {data[:200]!r}"
    return m.group(1).decode()
def served(target: str, *args: str):
    """A module-scoped fixture: one server for every test of the module, stopped
    and checked for sanitizer reports at teardown. `mine = served("app:app")`."""
    @pytest.fixture(scope="module")
    def fixture():
        s = Server(target, *args)
        yield s
        s.stop()
        s.check_clean()
    return fixture

