"""Memory you can see: stats socket, metrics endpoint, status page, USS recycling."""

import json
import os
import re
import shutil
import subprocess
import sys

import httpx
import pytest

from conftest import ROOT, SLOW, free_port, wait_until


def get(port, path, timeout=10):
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=timeout * SLOW)


def worker_pss_lines(text: str) -> dict[int, int]:
    """pid -> PSS bytes of each worker in a metrics page."""
    return {int(pid): int(v) for pid, v in re.findall(
        r'^frostfork_memory_pss_bytes\{process="worker",slot="\d+",pid="(\d+)"\} (\d+)$', text, re.M)}


def metrics_once(port: int, ready) -> str:
    """The metrics page, once ready(text) holds for it (the master samples every
    --stats-interval)."""
    return wait_until(lambda: (lambda t: t if ready(t) else "")(
        get(port, "/_frostfork/metrics").text), what="the metrics caught up")


def test_metrics_are_off_by_default_but_health_is_on(serve):
    srv = serve("native_basic:app")
    assert get(srv.port, "/_frostfork/metrics").status_code == 404
    assert get(srv.port, "/_frostfork/status").status_code == 404
    assert get(srv.port, "/_frostfork/health").text == "ok"
    assert get(srv.port, "/_frostfork/ready").text == "ready"


def test_prometheus_metrics(serve):
    srv = serve("native_basic:app", "--workers", "2", "--metrics", "--stats-interval", "0.2")
    pids = srv.wait_workers(2)
    for path in ["/", "/", "/nope", "/boom"]:
        get(srv.port, path)

    def counts(text: str) -> dict[str, int]:
        return {k: int(v) for k, v in re.findall(
            r'^frostfork_requests_total\{status="(\w+)"\} (\d+)$', text, re.M)}

    text = metrics_once(srv.port, lambda t: counts(t).get("5xx") == 1
                        and set(worker_pss_lines(t)) == set(pids))
    values = counts(text)
    assert values["2xx"] >= 2  # readiness probes count too
    assert values["4xx"] >= 1
    assert values["5xx"] == 1
    assert re.search(r'^frostfork_request_duration_seconds_bucket\{le="\+Inf"\} \d+$', text, re.M)
    assert all(pss > 1_000_000 for pss in worker_pss_lines(text).values())
    assert re.search(r"^frostfork_gc_freeze_count [1-9]\d*$", text, re.M)
    assert re.search(r"^frostfork_worker_restarts_total 0$", text, re.M)


def test_metrics_on_a_separate_bind(serve):
    mport = free_port()
    srv = serve("native_basic:app", "--metrics-bind", f"127.0.0.1:{mport}")
    assert get(srv.port, "/_frostfork/metrics").status_code == 404
    assert "frostfork_requests_total" in get(mport, "/_frostfork/metrics").text
    assert get(mport, "/").status_code == 404  # the app is not served there


def test_stats_command_prints_the_table(serve, tmp_path):
    sock = tmp_path / "stats.sock"
    srv = serve("native_basic:app", "--workers", "3", "--stats-socket", str(sock),
                "--stats-interval", "0.2")
    pids = srv.wait_workers(3)
    out = subprocess.run([sys.executable, "-m", "frostfork", "stats", "--socket", str(sock)],
                         capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum(1 for line in lines if line.split()[:1] == ["worker"]) == 3
    for pid in pids:
        assert str(pid) in out.stdout
    assert "memory saved versus 4 independent processes" in out.stdout
    snap = json.loads(subprocess.run([sys.executable, "-m", "frostfork", "stats", "--socket",
                                      str(sock), "--json"], capture_output=True, text=True,
                                     timeout=30, cwd=ROOT).stdout)
    assert snap["freeze_count"] > 1000
    assert all(w["pss_kb"] > 0 and w["uss_kb"] > 0 for w in snap["workers"])
    assert snap["total_pss_kb"] == snap["master"]["pss_kb"] + sum(w["pss_kb"] for w in snap["workers"])


def test_stats_command_explains_a_missing_server(tmp_path):
    out = subprocess.run([sys.executable, "-m", "frostfork", "stats", "--socket",
                          str(tmp_path / "none.sock")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "cannot read stats from" in out.stderr


def test_worker_over_max_uss_is_recycled(serve):
    srv = serve("native_basic:app", "--workers", "1", "--max-worker-uss", "40",
                "--stats-interval", "0.2")
    first = get(srv.port, "/hoard/64").json()["pid"]
    wait_until(lambda: first not in srv.workers(), 15, what="the hoarding worker recycled")
    assert "private memory (limit 40 MB); recycling it" in srv.output()
    assert get(srv.port, "/pid").json()["pid"] != first


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("FROSTFORK_REQUIRE_BROWSER"),
                    reason="Debian's chromium is installed by `make test`")
def test_status_page_renders_one_bar_per_worker(serve, tmp_path):
    assert CHROMIUM, "chromium is required (make test installs it)"
    srv = serve("native_basic:app", "--workers", "3", "--metrics", "--stats-interval", "0.2")
    pids = srv.wait_workers(3)
    metrics_once(srv.port, lambda t: set(worker_pss_lines(t)) == set(pids))  # sampled
    html = get(srv.port, "/_frostfork/status").text
    assert "<script" in html and "http" not in html.split("<script", 1)[1]  # no external assets
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
         f"--user-data-dir={tmp_path}", "--dump-dom", f"http://127.0.0.1:{srv.port}/_frostfork/status"],
        capture_output=True, text=True, timeout=60 * SLOW,
        env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}).stdout
    assert 'data-ready="1"' in dom, dom[:2000]
    assert dom.count('data-kind="worker"') == 3
    assert dom.count('class="shared"') >= 4 and "total PSS" in dom
