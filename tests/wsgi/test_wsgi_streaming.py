"""WSGI bodies streamed over real sockets (issue 16): a large iterable goes out
as it is produced (chunked, or by the app's Content-Length), close() is called
once the body is sent and also when the client leaves mid-body, server-sent
events are flushed per event, wsgi.file_wrapper is sent with sendfile (from
the file's position) or iterated when it has no descriptor.
App: tests/apps/wsgi_stream_apps.py."""

from __future__ import annotations

import os
import re
import socket
import time

import pytest

from conftest import SLOW, Server, parse_one, raw, wait_until

MiB = 1 << 20


@pytest.fixture(scope="module")
def notes_path(tmp_path_factory):
    return tmp_path_factory.mktemp("wsgistream") / "notes"


@pytest.fixture(scope="module")
def srv(notes_path):
    s = Server("wsgi_stream_apps:app", "--wsgi", "--workers", "1",
               env={"STREAM_NOTES": str(notes_path)})
    yield s
    s.stop()
    s.check_clean()
    os.unlink(s.log.name)


def notes(p) -> str:
    return p.read_text() if p.exists() else ""


def get(srv, target: str) -> bytes:
    return raw(srv.port, f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode(),
               timeout=20)


def test_large_iterable_is_chunked_and_closed_after(srv, notes_path):
    r, rest = parse_one(get(srv, "/gen?tag=whole&items=256"))
    assert r.status == 200 and r.header("transfer-encoding") == "chunked" and rest == b""
    assert len(r.body) == 256 * 65536 and r.body[:8] == b"00000000"
    assert r.body[-65536:-65528] == b"00000255"
    wait_until(lambda: "whole closed" in notes(notes_path), 5, "close() after the body")


def test_app_content_length_frames_the_stream(srv):
    n = 100 * 65536
    r, rest = parse_one(get(srv, f"/gen?items=100&length={n}"))
    assert r.header("content-length") == str(n) and r.header("transfer-encoding") is None
    assert len(r.body) == n and rest == b""


def test_client_leaving_mid_body_closes_the_iterable(srv, notes_path):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(b"GET /gen?tag=left&items=8192 HTTP/1.1\r\nHost: t\r\n\r\n")
        s.recv(1000)
        wait_until(lambda: "left produced 16" in notes(notes_path), 10, "the body started")
    wait_until(lambda: "left closed" in notes(notes_path), 10, "close() after the client left")
    made = max(int(n) for n in re.findall(r"left produced (\d+)", notes(notes_path)))
    assert made < 8192 - 16, "the iterable ran to its end although the client was gone"


def test_event_stream_flushed_per_event(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        s.sendall(b"GET /events?delay=0.8 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        buf = b""
        deadline = time.monotonic() + 10 * SLOW
        while b"00000000" not in buf and time.monotonic() < deadline:
            buf += s.recv(4096)
        assert b"text/event-stream" in buf and b"00000001" not in buf
        while chunk := s.recv(4096):
            buf += chunk
    r, _ = parse_one(buf)
    assert r.body.count(b"xxxxxxxx") == 3


def test_file_wrapper_sent_from_the_file_position(srv, tmp_path):
    data = os.urandom(3 * MiB + 5)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    r, rest = parse_one(get(srv, f"/file?path={path}&skip=1000"))
    assert r.status == 200 and r.header("content-length") == str(len(data) - 1000)
    assert r.body == data[1000:] and rest == b""


def test_file_wrapper_without_a_descriptor_is_iterated(srv):
    r, _ = parse_one(get(srv, "/bytesio"))
    assert r.body == b"from memory " * 10000
