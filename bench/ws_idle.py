"""Memory of idle WebSockets: one frostfork worker (tests/apps/ws_app.py, /echo) holds
--count open, idle connections; prints its RSS before and after, and per connection.

Run by bench/run-ws (IDLE=N), or alone from the repo root:
    PYTHONPATH=tests/apps:. python bench/ws_idle.py --count 10000
Connections are opened with raw sockets in batches (each batch's handshakes awaited
together), everything within --timeout seconds."""

from __future__ import annotations

import argparse
import base64
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def children(ppid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == ppid:
                out.append(int(entry))
    return out


def request(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()


def open_batch(port: int, n: int, deadline: float) -> list[socket.socket]:
    """n WebSockets: connect and send each handshake, then wait for all the 101s."""
    socks, heads = [], {}
    sel = selectors.DefaultSelector()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request(port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
        heads[s] = b""
    waiting = set(socks)
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(waiting)} handshakes unanswered")
        for key, _ in sel.select(timeout=min(left, 1.0)):
            s = key.fileobj
            data = s.recv(4096)
            if not data:
                raise RuntimeError(f"closed during the handshake: {heads[s][:200]!r}")
            heads[s] += data
            if b"\r\n\r\n" in heads[s]:
                if not heads[s].startswith(b"HTTP/1.1 101"):
                    raise RuntimeError(f"refused: {heads[s][:200]!r}")
                sel.unregister(s)
                waiting.discard(s)
    sel.close()
    return socks


def echo_ok(s: socket.socket) -> bool:
    """One masked text frame "ping?" and its echo, on an open WebSocket."""
    s.setblocking(True)
    s.settimeout(10)
    key = os.urandom(4)
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(b"ping?"))
    s.sendall(bytes([0x81, 0x80 | 5]) + key + payload)
    got = b""
    while len(got) < 7:
        chunk = s.recv(64)
        if not chunk:
            return False
        got += chunk
    return got[:7] == b"\x81\x05ping?"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.count + 200
    if hard < need:
        print(f"needs {need} open files, the hard limit is {hard}", file=sys.stderr)
        return 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))  # the server inherits it
    log = tempfile.NamedTemporaryFile(prefix="ws-idle-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "frostfork", "serve", "ws_app:app", "--workers", "1",
         "--bind", "127.0.0.1:0", "--max-connections", str(args.count + 100)],
        stdout=log, stderr=subprocess.STDOUT)
    socks: list[socket.socket] = []
    deadline = time.monotonic() + args.timeout
    try:
        port = 0
        while not port:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start: " + Path(log.name).read_text()[-2000:])
            m = re.search(r"on http://127\.0\.0\.1:(\d+)", Path(log.name).read_text())
            port = int(m.group(1)) if m else 0
            time.sleep(0.05)
        workers: list[int] = []
        while len(workers) != 1 and time.monotonic() < deadline:
            workers = children(proc.pid)
            time.sleep(0.05)
        (worker,) = workers
        socks += open_batch(port, 10, deadline)  # warm: the route, the loop, the first buffers
        for s in socks:
            assert echo_ok(s)
        base = rss_kib(worker)
        t0 = time.monotonic()
        while len(socks) < args.count:
            socks += open_batch(port, min(args.batch, args.count - len(socks)), deadline)
        took = time.monotonic() - t0
        assert all(echo_ok(s) for s in socks[-10:]), "the last connections do not echo"
        assert all(echo_ok(s) for s in socks[:10]), "the first connections do not echo"
        after = rss_kib(worker)
        label = f"{len(socks):,} idle WebSockets"
        print(f"  worker RSS with {'10 WebSockets':>{len(label)}}: {base / 1024:8.1f} MiB")
        print(f"  worker RSS with {label}: {after / 1024:8.1f} MiB")
        print(f"  per connection: {(after - base) / (len(socks) - 10):.1f} KiB "
              f"(opened in {took:.1f} s)")
        return 0
    finally:
        for s in socks:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)


if __name__ == "__main__":
    sys.exit(main())
