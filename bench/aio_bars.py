"""Async bars of issue 12, side by side in one run, alternating rounds.

  python bench/aio_bars.py [--rounds 3] [--duration 5] [--results bench/RESULTS.md]

Each server: one worker pinned to core 0 (taskset -c 0); wrk pinned to core 1. Rows:
  sync        bench.apps.native_app:app — sync hello, the worker runs no event loop
  sync+loop   the same sync handler in a worker that runs a loop (the app has one async route)
  async       `async def` hello, answered inline (no Task)
  sleep-2000  `async def` awaiting asyncio.sleep(0.1), 2,000 connections (wrk -c2000)
Rounds alternate the servers (A B C D, A B C D, ...); the table gives each row's median
requests/s and its ratio to the sync row measured in the same rounds.
"""
import argparse
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import wrkparse  # noqa: E402

ROWS = [
    ("sync", "bench.apps.native_app:app", 50, []),
    ("sync+loop", "bench.apps.async_app:sync_in_loop", 50, []),
    ("async", "bench.apps.async_app:async_hello", 50, []),
    ("sleep-2000", "bench.apps.async_app:sleeper", 2000, ["--max-connections", "4000"]),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not answer")


def run_one(target: str, conns: int, extra: list[str], duration: int, loop: str) -> dict:
    port = free_port()
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "frostfork", "serve", target,
           "--workers", "1", "--bind", f"127.0.0.1:{port}", "--loop", loop, *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        url = f"http://127.0.0.1:{port}/"
        wrk = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", "--timeout", "5s"]
        subprocess.run(wrk + ["-d2s", url], capture_output=True, timeout=60)  # warm-up
        out = subprocess.run(wrk + [f"-d{duration}s", "--latency", url], capture_output=True,
                             text=True, timeout=duration + 60).stdout
        r = wrkparse.parse(out)
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        r["errors"] = sum(map(int, m.groups())) if m else 0
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        r["errors"] += int(m.group(1)) if m else 0
        return r
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--loop", default="auto")
    ap.add_argument("--results", default=None)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))  # wrk -c2000
    got: dict[str, list[dict]] = {name: [] for name, *_ in ROWS}
    for rnd in range(a.rounds):
        for name, target, conns, extra in ROWS:
            r = run_one(target, conns, extra, a.duration, a.loop)
            got[name].append(r)
            print(f"round {rnd + 1} {name}: {r['rps']:.0f} req/s, errors {r['errors']}",
                  file=sys.stderr, flush=True)
    med = {n: statistics.median(x["rps"] for x in rs) for n, rs in got.items()}
    ratios = {n: [x["rps"] / s["rps"] for x, s in zip(rs, got["sync"])] for n, rs in got.items()}
    lines = [
        f"Command: `python bench/aio_bars.py --rounds {a.rounds} --duration {a.duration}"
        f" --loop {a.loop}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};"
        f" CPython {sys.version.split()[0]}; loop: {a.loop} (auto = uvloop when installed).",
        "One worker on core 0, wrk -t1 on core 1, 2 s warm-up per server, rounds alternate"
        " the servers. The machine's 2 cores were shared with other builds: figures are noisy.",
        "",
        "| row | wrk connections | median req/s | per round | ratio to sync (per round) | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, _, conns, _ in ROWS:
        rs = got[name]
        lines.append(f"| {name} | {conns} | {med[name]:,.0f} | "
                     f"{', '.join(format(x['rps'], ',.0f') for x in rs)} | "
                     f"{', '.join(f'{v:.3f}' for v in ratios[name])} | "
                     f"{sum(x['errors'] for x in rs)} |")
    text = "\n".join(lines)
    print(text)
    if a.results:
        path = Path(a.results)
        body = path.read_text()
        start, end = "<!-- async-bars:start -->", "<!-- async-bars:end -->"
        block = f"{start}\n{text}\n{end}"
        if start in body:
            body = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, body,
                          flags=re.S)
        else:
            body += f"\n## Async handlers (issue 12)\n\n{block}\n"
        path.write_text(body)


if __name__ == "__main__":
    main()
