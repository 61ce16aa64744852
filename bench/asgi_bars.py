"""ASGI bars of issue 12, side by side in one run, alternating rounds.

  python bench/asgi_bars.py [--rounds 3] [--duration 5] [--results bench/RESULTS.md]

Throughput: bench.apps.fastapi_bench:app (async handlers; POST /users validated by pydantic)
and bench.apps.litestar_bench:app (the same routes; the body a msgspec Struct with the same
constraints) served by frostfork --asgi, granian --interface asgi and uvicorn --loop uvloop
--http httptools, each with one worker pinned to core 0, wrk -t1 -c50 pinned to core 1, GET /
and the typed POST (bench/post_user.lua). Rounds alternate the servers and the apps.
bench.apps.asgi_raw:app (no framework) runs beside them: its rate is each server's own cost,
and from it the table derives how far the bars can go at all (see "ceilings" below).
Memory: bench.apps.fastapi_mem:app (its import builds 600,000 tuples) with 4 workers per
server; GET /pid on fresh connections until every worker answered twice; total PSS = sum of
Pss in /proc/PID/smaps_rollup over the master (or the first process) and all descendants.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import wrkparse  # noqa: E402
from memory import rollup, tree  # noqa: E402

BIN = Path(sys.executable).parent


def cmd(server: str, target: str, port: int, workers: int) -> list[str]:
    if server == "frostfork":
        return [sys.executable, "-m", "frostfork", "serve", target, "--asgi", "--workers",
                str(workers), "--bind", f"127.0.0.1:{port}"]
    if server == "granian":
        return [str(BIN / "granian"), "--interface", "asgi", "--workers", str(workers), "--host",
                "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
                target]
    return [sys.executable, "-m", "uvicorn", target, "--workers", str(workers), "--host",
            "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning"]


SERVERS = ["frostfork", "granian", "uvicorn"]
APPS = {"FastAPI": "bench.apps.fastapi_bench:app", "Litestar": "bench.apps.litestar_bench:app",
        "bare ASGI": "bench.apps.asgi_raw:app"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def start(server: str, target: str, workers: int, pin: bool) -> tuple[subprocess.Popen, int]:
    port = free_port()
    c = cmd(server, target, port, workers)
    if pin:
        c = ["taskset", "-c", "0", *c]
    proc = subprocess.Popen(c, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http_get(port, "/").startswith(b"HTTP/1.1 200"):
                return proc, port
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"{server} did not start")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait()


def throughput(server: str, target: str, duration: int) -> dict:
    proc, port = start(server, target, 1, pin=True)
    try:
        out = {}
        for name, extra in (("hello", []), ("post", ["-s", str(ROOT / "bench/post_user.lua")])):
            url = f"http://127.0.0.1:{port}/" + ("users" if name == "post" else "")
            wrk = ["taskset", "-c", "1", "wrk", "-t1", "-c50", *extra]
            subprocess.run(wrk + ["-d2s", url], capture_output=True, timeout=60)
            text = subprocess.run(wrk + [f"-d{duration}s", url], capture_output=True, text=True,
                                  timeout=duration + 60).stdout
            r = wrkparse.parse(text)
            m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
            r["errors"] = int(m.group(1)) if m else 0
            out[name] = r
        return out
    finally:
        stop(proc)


def memory(server: str) -> int:
    proc, port = start(server, "bench.apps.fastapi_mem:app", 4, pin=False)
    try:
        seen: dict[int, int] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (len(seen) < 4 or min(seen.values()) < 2):
            body = http_get(port, "/pid").partition(b"\r\n\r\n")[2]
            pid = json.loads(body)["pid"]
            seen[pid] = seen.get(pid, 0) + 1
        time.sleep(1)
        _, procs = tree(proc.pid)
        return sum(rollup(p).get("Pss", 0) for p in [proc.pid, *procs])
    finally:
        stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--results", default=None)
    ap.add_argument("--skip-memory", action="store_true")
    a = ap.parse_args()
    got: dict[str, dict[str, list[dict]]] = {app: {s: [] for s in SERVERS} for app in APPS}
    for rnd in range(a.rounds):
        for app, target in APPS.items():
            for s in SERVERS:
                r = throughput(s, target, a.duration)
                got[app][s].append(r)
                print(f"round {rnd + 1} {app} {s}: hello {r['hello']['rps']:.0f}, "
                      f"post {r['post']['rps']:.0f} req/s", file=sys.stderr, flush=True)
    mem = {} if a.skip_memory else {s: memory(s) for s in SERVERS}
    lines = [
        f"Command: `python bench/asgi_bars.py --rounds {a.rounds} --duration {a.duration}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPython "
        f"{sys.version.split()[0]}; bench.apps.fastapi_bench:app (FastAPI, async handlers, "
        "pydantic body), bench.apps.litestar_bench:app (Litestar, the same routes, a msgspec "
        "Struct body) and bench.apps.asgi_raw:app (no framework). One worker on core 0, `wrk -t1 -c50` on core 1, 2 s warm-up, rounds "
        "alternate the apps and the servers.",
        "",
        "| app | server | GET / median req/s | per round | POST /users median req/s | per round | "
        "frostfork / this (GET, POST; per-round medians) | non-2xx |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for app in APPS:
        for s in SERVERS:
            rs = got[app][s]
            h = [x["hello"]["rps"] for x in rs]
            p = [x["post"]["rps"] for x in rs]
            fh = [x["hello"]["rps"] for x in got[app]["frostfork"]]
            fp = [x["post"]["rps"] for x in got[app]["frostfork"]]
            ratio = (f"{statistics.median(a_ / b for a_, b in zip(fh, h)):.2f}, "
                     f"{statistics.median(a_ / b for a_, b in zip(fp, p)):.2f}")
            errs = sum(x["hello"]["errors"] + x["post"]["errors"] for x in rs)
            lines.append(f"| {app} | {s} | {statistics.median(h):,.0f} | "
                         f"{', '.join(f'{v:,.0f}' for v in h)} | {statistics.median(p):,.0f} | "
                         f"{', '.join(f'{v:,.0f}' for v in p)} | {ratio} | {errs} |")
    ceil = ["", "Ceilings: a framework app's own time per request, estimated as frostfork's "
            "time per request on it minus frostfork's on the bare app (1/app - 1/bare, per-round "
            "medians), against each peer's time on the same app: the ratio frostfork would reach "
            "if its own cost were zero.", ""]
    med = {app: {s: {k: statistics.median(x[k]["rps"] for x in got[app][s])
                     for k in ("hello", "post")} for s in SERVERS} for app in APPS}
    for app in APPS:
        if app == "bare ASGI":
            continue
        for k, route in (("hello", "GET /"), ("post", "POST /users")):
            own = 1 / med[app]["frostfork"][k] - 1 / med["bare ASGI"]["frostfork"][k]
            if own <= 0:
                continue
            parts = [f"{s} {(1 / med[app][s][k]) / own:.2f}" for s in SERVERS if s != "frostfork"]
            ceil.append(f"- {app} {route}: the app's own time {own * 1e6:,.0f} µs; "
                        f"ceiling over {', '.join(parts)}")
    lines += ceil
    if mem:
        lines += ["", "Memory: bench.apps.fastapi_mem:app (600,000 tuples built at import), 4 "
                  "workers, each worker answered GET /pid at least twice; total PSS of the "
                  "server's processes.", "",
                  "| server | total PSS (MiB) | frostfork / this |", "|---|---|---|"]
        for s in SERVERS:
            lines.append(f"| {s} | {mem[s] / 1024:,.1f} | {mem['frostfork'] / mem[s]:.2f} |")
    text = "\n".join(lines)
    print(text)
    if a.results:
        path = Path(a.results)
        body = path.read_text()
        start_m, end_m = "<!-- asgi-bars:start -->", "<!-- asgi-bars:end -->"
        block = f"{start_m}\n{text}\n{end_m}"
        if start_m in body:
            body = re.sub(re.escape(start_m) + ".*?" + re.escape(end_m), lambda _: block, body,
                          flags=re.S)
        else:
            body += f"\n## ASGI hosting (issue 12)\n\n{block}\n"
        path.write_text(body)


if __name__ == "__main__":
    main()
