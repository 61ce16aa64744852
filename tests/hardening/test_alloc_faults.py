"""Allocation failure is safe: every allocation a request makes is failed in
turn, and the server must answer completely or close, never send half a
response, and never lose the worker.

Needs a build with -Dfault_inject=true (`make test-alloc-faults` makes one
with ASan+UBSan in .venv-fault); other builds skip these tests. In that
build the C core's own allocations (util/buf.h growth, connections, spool
paths) and Python's object and memory allocators go through one counter.
`X-Frostfork-Fail-Alloc: N` fails the Nth allocation counted from the start
of that request's dispatch to the end of its cleanup; `/_frostfork/fault`
says how many the last such request made, whether the failure fired, and the
live block count (allocations minus frees through the counter).

The range of N: for each kind of request, N runs from 1 until the failure has
not fired three times running, that is, over every allocation one such
request makes (from 1 for a 404 to about 200 for a logged 500; freelists
serve most small objects without an allocation; the counts are printed with
-s). One worker serves each whole sweep, so it costs requests, not server
starts: the file runs in about 10 s under ASan. "N+" fails the C core's
allocations from N on (a response that can never be written: the close).
"""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from conftest import SLOW, Closed, pending, read_response

import frostfork._core as core

# make test-alloc-faults sets FROSTFORK_REQUIRE_FAULT_INJECT: there a build
# without the hook is an error, not a skip.
if os.environ.get("FROSTFORK_REQUIRE_FAULT_INJECT") and not core.FAULT_INJECT:
    raise RuntimeError("this frostfork build has no fault injection (-Dfault_inject=true)")

pytestmark = pytest.mark.skipif(
    not core.FAULT_INJECT, reason="needs a -Dfault_inject=true build (make test-alloc-faults)")

# Each kind: (method, target, body). The expected status and body are those of
# the same request sent without a failure.
NATIVE_KINDS = {
    "typed-200": ("POST", "/items", b'{"name":"pen","qty":3}'),
    "typed-422": ("POST", "/items", b'{"name":"","qty":-1}'),
    "json-200": ("GET", "/hello/world?n=2", b""),
    "404": ("GET", "/missing", b""),
    "405": ("DELETE", "/hello/world", b""),
    "handler-500": ("GET", "/boom", b""),
}
WSGI_KINDS = {
    "wsgi-200": ("POST", "/w/x", b"abc"),
    "wsgi-500": ("GET", "/boom", b""),
}
# A sweep that has not ended by here is a counter that never stops firing.
MAX_N = 3000
# The leak checks. The C core's own live blocks (connections, buffers) must
# be back where they were once the sweep's connections are closed: exactly.
# Python's live blocks (allocations minus frees, after a collection) may grow
# by what caches keep (a traceback's first formatting fills linecache) and by
# what the same number of plain 500s grows them: logging a traceback from the
# worker grows them by about one block per 500 in CPython's traceback code,
# with no failure injected and no frostfork object kept. That rate is
# measured (`rate_500`, after a warm-up) and allowed twice over for every
# request of the sweep that logged one.
LEAK_SLACK = 64
WARM_500 = 300


def request(kind: tuple[str, str, bytes], fail: str | None) -> bytes:
    method, target, body = kind
    head = f"{method} {target} HTTP/1.1\r\nHost: t\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    if fail is not None:
        head += f"X-Frostfork-Fail-Alloc: {fail}\r\n"
    return head.encode() + b"\r\n" + body


def read_whole(sock: socket.socket):
    """One whole response, Content-Length framed, or None when the server
    closed without sending a byte. Bytes followed by a close before the
    response is whole fail the test (a truncated response), as do bytes
    after it."""
    try:
        r = read_response(sock, timeout=10)
    except Closed as e:
        assert not e.partial, f"truncated response: {e.partial[:300]!r}"
        return None
    assert r.header("content-length") is not None, f"no Content-Length: {r.head!r}"
    assert not pending(sock), f"bytes after the response: {pending(sock)[:200]!r}"
    return r.status, dict(r.headers), r.body


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)


def fault_stats(port: int, sock: socket.socket | None = None) -> tuple[int, bool, int, int, bool]:
    """From /_frostfork/fault, on sock if given: the last request's allocation
    count and whether its failure fired, the live block counts of Python and
    of the C core, and whether FROSTFORK_FAIL_ALLOC_AT has fired."""
    own = sock is None
    s = connect(port) if own else sock
    try:
        s.sendall(b"GET /_frostfork/fault HTTP/1.1\r\nHost: t\r\n\r\n")
        got = read_whole(s)
    finally:
        if own:
            s.close()
    assert got and got[0] == 200, f"fault stats: {got!r}"
    count, fired, live, live_c, env_fired = got[2].split()
    return int(count), fired == b"1", int(live), int(live_c), env_fired == b"1"


def expect_baseline(port: int, kind) -> tuple[int, bytes]:
    with connect(port) as s:
        s.sendall(request(kind, None))
        got = read_whole(s)
    assert got, f"no response to {kind}"
    return got[0], got[2]


def check_failed(kind, base_status: int, base_body: bytes, got) -> None:
    """A response made while an allocation failed: the same as without the
    failure, or a 500 for the MemoryError (an error body in JSON)."""
    status, headers, body = got
    if status == base_status and 200 <= status < 300:
        assert body == base_body, f"{kind}: 2xx with another body: {body[:300]!r}"
        return
    assert status in (base_status, 500), f"{kind}: status {status} (expected {base_status})"
    if status == 500 or headers.get("content-type") == "application/json":
        json.loads(body)  # whole JSON, not a prefix of it


def sweep(port: int, name: str, kind, sticky: bool) -> dict:
    """Fails allocation 1, 2, ... of the request (with `sticky`, that one and
    every later one) until it has not fired three times running: past the
    last allocation (a request that fails makes more or fewer allocations
    later, as caches fill or not, so one miss is not the end)."""
    base_status, base_body = expect_baseline(port, kind)
    with connect(port) as s:  # the count of an unfailed request, for the report
        s.sendall(request(kind, "0"))
        assert read_whole(s)
        total = fault_stats(port, s)[0]
    outcomes = {"answered": 0, "500": 0, "closed": 0}
    n = misses = 0
    while misses < 3:
        n += 1
        assert n <= MAX_N, f"{name}: the failure still fires at allocation {n}"
        s = connect(port)
        try:
            s.sendall(request(kind, f"{n}+" if sticky else str(n)))
            got = read_whole(s)
            if got is None:
                outcome = "closed"
                stats = fault_stats(port)
            else:
                check_failed(name, base_status, base_body, got)
                outcome = "500" if got[0] == 500 else "answered"
                if got[1].get("connection") == "close":
                    assert read_whole(s) is None  # and nothing after it
                    stats = fault_stats(port)
                else:
                    # keep-alive: the stream must still be in step
                    stats = fault_stats(port, s)
        finally:
            s.close()
        misses = 0 if stats[1] else misses + 1
        outcomes[outcome] += stats[1]
    return {"kind": name, "allocations": total, "swept": n - 3, **outcomes}


def plain_500_rate(port: int, kind) -> float:
    """Live blocks gained per 500 response with no failure injected, after
    WARM_500 of them."""
    with connect(port) as s:
        for i in range(WARM_500 + 100):
            if i == WARM_500:
                live0 = fault_stats(port, s)[2]
            s.sendall(request(kind, None))
            assert read_whole(s)[0] == 500
        return max(0, fault_stats(port, s)[2] - live0) / 100


def settled_c_blocks(port: int, want: int) -> int:
    """The C core's live blocks, polled until they are down to `want` (a
    connection the client closed is freed when the worker reads its EOF) or
    a deadline passes."""
    deadline = time.monotonic() + 5 * SLOW
    while True:
        live_c = fault_stats(port)[3]
        if live_c <= want or time.monotonic() > deadline:
            return live_c
        time.sleep(0.02)


def run_sweeps(serve, target: str, kinds: dict, *args: str, sticky: bool, boom) -> list[dict]:
    srv = serve(target, "--workers", "1", *args)
    (pid,) = srv.wait_workers(1)
    rate_500 = plain_500_rate(srv.port, boom)
    reports = []
    for name, kind in kinds.items():
        for _ in range(3):  # warm caches the first requests of a kind fill
            expect_baseline(srv.port, kind)
        _, _, live0, live_c0, _ = fault_stats(srv.port)
        report = sweep(srv.port, name, kind, sticky)
        for _ in range(3):
            expect_baseline(srv.port, kind)
        report["live_growth"] = fault_stats(srv.port)[2] - live0
        report["c_growth"] = settled_c_blocks(srv.port, live_c0) - live_c0
        reports.append(report)
        assert report["c_growth"] <= 0, f"{name}: the C core leaked in the sweep: {report}"
        # every failed request logged a traceback: a 500, or a close when
        # not even the 500 could be written (the 404 and 405 log none)
        logged = report["500"] + report["closed"]
        allowed = LEAK_SLACK + 2 * rate_500 * logged
        assert report["live_growth"] <= allowed, f"{name}: blocks leaked in the sweep: {report}"
    assert srv.workers() == [pid], f"the worker died:\n{srv.output()[-3000:]}"
    assert "died unexpectedly" not in srv.output()
    for r in reports:
        print(r)
    print(f"plain 500: {rate_500:.2f} live blocks each")
    return reports


def access_lines(path, want: int) -> list[str]:
    """The access log's lines once at least `want` are there (it is flushed
    every 100 ms)."""
    deadline = time.monotonic() + 10 * SLOW
    while True:
        text = path.read_text() if path.exists() else ""
        if text.count("\n") >= want or time.monotonic() > deadline:
            return text.splitlines(keepends=True)
        time.sleep(0.05)


@pytest.mark.parametrize("sticky", [False, True], ids=["once", "from-n-on"])
def test_native_paths_survive_every_allocation_failure(serve, sticky, tmp_path):
    log = tmp_path / "access.log"
    reports = run_sweeps(serve, "alloc_app:app", NATIVE_KINDS, "--access-log", str(log),
                         sticky=sticky, boom=NATIVE_KINDS["handler-500"])
    assert all(r["swept"] > 0 for r in reports)
    if sticky:  # nothing can be answered once every allocation fails
        assert all(r["closed"] == r["swept"] for r in reports), reports
    # A line the worker had no memory for is dropped whole, never cut short;
    # a request left unanswered is logged with status 0.
    swept = sum(r["swept"] for r in reports)
    lines = access_lines(log, swept)
    assert len(lines) >= swept // 2, f"{len(lines)} access-log lines for {swept} failed requests"
    records = [json.loads(line) for line in lines]
    assert all(line.endswith("\n") for line in lines)
    assert {r["status"] for r in records} <= {0, 200, 404, 405, 422, 500}
    if sticky:
        assert any(r["status"] == 0 for r in records)


@pytest.mark.parametrize("sticky", [False, True], ids=["once", "from-n-on"])
def test_wsgi_paths_survive_every_allocation_failure(serve, sticky):
    reports = run_sweeps(serve, "alloc_app:wsgi", WSGI_KINDS, "--wsgi", sticky=sticky,
                         boom=WSGI_KINDS["wsgi-500"])
    assert all(r["swept"] > 0 for r in reports)


@pytest.mark.parametrize("at", [1, 2, 3])
def test_failures_before_dispatch(serve, at):
    """FROSTFORK_FAIL_ALLOC_AT=N counts from when the worker starts serving:
    1 is the first connection's state, 2 its input buffer, 3 the first
    allocation of its first request. Whatever the first connection gets, the
    worker lives and every later request is answered in full."""
    # the fixture's readiness probe is the first connection: it takes the failure
    srv = serve("alloc_app:app", "--workers", "1", env={"FROSTFORK_FAIL_ALLOC_AT": str(at)})
    (pid,) = srv.wait_workers(1)
    assert fault_stats(srv.port)[4], "the failure did not fire on the first connection"
    for name, kind in NATIVE_KINDS.items():
        with connect(srv.port) as s:
            s.sendall(request(kind, None))
            got = read_whole(s)
        assert got and got[0] in (200, 404, 405, 422, 500), (name, got)
    status, body = expect_baseline(srv.port, NATIVE_KINDS["json-200"])
    assert (status, json.loads(body)) == (200, {"hello": "world", "n": 2})
    assert srv.workers() == [pid]
