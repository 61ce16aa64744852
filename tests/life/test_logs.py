"""Access log and audit trail: batched per worker, whole lines, faults contained."""

import json
import os
import re
import signal
import sqlite3
import time

import httpx

from conftest import SLOW, signal_pending, wait_until


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_json_access_log(serve, tmp_path):
    log = tmp_path / "access.log"
    srv = serve("life_app:app", env={"FF_ACCESS": str(log)})
    httpx.get(f"http://127.0.0.1:{srv.port}/ok?api_key=k1&x-internal=v&page=2",
              headers={"X-Request-Id": "abc-123"}, timeout=10)
    httpx.post(f"http://127.0.0.1:{srv.port}/upload-fail", content=b"12345", timeout=10)
    wait_until(lambda: len([l for l in lines(log) if "/__ready" not in l]) >= 2)
    recs = [json.loads(l) for l in lines(log) if "/__ready" not in l]
    ok, fail = recs[-2], recs[-1]
    assert ok["path"] == "/ok?api_key=***&x-internal=***&page=2"
    assert (ok["method"], ok["status"], ok["request_id"]) == ("GET", 200, "abc-123")
    assert [ok["pid"]] == srv.workers()  # the one worker wrote it
    assert ok["bytes_out"] > 0 and ok["duration_us"] >= 0 and ok["time"].endswith("Z")
    assert (fail["status"], fail["bytes_in"]) == (500, 5)
    assert fail["request_id"] in srv.output()  # the same id as the traceback


def test_common_log_format(serve, tmp_path):
    log = tmp_path / "access.log"
    srv = serve("life_app:app", env={"FF_ACCESS": str(log), "FF_ACCESS_FORMAT": "common"})
    httpx.get(f"http://127.0.0.1:{srv.port}/ok", timeout=10)
    wait_until(lambda: any('"GET /ok HTTP/1.1" 200' in l for l in lines(log)))
    line = next(l for l in lines(log) if "/ok" in l)
    assert re.match(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /ok HTTP/1\.1" 200 \d+ \d+us \S+$', line)


def test_lines_from_several_workers_never_interleave(serve, tmp_path):
    log = tmp_path / "access.log"
    srv = serve("life_app:app", "--workers", "3", env={"FF_ACCESS": str(log)})
    import threading

    def hammer():
        with httpx.Client(timeout=10 * SLOW) as c:
            for i in range(300):
                c.get(f"http://127.0.0.1:{srv.port}/ok?n={i}&pad={'x' * 200}")
                if i % 30 == 0:  # busy workers make the others accept
                    httpx.get(f"http://127.0.0.1:{srv.port}/slow?n=x", timeout=10 * SLOW)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * SLOW)
    wait_until(lambda: sum("/ok?n=" in l for l in lines(log)) == 1200, 10)
    pids = set()
    for l in lines(log):
        rec = json.loads(l)  # every line is whole JSON
        pids.add(rec["pid"])
    assert len(pids) >= 2


def test_sigusr1_reopens_the_log_for_logrotate(serve, tmp_path):
    log = tmp_path / "access.log"
    srv = serve("life_app:app", "--workers", "2", env={"FF_ACCESS": str(log)})
    httpx.get(f"http://127.0.0.1:{srv.port}/ok?before", timeout=10)
    wait_until(lambda: any("before" in l for l in lines(log)))
    os.rename(log, tmp_path / "access.log.1")
    workers = srv.workers()
    for pid in workers:
        os.kill(pid, signal.SIGUSR1)
    # each worker has read the signal (and so reopened: the same step), and the
    # file is there again
    wait_until(lambda: log.exists() and not any(signal_pending(p, signal.SIGUSR1) for p in workers))
    httpx.get(f"http://127.0.0.1:{srv.port}/ok?after", timeout=10)
    wait_until(lambda: any("after" in l for l in lines(log)))
    assert not any("after" in l for l in lines(tmp_path / "access.log.1"))


def test_plain_python_sink_gets_the_lines(serve, tmp_path):
    log = tmp_path / "plain.log"
    srv = serve("life_app:app", env={"FF_ACCESS": str(log), "FF_PLAIN_SINK": "1"})
    httpx.get(f"http://127.0.0.1:{srv.port}/ok?plain", timeout=10)
    wait_until(lambda: any("plain" in l for l in lines(log)))


def test_a_raising_sink_is_reported_once_and_requests_go_on(serve, tmp_path):
    calls = tmp_path / "x.log.calls"  # a line per write() the sink got (and raised in)
    srv = serve("life_app:app", env={"FF_ACCESS": str(tmp_path / "x.log"), "FF_PLAIN_SINK": "1",
                                     "FF_SINK_MODE": "raise"})
    for n in range(1, 4):  # three batches, each written (and raised on) in turn
        assert srv.get("/ok").status_code == 200
        wait_until(lambda: len(lines(calls)) >= n)
    srv.wait_output("sink is broken on purpose")
    assert srv.get("/ok").status_code == 200
    assert srv.output().count("sink is broken on purpose") == 1


def test_a_blocking_sink_does_not_stall_the_worker(serve, tmp_path):
    srv = serve("life_app:app", env={"FF_ACCESS": str(tmp_path / "x.log"), "FF_PLAIN_SINK": "1",
                                     "FF_SINK_MODE": "block"})
    t0 = time.monotonic()
    with httpx.Client(timeout=5 * SLOW) as c:
        for _ in range(500):
            assert c.get(f"http://127.0.0.1:{srv.port}/ok").status_code == 200
        assert time.monotonic() - t0 < 30 * SLOW
        # Its queue holds 256 batches, and a batch goes at the latest when it
        # reaches 64 KiB: lines of ~8 KiB fill the queue within ~2,100 requests.
        # Then lines are dropped, said once, and requests go on as fast.
        pad = "p" * 8000
        for i in range(3000):
            assert c.get(f"http://127.0.0.1:{srv.port}/ok?pad={pad}").status_code == 200
            if "not keeping up" in srv.output():
                break
        assert i < 2999, "the queue of the blocked sink never filled"
        for _ in range(200):  # more batches to drop
            assert c.get(f"http://127.0.0.1:{srv.port}/ok?pad={pad}").status_code == 200
    assert time.monotonic() - t0 < 60 * SLOW
    assert srv.output().count("access log sink is not keeping up; dropping lines") == 1


def test_audit_records_go_to_sqlite(serve, tmp_path):
    db = tmp_path / "audit.db"
    srv = serve("life_app:app", "--workers", "2", env={"FF_AUDIT": str(db)})
    for i in range(10):
        r = httpx.post(f"http://127.0.0.1:{srv.port}/login",
                       json={"user": f"user{i}", "password": "correct horse battery"}, timeout=10)
        assert r.status_code == 200
    def rows():
        try:
            return sqlite3.connect(db).execute("SELECT record FROM audit").fetchall()
        except sqlite3.Error:
            return []
    wait_until(lambda: len(rows()) == 10)
    recs = [json.loads(r[0]) for r in rows()]
    assert {r["user"] for r in recs} == {f"user{i}" for i in range(10)}
    assert all(r["event"] == "login" and r["request_id"] for r in recs)
