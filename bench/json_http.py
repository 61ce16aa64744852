"""JSON over HTTP (issue 13): a typed POST of a ~1 KB body and a GET of 20 models.

    python bench/json_http.py [--results RESULTS.md --command CMD] [--rounds 3 --duration 5]

Servers, each one worker pinned to core 0 (`taskset -c 0`), wrk pinned to core 1:
  frostfork native      bench/apps/json_http_native.py    (frostfork.Model, C decode/encode)
  uvicorn + FastAPI     bench/apps/json_http_fastapi.py   (pydantic v2 models; uvloop, httptools)
  granian + Litestar    bench/apps/json_http_litestar.py  (msgspec Structs; granian ASGI)
Routes: POST /orders takes the ~1 KB order of bench/apps/json_records.py, validated into the
framework's model; GET /users returns the 20 user records as models. Before measuring, each
server's answers are checked: the GET's JSON equals the 20 records, the POST answers 200
with {"id": 4242, "lines": N}.

Rounds alternate: every round starts each server afresh, in turn (the order reversed on
odd rounds), warms both routes for 2 s, then measures GET and POST with
`taskset -c 1 wrk -t1 -c50 -dDURATIONs` (POST through a generated wrk script). A cell's
figure is the best round (the median is printed beside it); ratios come from best rounds.
Beside req/s, each measurement reads the CPU time (user + system, /proc/PID/stat) the
server's whole process tree used during it: requests per server CPU-second is what the
server costs per request, which other jobs on a shared machine disturb far less than the
rate. The bars are judged on req/s, as the issue states them.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
import wrkparse  # noqa: E402
from bench.apps.json_records import ORDER, ORDER_BODY, USERS  # noqa: E402

BIN = os.path.dirname(sys.executable)
SERVERS = {
    "frostfork native": lambda port: [
        os.path.join(BIN, "frostfork"), "serve", "bench.apps.json_http_native:app",
        "--workers", "1", "--bind", f"127.0.0.1:{port}"],
    "uvicorn + FastAPI": lambda port: [
        os.path.join(BIN, "uvicorn"), "bench.apps.json_http_fastapi:app", "--workers", "1",
        "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning"],
    "granian + Litestar": lambda port: [
        os.path.join(BIN, "granian"), "--interface", "asgi", "--workers", "1", "--host",
        "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        "bench.apps.json_http_litestar:app"],
}
ROUTES = ("GET /users", "POST /orders")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(name: str, port: int, log: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    cmd = ["taskset", "-c", "0", *SERVERS[name](port)]
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited {p.returncode} (see {log})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return p
        except OSError:
            time.sleep(0.1)
    stop(p)
    raise RuntimeError(f"{name} did not listen within 15 s (see {log})")


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def verify(name: str, port: int) -> None:
    status, body = http(port, "GET", "/users")
    if status != 200 or json.loads(body) != USERS:
        raise RuntimeError(f"{name}: GET /users answered {status} {body[:80]!r}")
    status, body = http(port, "POST", "/orders", ORDER_BODY)
    if status != 200 or json.loads(body) != {"id": ORDER["id"], "lines": len(ORDER["lines"])}:
        raise RuntimeError(f"{name}: POST /orders answered {status} {body[:80]!r}")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by pid and all its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(d)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += stats[p][1]
        todo += [c for c, (ppid, _) in stats.items() if ppid == p]
    return total


def post_script() -> str:
    path = os.path.join(WORK, "json_http_post.lua")
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n'
                f"wrk.body = [==[{ORDER_BODY.decode()}]==]\n"
                'wrk.headers["Content-Type"] = "application/json"\n')
    return path


def wrk(port: int, route: str, seconds: int, script: str) -> dict:
    method, path = route.split()
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c50", f"-d{seconds}s", "--latency"]
    if method == "POST":
        cmd += ["-s", script]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    return wrkparse.parse(out.stdout or "STATUS failed: no wrk output")


def run(a: argparse.Namespace) -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed")
    os.makedirs(WORK, exist_ok=True)
    script = post_script()
    names = list(SERVERS)
    rps: dict[tuple[str, str], list[float]] = {(n, r): [] for n in names for r in ROUTES}
    errors: dict[tuple[str, str], int] = {(n, r): 0 for n in names for r in ROUTES}
    per_cpu: dict[tuple[str, str], list[float]] = {(n, r): [] for n in names for r in ROUTES}
    for rnd in range(a.rounds):
        for name in names if rnd % 2 == 0 else names[::-1]:
            port = free_port()
            log = os.path.join(WORK, f"json_http-{name.split()[0]}.log")
            p = start(name, port, log)
            try:
                verify(name, port)
                for route in ROUTES:
                    wrk(port, route, 2, script)  # warm-up, discarded
                for route in ROUTES if rnd % 2 == 0 else ROUTES[::-1]:
                    cpu0 = tree_cpu(p.pid)
                    r = wrk(port, route, a.duration, script)
                    cpu = tree_cpu(p.pid) - cpu0
                    if "status" in r:
                        raise RuntimeError(f"{name} {route}: {r['status']}")
                    rps[(name, route)].append(r["rps"])
                    per_cpu[(name, route)].append(r["requests"] / cpu if cpu > 0 else 0.0)
                    errors[(name, route)] += r["non2xx"] + r["socket"]
                    print(f"round {rnd + 1} {name:20} {route:13} {r['rps']:>10,.0f} req/s "
                          f"{per_cpu[(name, route)][-1]:>10,.0f} req per CPU-s", file=sys.stderr)
            finally:
                stop(p)

    best = {k: max(v) for k, v in rps.items()}
    bcpu = {k: max(v) for k, v in per_cpu.items()}
    ff = "frostfork native"
    lines = ["| server | route | best req/s | median req/s | rounds (req/s) | errors | "
             "frostfork × this (req/s) | req per server CPU-second, best | frostfork × this (CPU) |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for name in names:
        for route in ROUTES:
            v = rps[(name, route)]
            ratio = "—" if name == ff else f"{best[(ff, route)] / best[(name, route)]:.1f}"
            cratio = "—" if name == ff else f"{bcpu[(ff, route)] / bcpu[(name, route)]:.1f}"
            lines.append(f"| {name} | {route} | {best[(name, route)]:,.0f} | "
                         f"{statistics.median(v):,.0f} | {', '.join(f'{x:,.0f}' for x in v)} | "
                         f"{errors[(name, route)]} | {ratio} | {bcpu[(name, route)]:,.0f} | "
                         f"{cratio} |")
    bars = []
    for peer, need in (("uvicorn + FastAPI", 15), ("granian + Litestar", 5)):
        for route in ROUTES:
            x = best[(ff, route)] / best[(peer, route)]
            c = bcpu[(ff, route)] / bcpu[(peer, route)]
            bars.append(f"- frostfork ≥ {need}× {peer} on `{route}`: {x:.1f}× in req/s, {c:.1f}× "
                        f"per server CPU-second — **{'met' if x >= need else 'missed'}**")
    g = best[(ff, "GET /users")] / best[(ff, "POST /orders")]
    gc_ = bcpu[(ff, "GET /users")] / bcpu[(ff, "POST /orders")]
    bars.append(f"- frostfork `GET /users` (20 models) ≥ 0.6× its typed `POST /orders`: {g:.2f}× in "
                f"req/s, {gc_:.2f}× per CPU-second — **{'met' if g >= 0.6 else 'missed'}**")

    body = wrkparse.header("JSON over HTTP (issue 13)", a.command)[:-1]
    body += [f"- frostfork: {a.frostfork}; CPython {sys.version.split()[0]}",
             f"- POST body: {len(ORDER_BODY)} bytes (an order with {len(ORDER['lines'])} lines, a "
             f"nested address, tags); GET answer: the {len(USERS)} records of "
             "bench/apps/json_records.py as models",
             f"- Load: `taskset -c 1 wrk -t1 -c50 -d{a.duration}s --latency`, each server one worker "
             f"under `taskset -c 0`, started afresh per round; {a.rounds} alternating rounds after "
             "a 2 s warm-up per route; answers checked before measuring (bench/json_http.py)",
             wrkparse.load_line(), "",
             *lines, "", *bars, "",
             "Server commands (cwd = repo root, PYTHONPATH = repo root):", ""]
    for name in names:
        cmd = " ".join(SERVERS[name]("PORT")).replace(BIN + "/", "")
        body.append(f"- {name}: `{cmd}`")
    text = "\n".join(body)
    if a.results:
        wrkparse.replace_section(a.results, "json http", text)
    print(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results")
    p.add_argument("--command", default="python bench/json_http.py")
    p.add_argument("--frostfork", default="as installed")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    run(p.parse_args())


if __name__ == "__main__":
    main()
