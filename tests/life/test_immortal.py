"""--freeze immortal: the startup heap made immortal before fork (CPython 3.12+).

What it must do: objects of the startup heap that are plain Python values get a
reference count that is never written (so a worker that reads them keeps their pages
shared); objects with a finalizer and extension objects stay mortal; what a worker
makes later is mortal; a frozen container can still be changed; workers still exit
cleanly. On 3.11 the option is refused with a message that says why."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, SLOW

IMMORTAL = sys.version_info >= (3, 12)
needs_immortal = pytest.mark.skipif(not IMMORTAL, reason="immortal objects need CPython 3.12+")
# CPython's immortal count is 2**32 - 1 (3.12, 3.13) or 3 * 2**30 (3.14): both above this.
IMMORTAL_FLOOR = 2**30


def get(port: int, path: str) -> dict:
    r = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30 * SLOW,
                  headers={"Connection": "close"})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.skipif(IMMORTAL, reason="the refusal is for CPython < 3.12")
def test_refused_before_3_12_with_the_reason():
    out = subprocess.run([sys.executable, "-m", "frostfork", "serve", "immortal_app:app",
                          "--freeze", "immortal", "--bind", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=30 * SLOW, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'tests' / 'apps'}"))
    assert out.returncode == 2
    assert "--freeze immortal needs CPython 3.12 or newer" in out.stderr
    assert "serving" not in out.stderr  # refused before binding or importing


@needs_immortal
def test_startup_values_are_immortal_and_the_rest_mortal(serve):
    srv = serve("immortal_app:app", "--freeze", "immortal", env={"FF_TEST_ROWS": "1000"})
    first, second = get(srv.port, "/refs"), get(srv.port, "/refs")
    for name in ("row", "name", "table", "plain", "plain_cls", "read"):
        assert first[name] >= IMMORTAL_FLOOR, (name, first)
        assert second[name] == first[name], (name, first, second)  # never written
    # a finalizer, an extension object, and what a request makes stay mortal
    for name in ("with_del", "pattern", "fresh"):
        assert first[name] < 1000, (name, first)
    m = re.search(r"made (\d+) objects \(([\d.]+) MB\) of the startup heap immortal", srv.output())
    assert m and int(m.group(1)) >= 3 * 1000, srv.output()


@needs_immortal
def test_a_frozen_list_still_changes_and_its_new_items_are_mortal(serve):
    srv = serve("immortal_app:app", "--freeze", "immortal", env={"FF_TEST_ROWS": "10"})
    for n, item in enumerate(["a", "b", "c"], 1):
        r = httpx.post(f"http://127.0.0.1:{srv.port}/append", params={"item": item},
                       timeout=10 * SLOW).json()
        assert r["items"] == [x + "!" for x in ["a", "b", "c"][:n]]
        assert r["item_refs"] < 1000


@needs_immortal
def test_stats_and_metrics_count_the_immortal_objects(serve, tmp_path):
    sock = tmp_path / "stats.sock"
    srv = serve("immortal_app:app", "--freeze", "immortal", "--metrics", "--stats-socket",
                str(sock), env={"FF_TEST_ROWS": "5000"})
    text = httpx.get(f"http://127.0.0.1:{srv.port}/_frostfork/metrics", timeout=10 * SLOW).text
    objects = int(re.search(r"^frostfork_immortal_objects (\d+)$", text, re.M).group(1))
    size = int(re.search(r"^frostfork_immortal_bytes (\d+)$", text, re.M).group(1))
    assert objects >= 3 * 5000  # each row: its dict, its name, its tags list
    assert size >= objects * 32
    snap = json.loads(subprocess.run(
        [sys.executable, "-m", "frostfork", "stats", "--socket", str(sock), "--json"],
        capture_output=True, text=True, timeout=10 * SLOW, check=True).stdout)
    assert snap["immortal_objects"] == objects and snap["immortal_bytes"] == size
    table = subprocess.run([sys.executable, "-m", "frostfork", "stats", "--socket", str(sock)],
                           capture_output=True, text=True, timeout=10 * SLOW, check=True).stdout
    assert f"immortal objects {objects}" in table


def private_dirty_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    raise AssertionError(f"no Private_Dirty for {pid}")


def read_growth_kb(serve, mode: str) -> list[int]:
    """Each of 2 workers reads the 200,000-row table twice: its Private_Dirty growth."""
    srv = serve("immortal_app:app", "--freeze", mode, "--workers", "2",
                env={"FF_TEST_ROWS": "200000"})
    pids = srv.wait_workers(2)
    before = {pid: private_dirty_kb(pid) for pid in pids}
    reads: dict[int, int] = {}
    deadline = time.monotonic() + 60 * SLOW
    for _ in range(40):  # fresh connections reach the workers in turn
        if all(reads.get(pid, 0) >= 2 for pid in pids) or time.monotonic() > deadline:
            break
        pid = get(srv.port, "/read")["pid"]
        reads[pid] = reads.get(pid, 0) + 1
    assert all(reads.get(pid, 0) >= 2 for pid in pids), reads
    growth = [private_dirty_kb(pid) - before[pid] for pid in pids]
    assert srv.stop() == 0  # the drain and worker exit stay clean
    return growth


@needs_immortal
def test_reading_the_startup_heap_keeps_it_shared(serve):
    collect = read_growth_kb(serve, "collect")
    immortal = read_growth_kb(serve, "immortal")
    # the table is ~40 MB: read with mortal objects, a worker copies most of its pages
    assert min(collect) > 10_000, collect
    assert max(immortal) < max(collect) / 5, (immortal, collect)
