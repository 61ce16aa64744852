"""Read-the-heap memory benchmark driver for bench/run-read-heap (run that script).

  read_heap.py run    --root ROOT --venv VENV --work DIR --python 3.12 [--workers 4] [--servers ...]
  read_heap.py report --work DIR --results RESULTS.md --command CMD

Why: a forked worker shares the master's pages only until it writes them, and reading
a Python object writes its reference count. So the figure that matters is not the
memory at start but after the workers have read the startup heap.

For one Python version (the venv's) and each server in turn: start it with N workers
on bench/apps/mem_live.py (600,000 small dicts built at import), send GET /gc until
every worker has answered twice (three full collections each; bench/memory.py's
phase), read total PSS ("before"), then send GET /read (each walks all 600,000 rows)
until every worker has answered READS times, and read total PSS again ("after").
Raw numbers go to DIR/read-heap-<python>.json; `report` renders every version found
there into the "Read the heap" section of RESULTS.md.
"""
import argparse
import glob
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memory  # noqa: E402
from memory import hit_round, log, measure, port_answers, start, stop, tree  # noqa: E402
from wrkparse import header, replace_section  # noqa: E402

APP = "mem_live"
READS = 3          # /read answers per worker before "after" is read
READ_WAIT = 180.0  # s: the whole /read phase (an unshared worker copies ~70 MB on its first)

SERVERS = [
    ("ff-collect", "frostfork --freeze collect (default on 3.11)"),
    ("ff-immortal", "frostfork --freeze immortal (default on 3.12+)"),
    ("gunicorn", "gunicorn --preload (sync, no freeze)"),
    ("gunicorn-freeze", "gunicorn --preload + gc.freeze() in when_ready"),
    ("granian", "granian WSGI (app loaded per worker)"),
]
LABELS = dict(SERVERS)


def spread(p, port, n, path, want, wait):
    """GET path in staggered rounds of n until every worker answered `want` times."""
    hits, sent, errors, t0 = {}, 0, 0, time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        while True:
            workers = set(tree(p.pid)[0])
            if workers and all(hits.get(w, 0) >= want for w in workers):
                break
            if time.monotonic() - t0 > wait or sent >= 8 * want * n:
                break
            for r in hit_round(pool, port, n, path):
                sent += 1
                if isinstance(r, tuple) and r[0] == 200 and r[1] and r[1].get("ok"):
                    hits[r[1]["pid"]] = hits.get(r[1]["pid"], 0) + 1
                else:
                    errors += 1
                    log(f"  {path} failed: {r!r}")
    return {"requests": sent, "errors": errors, "seconds": round(time.monotonic() - t0, 1),
            "min_hits": min(hits.values(), default=0), "workers_hit": len(hits)}


def total(p):
    direct, everyone = tree(p.pid)
    procs = measure([p.pid] + everyone)
    if any(v is None for v in procs.values()):
        return None, None
    return sum(v["Pss"] for v in procs.values()), [procs[w] for w in direct]


def run_server(key, n, a):
    port = memory.free_port()
    cmd = memory.server_cmd(key, APP, n, port)
    name = f"read-{a.python}-{key}-{n}"
    logpath = os.path.join(a.work, name + ".log")
    res = {"cmd": " ".join(cmd).replace(str(port), "PORT")}
    log(f"python {a.python} {key} workers={n}: {res['cmd']}")
    p = start(name, cmd, a.root, a.venv, logpath)
    try:
        deadline = time.monotonic() + memory.START_WAIT
        while not (len(tree(p.pid)[0]) >= n and port_answers(port)):
            if p.poll() is not None:
                return dict(res, status=f"failed: exited {p.returncode} ({logpath})")
            if time.monotonic() > deadline:
                return dict(res, status=f"failed: not ready ({logpath})")
            time.sleep(0.2)
        res["gc"] = spread(p, port, n, "/gc", memory.MIN_HITS, memory.GC_WAIT)
        time.sleep(memory.SETTLE)
        res["before"], _ = total(p)
        res["read"] = spread(p, port, n, "/read", READS, READ_WAIT)
        time.sleep(memory.SETTLE)
        res["after"], workers = total(p)
        if not res["before"] or not res["after"]:
            return dict(res, status="failed: a process vanished while reading smaps_rollup")
        res["worker_private_dirty"] = [w["Private_Dirty"] for w in workers]
        ok = res["read"]["min_hits"] >= READS and res["read"]["workers_hit"] == n
        res["status"] = "ok" if ok else (f"incomplete: {res['read']['workers_hit']} workers, "
                                         f"min {res['read']['min_hits']} reads")
        log(f"  before {res['before'] / 1024:.1f} MiB, after {res['after'] / 1024:.1f} MiB "
            f"({res['after'] / res['before']:.2f}x); reads {res['read']}")
        return res
    finally:
        stop(p)


def render(work, command):
    runs = []
    for path in sorted(glob.glob(os.path.join(work, "read-heap-*.json"))):
        runs.append(json.load(open(path)))
    lines = header("Read the heap", command)[:-1]
    lines += [
        "- App: bench/apps/mem_live.py, 600,000 dicts `{\"id\": i, \"name\": f\"n{i}\", "
        "\"tags\": [i % 7]}` built at import. `GET /read` walks every row "
        "(`row[\"id\"] + len(row[\"name\"]) + row[\"tags\"][0]`).",
        f"- Before = total PSS (master + workers, `smaps_rollup`) after every worker ran "
        f"`GET /gc` (three full collections) {memory.MIN_HITS} times; after = the same once "
        f"every worker has also answered `GET /read` at least {READS} times. Servers not "
        f"pinned, one at a time, each Python version in its own bench venv.",
        "",
        "| Python | server / mode | workers | total PSS before (MiB) | after reads (MiB) "
        "| after / before | mean worker Private_Dirty after (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        for key, label in SERVERS:
            r = run["results"].get(key)
            if r is None:
                continue
            if r.get("status") != "ok":
                lines.append(f"| {run['python']} | {label} | {run['workers']} | "
                             f"{r.get('status')} | | | |")
                continue
            pd = r["worker_private_dirty"]
            lines.append(f"| {run['python']} | {label} | {run['workers']} | "
                         f"{r['before'] / 1024:,.1f} | {r['after'] / 1024:,.1f} | "
                         f"{r['after'] / r['before']:.2f} | {sum(pd) / len(pd) / 1024:,.1f} |")
    lines.append("")
    lines.append("frostfork builds measured: " + "; ".join(
        f"{run['python']}: {run.get('frostfork', '?')}" for run in runs))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run", "report"])
    ap.add_argument("--root")
    ap.add_argument("--venv")
    ap.add_argument("--work", required=True)
    ap.add_argument("--python", help="the venv's Python version, e.g. 3.12")
    ap.add_argument("--frostfork", default="")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--servers", nargs="+", default=[k for k, _ in SERVERS])
    ap.add_argument("--results")
    ap.add_argument("--command")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if a.mode == "report":
        body = render(a.work, a.command)
        replace_section(a.results, "read the heap", body)
        print(body)
        return 0
    memory.PGID_FILE = os.path.join(a.work, "pgids")
    data = {"python": a.python, "workers": a.workers, "frostfork": a.frostfork, "results": {}}
    servers = [k for k in a.servers if k != "ff-immortal" or tuple(
        map(int, a.python.split("."))) >= (3, 12)]
    try:
        for key in servers:
            data["results"][key] = run_server(key, a.workers, a)
    finally:
        memory.stop_everything()
    with open(os.path.join(a.work, f"read-heap-{a.python}.json"), "w") as f:
        json.dump(data, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
