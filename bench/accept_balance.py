"""How new connections spread over workers, and what that costs.

Starts `frostfork serve bench.apps.native_app:app --workers N` from this
checkout's installed build, then for each load runs wrk against it and reads
each worker's request count from `frostfork stats`:

- keep-alive: wrk -t1 -c50 on GET / (connections opened at once, then reused);
- close: the same with "Connection: close" (a connection per request);
- cpu: keep-alive on GET /cpu, a handler that spends about 0.2 ms of CPU, so
  the workers, not wrk, need the cores.

Prints req/s and each worker's share of the requests. On this 2-core machine
wrk needs a core of its own for GET /, so there throughput does not reward
spreading the load; /cpu shows what it is for.

Run: .venv/bin/python bench/accept_balance.py [--workers 2] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wrkparse import parse  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18391


def stats() -> dict[int, int]:
    """pid -> requests served, per worker."""
    out = subprocess.run([sys.executable, "-m", "frostfork", "stats", "--bind",
                          f"127.0.0.1:{PORT}"], capture_output=True, text=True, check=True).stdout
    return {int(m.group(1)): int(m.group(2))
            for m in re.finditer(r"^\s*worker\s+(\d+)\s+\d+\s+(\d+)", out, re.M)}


LOADS = {"keep-alive": ([], "/"), "close": (["-H", "Connection: close"], "/"), "cpu": ([], "/cpu")}


def run_wrk(seconds: int, load: str) -> float:
    args, path = LOADS[load]
    cmd = [shutil.which("wrk") or "wrk", "-t1", "-c50", f"-d{seconds}s", *args]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{PORT}{path}"], capture_output=True,
                         text=True, check=True).stdout
    result = parse(out)
    if "status" in result:
        raise SystemExit(f"wrk against {path}: {result['status']}")
    return result["rps"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    srv = subprocess.Popen([sys.executable, "-m", "frostfork", "serve", "bench.apps.native_app:app",
                            "--workers", str(a.workers), "--bind", f"127.0.0.1:{PORT}"],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            time.sleep(0.1)
            try:
                if len(stats()) == a.workers:
                    break
            except subprocess.CalledProcessError:
                pass
        time.sleep(0.5)
        for rnd in range(a.rounds):
            for load in LOADS:
                before = stats()
                rps = run_wrk(a.seconds, load)
                after = stats()
                served = sorted((after.get(p, 0) - before.get(p, 0) for p in after), reverse=True)
                total = sum(served) or 1
                shares = " ".join(f"{100 * n / total:.0f}%" for n in served)
                print(f"round {rnd + 1} {load:10}: "
                      f"{rps:9.0f} req/s; worker shares {shares}", flush=True)
    finally:
        srv.send_signal(signal.SIGINT)
        srv.wait(timeout=30)


if __name__ == "__main__":
    main()
