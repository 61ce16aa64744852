"""Soak: 200,000 mixed requests against 2 workers leave no trace behind.

The mix (deterministic, by request index): valid typed bodies (200), invalid
JSON (400), bodies that fail validation (422), unknown paths (404), a handler
that raises (500), and every 500th request a >1 MiB upload that the server
spools to --spool-dir. Eight client threads drive it over keep-alive
connections, pipelining batches of requests. After a warm-up of a tenth of
the requests the workers' VmRSS, open fds and spool files are recorded; at
the end RSS may have grown by less than 2 MiB per worker and fds and spool
files must be back at the baseline. Under the sanitized build (5x slower) the
count is 20,000. Marked `soak`; bounded to ~5 minutes by its own deadline.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time

import pytest

from conftest import SANITIZED, rss_kib

pytestmark = pytest.mark.soak

TOTAL = 20_000 if SANITIZED else 200_000
CONNECTIONS = 8
BATCH = 32
DEADLINE_S = 300  # the whole test; the release build needs well under half of it
BIG = 1024 * 1024 + 4096  # above --spool-threshold 1m: spooled


def _post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _order(i: int) -> bytes:
    lines = [{"sku": f"s{j}", "qty": 1 + (i + j) % 50} for j in range(1 + i % 4)]
    return json.dumps({"customer": f"customer-{i % 977}", "lines": lines,
                       "tags": ["a", "b"][: i % 3]}).encode()


UPLOAD = _post("/upload", b"u" * BIG)


SPOOLED = b'"size":%d,"spooled":true' % BIG


def request_for(i: int) -> tuple[bytes, int]:
    """The i-th request of the mix and the status it must get."""
    if i % 500 == 250:
        return UPLOAD, 200  # and the body must say SPOOLED
    k = i % 100
    if k < 70:
        return _post("/orders", _order(i)), 200
    if k < 78:
        return _post("/orders", b'{"customer": "x", "lines": [' + str(i).encode()), 400
    if k < 86:
        return _post("/orders", b'{"customer": "ab", "lines": [{"sku": "", "qty": 0}]}'), 422
    if k < 95:
        return f"GET /missing/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode(), 404
    return b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n", 500


_CL = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.I)


class Client(threading.Thread):
    """One keep-alive connection sending indices [start, stop) step `step`."""

    def __init__(self, port: int, indices: range, deadline: float):
        super().__init__(daemon=True)
        self.port, self.indices, self.deadline = port, indices, deadline
        self.done = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._run()
        except Exception as e:  # reported by the test
            self.error = f"{type(e).__name__}: {e}"

    def _run(self) -> None:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        buf = b""
        idx = list(self.indices)
        try:
            for b0 in range(0, len(idx), BATCH):
                if time.monotonic() > self.deadline:
                    raise AssertionError(f"deadline passed after {self.done} requests")
                batch = [request_for(i) for i in idx[b0:b0 + BATCH]]
                s.sendall(b"".join(r for r, _ in batch))
                for n, (_, want) in enumerate(batch):
                    while True:
                        end = buf.find(b"\r\n\r\n")
                        if end >= 0:
                            m = _CL.search(buf, 0, end + 2)
                            size = int(m.group(1)) if m else 0
                            if len(buf) >= end + 4 + size:
                                break
                        chunk = s.recv(262144)
                        if not chunk:
                            raise AssertionError(f"server closed the connection after "
                                                 f"{self.done} requests")
                        buf += chunk
                    status = int(buf[9:12])
                    if status != want or (batch[n][0] is UPLOAD and
                                          SPOOLED not in buf[end:end + 4 + size]):
                        raise AssertionError(f"request {idx[b0 + n]}: expected {want}, got "
                                             f"{buf[:end + 4 + size][:300]!r}")
                    buf = buf[end + 4 + size:]
                    self.done += 1
        finally:
            s.close()


def drive(port: int, start: int, stop: int, deadline: float) -> int:
    clients = [Client(port, range(start + c, stop, CONNECTIONS), deadline)
               for c in range(CONNECTIONS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(timeout=max(1.0, deadline - time.monotonic() + 5))
    errors = [c.error for c in clients if c.error or c.is_alive()]
    assert not errors, errors
    return sum(c.done for c in clients)


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def spool_files(root: str) -> list[str]:
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def settle(pids: list[int], spool: str, want_fds: dict[int, int] | None = None,
           timeout: float = 15.0) -> dict:
    """Waits until fd counts and spool files stop changing (or reach want_fds)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        snap = {"fds": {p: fd_count(p) for p in pids}, "spool": spool_files(spool)}
        done = snap["fds"] == want_fds and not snap["spool"] if want_fds else snap == last
        if done or time.monotonic() > deadline:
            snap["rss"] = {p: rss_kib(p) for p in pids}
            return snap
        last = snap
        time.sleep(0.5)


def test_soak_mixed_traffic_leaves_nothing_behind(serve, tmp_path):
    t0 = time.monotonic()
    deadline = t0 + DEADLINE_S
    spool = str(tmp_path / "spool")
    os.mkdir(spool)
    srv = serve("soak_app:app", "--workers", "2", "--spool-dir", spool,
                "--spool-threshold", "1m", "--max-body", "4m")
    pids = srv.wait_workers(2)

    warm = TOTAL // 10
    assert drive(srv.port, 0, warm, deadline) == warm
    base = settle(pids, spool)
    assert srv.workers() == pids, "a worker was replaced during the warm-up"

    assert drive(srv.port, warm, TOTAL, deadline) == TOTAL - warm
    elapsed = time.monotonic() - t0
    after = settle(pids, spool, want_fds=base["fds"])

    assert srv.workers() == pids, f"workers were replaced:\n{srv.output()[-2000:]}"
    assert "died unexpectedly" not in srv.output()
    growth = {p: after["rss"][p] - base["rss"][p] for p in pids}
    report = (f"{TOTAL} requests in {elapsed:.0f} s; RSS KiB {base['rss']} -> {after['rss']}; "
              f"fds {base['fds']} -> {after['fds']}; spool {len(base['spool'])} -> "
              f"{len(after['spool'])}")
    print(report)
    if not SANITIZED:  # ASan's quarantine holds freed memory on purpose
        assert all(g < 2048 for g in growth.values()), report
    assert after["fds"] == base["fds"], report
    assert after["spool"] == base["spool"] == [], report
    assert elapsed < DEADLINE_S, report
