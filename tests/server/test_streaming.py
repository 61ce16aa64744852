"""StreamingResponse over real sockets: chunked and sized bodies, HTTP/1.0,
server-sent events flushed per event, a generator paused by a client that
does not read and closed (its finally runs) when the client goes away, a
failing generator cutting the body short, and a 1 GiB stream that leaves the
worker's memory alone. App: tests/apps/files_app.py."""

from __future__ import annotations

import os
import re
import socket
import time

import pytest

from conftest import SANITIZED, SLOW, Server, hwm_kib, parse_one, raw, wait_until

MiB = 1 << 20


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("stream")


@pytest.fixture(scope="module")
def srv(root):
    s = Server("files_app:app", "--workers", "1", env={"FILES_ROOT": str(root)})
    yield s
    s.stop()
    s.check_clean()
    os.unlink(s.log.name)


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """(payload, complete) of a chunked body."""
    out, pos = b"", 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return out, False
        size = int(body[pos:eol], 16)
        if size == 0:
            return out, body[eol + 2:eol + 4] == b"\r\n"
        out += body[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2


def notes(root) -> str:
    p = root / "state"
    return p.read_text() if p.exists() else ""


def test_chunked_stream(srv):
    out = raw(srv.port, b"GET /csv?rows=4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert b"Content-Type: text/csv" in head
    payload, complete = dechunk(body)
    assert complete and payload == b"id,name\n0,row0\n1,row1\n2,row2\n3,row3\n"


def test_http10_stream_runs_to_the_close(srv):
    out = raw(srv.port, b"GET /csv?rows=2 HTTP/1.0\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"chunked" not in head and b"Connection: close" in head
    assert body == b"id,name\n0,row0\n1,row1\n"


def test_sized_stream_keeps_the_connection(srv):
    out = raw(srv.port, b"GET /sized HTTP/1.1\r\nHost: t\r\n\r\n"
                        b"GET /csv?rows=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    r1, rest = parse_one(out)
    assert r1.status == 200 and r1.body == b"abcdefg" and r1.header("x-kind") == "sized"
    assert b"0,row0" in rest


def test_short_and_failing_streams_close_the_connection(srv):
    out = raw(srv.port, b"GET /short HTTP/1.1\r\nHost: t\r\n\r\nGET /sized HTTP/1.1\r\nHost: t\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Content-Length: 10" in head and body == b"abc"  # cut short, no second response
    out = raw(srv.port, b"GET /fails HTTP/1.1\r\nHost: t\r\n\r\nGET /sized HTTP/1.1\r\nHost: t\r\n\r\n")
    payload, complete = dechunk(out.partition(b"\r\n\r\n")[2])
    assert payload == b"first" and not complete
    srv.wait_output("generator broke")
    assert raw(srv.port, b"GET /sized HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n") \
        .endswith(b"abcdefg")


def test_server_sent_events_are_flushed_per_event(srv):
    """The first event arrives while the generator still sleeps before the next."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        s.sendall(b"GET /sse?n=3&delay=0.8 HTTP/1.1\r\nHost: t\r\n\r\n")
        buf = b""
        deadline = time.monotonic() + 10 * SLOW
        while b"tick 0" not in buf and time.monotonic() < deadline:
            buf += s.recv(4096)
        assert b"text/event-stream" in buf and b"data: tick 0\n\n" in buf
        assert b"tick 1" not in buf  # the generator has not produced it yet
        while not buf.endswith(b"0\r\n\r\n") and time.monotonic() < deadline:
            buf += s.recv(4096)
    payload, complete = dechunk(buf.partition(b"\r\n\r\n")[2])
    assert complete and payload == b"".join(b"id: %d\ndata: tick %d\n\n" % (i, i) for i in range(3))


def test_slow_client_pauses_the_generator_and_leaving_closes_it(srv, root):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(b"GET /big?mib=512&tag=paused HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: "paused produced" in notes(root), 10, "the generator started")

        def produced() -> int:
            found = re.findall(r"paused produced (\d+)", notes(root))
            return int(found[-1]) if found else 0

        last = [-1]

        def stalled() -> bool:
            n = produced()
            same = n == last[0]
            last[0] = n
            return same
        wait_until(stalled, 10 * SLOW, "the generator to stop producing")
        time.sleep(0.3)  # one more look after a pause: still no progress
        assert produced() == last[0]
        assert produced() * 64 * 1024 < 64 * MiB, "the generator ran ahead of the client"
    # the client is gone: the worker notices on its next write and closes the generator
    wait_until(lambda: "paused finally" in notes(root), 10, "the generator's finally")
    n = int(re.findall(r"paused finally after (\d+)", notes(root))[-1])
    assert n < 512 * 16
    assert raw(srv.port, b"GET /sized HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n") \
        .endswith(b"abcdefg")


def test_1_gib_stream_keeps_the_worker_small(srv):
    (worker,) = srv.wait_workers(1)
    before = hwm_kib(worker)
    total = 0
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30 * SLOW) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        s.sendall(b"GET /big?mib=1024&tag=gib HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        while chunk := s.recv(1 << 20):
            total += len(chunk)
    assert total > 1024 * MiB  # the body and its chunk framing
    grew = (hwm_kib(worker) - before) * 1024
    bar = 16 * MiB if not SANITIZED else 64 * MiB
    assert grew < bar, f"worker peak RSS grew by {grew / MiB:.1f} MiB"


def test_async_generator_in_a_worker_without_a_loop(srv, root):
    out = raw(srv.port, b"GET /agen?n=4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    payload, complete = dechunk(body)
    assert b"200 OK" in head and complete and payload == b"a0,a1,a2,a3,"
    wait_until(lambda: "agen finally" in notes(root), 10, "the async generator's finally")
