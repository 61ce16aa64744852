"""The in-process test clients side by side: frostfork.testing.Client against
FastAPI's TestClient (Starlette's, over httpx), on the same typed POST with a
sync handler (bench/apps/client_shape.py), in one process.

Rounds alternate (frostfork, FastAPI, frostfork, ...) so drift on this shared
machine falls on both; each round sends N requests (FastAPI gets fewer, it is
slower: its rate is what counts); the table gives each client's median req/s
and the ratio. Every answer is checked before timing. Also listed for scale:
frostfork's Transport under a plain httpx.Client (httpx's own per-request work)
and _core.Engine.handle with prebuilt request bytes (the C path alone).

Run:  bench/.venv/bin/python -m bench.testclient [--rounds 5] [--n 20000] [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx  # noqa: E402

from bench.apps.client_shape import ANSWER, BODY, fastapi_app, frostfork_app  # noqa: E402
from bench.wrkparse import header, replace_section  # noqa: E402


def rate(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--results", default=None)
    args = ap.parse_args()

    from fastapi.testclient import TestClient
    from frostfork import _core
    from frostfork.testing import Client, Transport

    ff = Client(frostfork_app()).__enter__()
    fa = TestClient(fastapi_app()).__enter__()
    plain = httpx.Client(transport=Transport(frostfork_app()).__enter__(),
                         base_url="http://testserver")
    body = _core.json_encode(BODY)
    raw = (b"POST /users HTTP/1.1\r\nHost: testserver\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    engine = ff.transport._engine
    cases = {
        "frostfork.testing.Client": lambda: ff.post("/users", json=BODY),
        "FastAPI TestClient": lambda: fa.post("/users", json=BODY),
        "httpx.Client + frostfork Transport": lambda: plain.post("/users", json=BODY),
        "_core.Engine.handle (bytes in, tuple out)": lambda: engine.handle(raw),
    }
    for name, fn in cases.items():  # same answer from each before timing
        r = fn()
        if isinstance(r, tuple):
            assert r[0] == 200 and r[2] == _core.json_encode(ANSWER), (name, r)
        else:
            assert r.status_code == 200 and r.json() == ANSWER, (name, r.status_code, r.text)
    sizes = {name: args.n for name in cases}
    sizes["FastAPI TestClient"] = max(200, args.n // 50)
    sizes["httpx.Client + frostfork Transport"] = max(500, args.n // 10)
    sizes["_core.Engine.handle (bytes in, tuple out)"] = args.n * 5
    load_before = open("/proc/loadavg").read().split()[:3]
    for name, fn in cases.items():  # warm-up
        rate(fn, max(50, sizes[name] // 20))
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for rnd in range(args.rounds):
        for name, fn in cases.items():
            rates[name].append(rate(fn, sizes[name]))
        print(f"round {rnd + 1}: " + ", ".join(f"{n}: {r[-1]:,.0f}/s" for n, r in rates.items()),
              file=sys.stderr)
    med = {name: statistics.median(r) for name, r in rates.items()}
    base = med["FastAPI TestClient"]
    command = f"bench/.venv/bin/python -m bench.testclient --rounds {args.rounds} --n {args.n}"
    lines = header("Test client (issue 11)", command)[:-1] + [
        "- The typed `POST /users` of bench/apps/native_app.py (sync handler; the FastAPI app "
        "declares the same constraints with pydantic), in one process; the clients alternate "
        "round by round; req/s is the median over the rounds (and its min–max).",
        "- Bar: frostfork.testing.Client ≥ 20,000 typed requests/s.",
        f"- Load average (1/5/15 min) before and after: {' '.join(load_before)} / "
        f"{' '.join(open('/proc/loadavg').read().split()[:3])} on 2 cores shared with other "
        "agents' builds and tests: the spread of one client's rounds is that noise.", "",
        "| client | req/s (median) | min–max | × FastAPI TestClient |",
        "| --- | ---: | ---: | ---: |"]
    for name, r in rates.items():
        lines.append(f"| {name} | {med[name]:,.0f} | {min(r):,.0f}–{max(r):,.0f} | "
                     f"{med[name] / base:,.1f} |")
    body_md = "\n".join(lines)
    print(body_md)
    if args.results:
        replace_section(args.results, "test client", body_md)
    ff.__exit__(None, None, None)
    fa.__exit__(None, None, None)


if __name__ == "__main__":
    main()
