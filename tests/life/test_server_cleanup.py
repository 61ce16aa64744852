"""Cleanup that holds under faults: spooled uploads, raising handlers, killed workers."""

import hashlib
import json
import os
import random
import signal
import socket
import time

import httpx

from conftest import SLOW, parse_responses, wait_until


def post(port, path, body, timeout=30):
    return httpx.post(f"http://127.0.0.1:{port}{path}", content=body, timeout=timeout * SLOW)


def state(port):
    return httpx.get(f"http://127.0.0.1:{port}/state", timeout=10 * SLOW).json()


def test_5000_requests_leave_no_files_fds_or_requests_behind(serve, tmp_path):
    srv = serve("life_app:app", "--workers", "1", "--spool-dir", str(tmp_path),
                "--spool-threshold", "64k")
    big = b"u" * (200 * 1024)
    with httpx.Client(timeout=30 * SLOW) as c:
        base = f"http://127.0.0.1:{srv.port}"
        for _ in range(20):  # warm up: imports, caches, first spool
            c.post(base + "/upload", content=big)
        before = c.get(base + "/state").json()
        counts = {200: 0, 500: 0}
        for i in range(5000):
            if i % 3 == 0:
                r = c.post(base + "/upload", content=big)
                assert r.json() == {"size": len(big), "spooled": True}
            elif i % 3 == 1:
                r = c.post(base + "/upload-fail", content=big if i % 2 else b"small")
            else:
                r = c.get(base + "/ok")
            counts[r.status_code] += 1
        after = c.get(base + "/state").json()
    assert counts == {200: 3333, 500: 1667}
    assert after["spool_files"] == 0
    assert after["fds"] <= before["fds"]
    assert after["alive_requests"] == 0 and after["seen"] == before["seen"] + 5000
    assert os.listdir(after["spool"]) == []


def test_killed_worker_mid_upload_is_cleaned_by_the_master(serve, tmp_path):
    srv = serve("life_app:app", "--workers", "1", "--spool-dir", str(tmp_path),
                "--spool-threshold", "16k")
    first = state(srv.port)
    spool = first["spool"]
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n")
        s.sendall(b"x" * 1_000_000)
        wait_until(lambda: os.listdir(spool), what="the upload spooling")
        os.kill(first["pid"], signal.SIGKILL)
        wait_until(lambda: not os.path.exists(spool), what="the master removed the spool dir")
    second = state(srv.port)
    assert second["pid"] != first["pid"] and second["spool_files"] == 0
    assert post(srv.port, "/upload", b"y" * 100_000).json()["size"] == 100_000


def test_request_tempfiles_and_deferred_calls_run_when_the_request_ends(serve, tmp_path):
    log = tmp_path / "deferred.log"
    srv = serve("life_app:app", env={"FF_DEFER_LOG": str(log)})
    r = httpx.get(f"http://127.0.0.1:{srv.port}/tempfile", timeout=10).json()
    assert r["active"] is True
    wait_until(lambda: not os.path.exists(r["path"]) and log.exists(), 5,
               what="the tempfile removed and the deferred call run")
    assert log.read_text() == r["path"] + "\n"


def test_pipelined_request_after_a_spooled_body_is_answered(serve, tmp_path):
    srv = serve("life_app:app", "--spool-dir", str(tmp_path), "--spool-threshold", "1k")
    body = b"p" * 5000
    data = (b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + body +
            b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    (s1, _, b1), (s2, _, b2) = parse_responses(out)
    assert (s1, json.loads(b1)) == (200, {"size": 5000, "spooled": True})
    assert (s2, json.loads(b2)) == (200, {"ok": True})


def _chunked(body: bytes, rng: random.Random) -> bytes:
    """body as chunks of random sizes (some with extensions), then the last chunk."""
    out, i = [], 0
    while i < len(body):
        n = rng.randrange(1, 40_000)
        ext = b";x=1" if rng.random() < 0.2 else b""
        out.append(b"%x%s\r\n%s\r\n" % (len(body[i:i + n]), ext, body[i:i + n]))
        i += n
    return b"".join(out) + b"0\r\n\r\n"


def test_chunked_bodies_spool_past_the_threshold(serve, tmp_path):
    """A chunked body has no size up front: once its decoded bytes pass
    --spool-threshold they move to a spool file, the rest follow as they
    arrive (sent here in pieces), the handler sees every byte in order, and
    a pipelined request after it is answered. Below the threshold it stays in
    memory. The spool file is gone when the request ends."""
    srv = serve("life_app:app", "--workers", "1", "--spool-dir", str(tmp_path),
                "--spool-threshold", "64k")
    rng = random.Random(7)
    big = bytes(rng.randrange(256) for _ in range(300_000))
    small = b"s" * 10_000
    head = b"POST /upload-digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    data = (head + _chunked(big, rng) + head + _chunked(small, rng) +
            b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        for i in range(0, len(data), 50_000):  # so that spooling starts mid-stream
            s.sendall(data[i:i + 50_000])
            time.sleep(0.01)  # the behaviour under test: the body arrives in pieces
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    (s1, _, b1), (s2, _, b2), (s3, _, b3) = parse_responses(out)
    assert (s1, json.loads(b1)) == (200, {"size": len(big), "spooled": True,
                                          "sha256": hashlib.sha256(big).hexdigest()})
    assert (s2, json.loads(b2)) == (200, {"size": len(small), "spooled": False,
                                          "sha256": hashlib.sha256(small).hexdigest()})
    assert (s3, json.loads(b3)) == (200, {"ok": True})
    assert state(srv.port)["spool_files"] == 0


def test_chunked_body_over_max_body_is_413_and_leaves_no_spool_file(serve, tmp_path):
    srv = serve("life_app:app", "--workers", "1", "--spool-dir", str(tmp_path),
                "--spool-threshold", "16k", "--max-body", "100k")
    rng = random.Random(3)
    data = (b"POST /upload-digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
            _chunked(b"z" * 200_000, rng))
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
    assert out.startswith(b"HTTP/1.1 413 "), out[:100]
    assert state(srv.port)["spool_files"] == 0
