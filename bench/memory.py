"""Memory benchmark driver for bench/run-memory (run that script, not this file).

  memory.py run    --root ROOT --work DIR --results RESULTS.md --command CMD [--workers 4 8] [--apps ...]
  memory.py report --work DIR --results RESULTS.md --command CMD     (re-render from DIR/results.json)

For each app in bench/apps (mem_live, mem_cyclic) and each worker count N it starts
each server in turn (own session, not pinned), waits until the master has N children
and the port answers, sends GET /gc on fresh connections (staggered rounds of N) until
every worker pid has answered at least twice and at least REQ_PER_WORKER*N (default 2N)
requests were sent (each /gc runs three full collections in that worker), waits 1 s, sums Pss from
/proc/PID/smaps_rollup over the master and all its descendants, and stops the server.
The baseline is one plain python process that imports the same module and runs three
full collections. Raw numbers go to DIR/results.json; the "Memory" section of
RESULTS.md is replaced (wrkparse.replace_section) and printed.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wrkparse import header, replace_section  # noqa: E402

# Bounds. On a 2-core machine granian imports mem_cyclic in each of 8 workers (~3 s
# each) and an unfrozen 8-worker server's first /gc round copies ~300 MB per worker,
# so these are wider than 20 s; a frozen server is ready and done in a few seconds.
START_WAIT = 60.0      # s: master up, N children, port answering
GC_WAIT = 120.0        # s: the whole /gc phase
REQUEST_TIMEOUT = 60.0  # s: one /gc request
SETTLE = 1.0           # s: after the last /gc, before reading smaps_rollup
STAGGER = 0.03         # s: between the N connections of a round (see hit_round)
REQ_PER_WORKER = int(os.environ.get("REQ_PER_WORKER", "2"))
MIN_HITS = 2
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Shared_Dirty",
          "Private_Clean", "Private_Dirty")

# (key, label, kind); kind selects the command in server_cmd().
SERVERS = [
    ("ff-collect", "frostfork --freeze collect (default)", "frostfork"),
    ("ff-early", "frostfork --freeze early", "frostfork"),
    ("ff-off", "frostfork --freeze off", "frostfork"),
    ("gunicorn", "gunicorn --preload (sync, no freeze)", "gunicorn"),
    ("gunicorn-freeze", "gunicorn --preload + gc.freeze() in when_ready", "gunicorn"),
    ("granian", "granian WSGI (app loaded per worker)", "granian"),
]
LABELS = dict((k, label) for k, label, _ in SERVERS)
BASELINE = "one-process"
LABELS[BASELINE] = "one python process (import + 3x gc.collect())"

RUNNING = {}           # pid -> name, process groups started and not yet stopped
PGID_FILE = None


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def server_cmd(key, app, n, port):
    mod = f"bench.apps.{app}"
    if key.startswith("ff-"):
        return ["frostfork", "serve", f"{mod}:app", "--workers", str(n),
                "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--freeze", key[3:]]
    if key.startswith("gunicorn"):
        cmd = ["gunicorn", "--preload", "--workers", str(n), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning",
               "--no-control-socket"]
        if key == "gunicorn-freeze":
            cmd += ["-c", "bench/gunicorn_freeze.py"]
        return cmd + [f"{mod}:wsgi"]
    if key == "granian":
        return ["granian", "--interface", "wsgi", "--workers", str(n), "--host", "127.0.0.1",
                "--port", str(port), "--no-access-log", "--log-level", "warning", f"{mod}:wsgi"]
    raise ValueError(key)


def baseline_cmd(app):
    code = (f"import gc, sys; import bench.apps.{app}; "
            "gc.collect(); gc.collect(); gc.collect(); "
            "print(\"ready\", flush=True); sys.stdin.read()")
    return ["python", "-c", code]


# ---- processes ---------------------------------------------------------------

def save_pgids():
    if PGID_FILE:
        with open(PGID_FILE, "w") as f:
            f.write("".join(f"{p}\n" for p in RUNNING))


def start(name, cmd, root, venv, logpath, stdin=None, stdout=None):
    env = dict(os.environ, PYTHONPATH=root, PATH=f"{venv}/bin:{os.environ['PATH']}",
               PYTHONUNBUFFERED="1")
    with open(logpath, "w") as logf:
        p = subprocess.Popen(cmd, cwd=root, env=env, stdin=stdin, stdout=stdout or logf,
                             stderr=logf, start_new_session=True)
    RUNNING[p.pid] = name
    save_pgids()
    return p


def stop(p):
    """TERM the master, wait up to 5 s, then KILL its whole process group."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)   # stragglers (workers) share the session's group
    except ProcessLookupError:
        pass
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass
    RUNNING.pop(p.pid, None)
    save_pgids()


def stop_everything(*_):
    for pgid in list(RUNNING):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        RUNNING.pop(pgid, None)
    save_pgids()


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid):
    """(direct children, all descendants) of pid."""
    kids = children_map()
    direct = sorted(kids.get(pid, []))
    out, todo = [], list(direct)
    while todo:
        c = todo.pop()
        out.append(c)
        todo += kids.get(c, [])
    return direct, sorted(out)


def rollup(pid):
    r = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB" and parts[0].rstrip(":") in FIELDS:
            r[parts[0].rstrip(":")] = int(parts[1])
    return r


# ---- HTTP --------------------------------------------------------------------

def get(port, path, timeout=15.0):
    """One GET on a fresh connection (Connection: close); returns (status, parsed JSON or None)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read()
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, None
    finally:
        c.close()


def hit_round(pool, port, n, path="/gc"):
    """n GET path (/gc) on fresh connections, the i-th started i*STAGGER s after the first.

    Every /gc keeps its worker busy for at least memgc.HOLD (0.3 s) > n*STAGGER, so
    each new connection finds the workers that took the earlier ones busy; with
    EPOLLEXCLUSIVE the kernel then wakes an idle worker instead, and the round
    spreads over the workers. Returns (status, body) or an exception per request.
    """
    def one(delay):
        time.sleep(delay)
        return get(port, path, timeout=REQUEST_TIMEOUT)
    futs = [pool.submit(one, i * STAGGER) for i in range(n)]
    out = []
    for f in futs:
        try:
            out.append(f.result())
        except (OSError, http.client.HTTPException) as e:
            out.append(e)
    return out


def port_answers(port):
    try:
        status, _ = get(port, "/", timeout=1.0)
        return status == 200
    except (OSError, http.client.HTTPException):
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- one measurement ---------------------------------------------------------

def measure(pids):
    procs = {}
    for pid in pids:
        try:
            procs[pid] = rollup(pid)
        except OSError:
            procs[pid] = None
    return procs


def run_server(key, app, n, a):
    port = free_port()
    cmd = server_cmd(key, app, n, port)
    name = f"mem-{app}-{key}-{n}"
    logpath = os.path.join(a.work, name + ".log")
    res = {"cmd": " ".join(cmd).replace(str(port), "PORT"), "log": os.path.relpath(logpath, a.root)}
    log(f"{app} {key} workers={n}: {' '.join(cmd)}")
    p = start(name, cmd, a.root, a.venv, logpath)
    try:
        deadline = time.monotonic() + START_WAIT
        direct = []
        while True:
            if p.poll() is not None:
                return dict(res, status=f"failed: exited {p.returncode} before ready ({res['log']})")
            direct, _ = tree(p.pid)
            if len(direct) >= n and port_answers(port):
                break
            if time.monotonic() > deadline:
                return dict(res, status=f"failed: not ready in {START_WAIT:.0f} s "
                                        f"({len(direct)}/{n} children; {res['log']})")
            time.sleep(0.2)
        res["startup_s"] = round(START_WAIT - (deadline - time.monotonic()), 1)

        # /gc on fresh connections, rounds of n, until every worker answered MIN_HITS times.
        hits, sent, errors, t0 = {}, 0, 0, time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as pool:
            while True:
                workers = set(tree(p.pid)[0])
                done = (sent >= REQ_PER_WORKER * n and workers
                        and all(hits.get(w, 0) >= MIN_HITS for w in workers))
                if done or time.monotonic() - t0 > GC_WAIT or sent >= 16 * n:
                    break
                for r in hit_round(pool, port, n):
                    sent += 1
                    if isinstance(r, tuple) and r[0] == 200 and r[1] and r[1].get("ok"):
                        hits[r[1]["pid"]] = hits.get(r[1]["pid"], 0) + 1
                    else:
                        errors += 1
                        log(f"  /gc failed: {r!r}")
        res["gc_requests"], res["gc_errors"] = sent, errors
        res["gc_seconds"] = round(time.monotonic() - t0, 1)
        time.sleep(SETTLE)

        direct, everyone = tree(p.pid)
        procs = measure([p.pid] + everyone)
        if any(v is None for v in procs.values()):
            return dict(res, status="failed: a process vanished while reading smaps_rollup")
        res["hits"] = {str(k): v for k, v in sorted(hits.items())}
        res["master"] = procs[p.pid]
        res["workers"] = [procs[w] for w in direct]
        res["others"] = [procs[w] for w in everyone if w not in direct]
        res["total_pss"] = sum(v["Pss"] for v in procs.values())
        notes = []
        if len(direct) != n:
            notes.append(f"{len(direct)} children at measurement, expected {n}")
        missed = [w for w in direct if hits.get(w, 0) < MIN_HITS]
        if missed:
            notes.append(f"{len(missed)} worker(s) answered /gc fewer than {MIN_HITS} times")
        if errors:
            notes.append(f"{errors} /gc request(s) failed")
        if res["others"]:
            notes.append(f"{len(res['others'])} further descendant(s) included in the total")
        res["notes"] = notes
        res["status"] = "ok"
        log(f"  total PSS {res['total_pss'] / 1024:.1f} MiB; master {res['master']['Pss'] / 1024:.1f}; "
            f"workers {[round(w['Pss'] / 1024, 1) for w in res['workers']]}; "
            f"/gc {sent} requests in {res['gc_seconds']} s, hits {sorted(hits.values())}"
            + (f"; NOTE {'; '.join(notes)}" if notes else ""))
        return res
    finally:
        stop(p)


def run_baseline(app, a):
    name = f"mem-{app}-one-process"
    logpath = os.path.join(a.work, name + ".log")
    cmd = baseline_cmd(app)
    log(f"{app} one process: {' '.join(cmd)}")
    p = start(name, cmd, a.root, a.venv, logpath, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    res = {"cmd": "python -c '" + cmd[2] + "'"}
    try:
        os.set_blocking(p.stdout.fileno(), False)
        deadline, out = time.monotonic() + START_WAIT, b""
        while b"ready" not in out:
            if p.poll() is not None or time.monotonic() > deadline:
                return dict(res, status=f"failed: not ready ({os.path.relpath(logpath, a.root)})")
            time.sleep(0.1)
            out += p.stdout.read() or b""
        time.sleep(SETTLE)
        r = rollup(p.pid)
        log(f"  PSS {r['Pss'] / 1024:.1f} MiB")
        return dict(res, status="ok", master=r, workers=[], others=[], total_pss=r["Pss"], notes=[])
    finally:
        stop(p)


# ---- report ------------------------------------------------------------------

def mib(kb):
    return f"{kb / 1024:,.1f}"


def render(data, command):
    results, ns = data["results"], data["workers"]
    lo, hi = ns[0], ns[-1]
    lines = header("Memory", command)[:-1]
    if data.get("frostfork"):
        lines.append(f"- frostfork: {data['frostfork']}")
    lines += [
        f"- Total PSS = sum of `Pss` in `/proc/PID/smaps_rollup` over the master and all its "
        f"descendants, in MiB, read {SETTLE:.0f} s after every worker has answered `GET /gc` "
        f"(three `gc.collect()` per request) at least {MIN_HITS} times (checked by the worker pid "
        f"in the answer); requests on fresh connections (`Connection: close`) in rounds of N, "
        f"{STAGGER * 1000:.0f} ms apart, each holding its worker 0.3 s so that a round spreads "
        f"over the workers. Servers not pinned (`--timeout 120` for frostfork and gunicorn, so "
        f"a slow unfrozen first collection is not killed); one server at a time.",
        "- Apps (bench/apps): `mem_live` builds 600,000 dicts "
        "`{\"id\": i, \"name\": f\"n{i}\", \"tags\": [i % 7]}` at import and keeps them; "
        "`mem_cyclic` first builds 300,000 objects in dict↔list cycles (a scratch structure), "
        "then the same live dicts, then drops the scratch structure: import-time garbage "
        "only a collection reclaims. "
        "Each module serves the same `/gc` as a frostfork.App (`app`) and a WSGI callable (`wsgi`).",
        "- One process = one plain python process that imports the module and runs three "
        "full collections. gunicorn runs with `--no-control-socket`; its freeze variant adds "
        "`-c bench/gunicorn_freeze.py` (`when_ready`: `gc.collect(); gc.freeze()` in the master, "
        "after the `--preload` import, before the first fork).",
        "",
    ]
    bars = []
    for app in data["apps"]:
        r = results[app]
        base = r.get(BASELINE, {})
        base_pss = base.get("total_pss")
        gun = {n: r.get(f"gunicorn@{n}", {}).get("total_pss") for n in ns}

        def ratio(v, ref):
            return f"{v / ref:.2f}" if v and ref else "—"

        lines += [f"### {app}", "",
                  f"| server / mode | total PSS, {lo} workers | total PSS, {hi} workers | growth {lo}→{hi} "
                  f"| ratio to one process ({lo} / {hi}) | ratio to gunicorn --preload, no freeze ({lo} / {hi}) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        if base.get("status") == "ok":
            lines.append(f"| {LABELS[BASELINE]} | {mib(base_pss)} | | | 1.00 | "
                         f"{ratio(base_pss, gun[lo])} / {ratio(base_pss, gun[hi])} |")
        else:
            lines.append(f"| {LABELS[BASELINE]} | {base.get('status', 'not run')} | | | | |")
        detail = [f"| server / mode ({lo} · {hi} workers) | master PSS | mean worker PSS "
                  f"| mean worker Private_Dirty | mean worker Private_Clean | /gc requests (min hits per worker) |",
                  "| --- | ---: | ---: | ---: | ---: | --- |"]
        notes = []
        for key, label, _ in SERVERS:
            cells = [r.get(f"{key}@{n}", {"status": "not run"}) for n in ns]
            tot = [c.get("total_pss") if c.get("status") == "ok" else None for c in cells]
            shown = [mib(t) if t else c["status"] for t, c in zip(tot, cells)]
            growth = f"{(tot[-1] / tot[0] - 1) * 100:+.1f}%" if tot[0] and tot[-1] else "—"
            lines.append(f"| {label} | {shown[0]} | {shown[-1]} | {growth} | "
                         f"{ratio(tot[0], base_pss)} / {ratio(tot[-1], base_pss)} | "
                         f"{ratio(tot[0], gun[lo])} / {ratio(tot[-1], gun[hi])} |")
            cols = [[], [], [], [], []]
            for c in cells:
                if c.get("status") != "ok":
                    for col in cols:
                        col.append("—")
                    continue
                w = c["workers"]
                mean = lambda f: sum(x[f] for x in w) / len(w) if w else 0  # noqa: E731
                cols[0].append(mib(c["master"]["Pss"]))
                cols[1].append(mib(mean("Pss")))
                cols[2].append(mib(mean("Private_Dirty")))
                cols[3].append(mib(mean("Private_Clean")))
                cols[4].append(f"{c['gc_requests']} ({min(c['hits'].values(), default=0)})")
                notes += [f"{label}, {len(w)} workers: {x}" for x in c.get("notes", [])]
            detail.append(f"| {label} | " + " | ".join(" · ".join(col) for col in cols) + " |")
        lines += ["", "Per process (MiB):", ""] + detail
        if notes:
            lines += [""] + [f"- Note: {x}" for x in notes]
        lines.append("")

        ff = [r.get(f"ff-collect@{n}", {}) for n in (lo, hi)]
        ff_tot = [c.get("total_pss") if c.get("status") == "ok" else None for c in ff]
        if ff_tot[0] and base_pss and gun[lo]:
            x1, x2 = ff_tot[0] / base_pss, ff_tot[0] / gun[lo]
            ok1 = x1 <= 1.15 and x2 <= 0.45
            bars.append(f"- Bar 1, `{app}`: frostfork (collect), {lo} workers = {x1:.2f}× one process "
                        f"(≤ 1.15) and {x2:.2f}× gunicorn --preload without freeze (≤ 0.45): "
                        f"**{'met' if ok1 else 'NOT met'}**.")
        else:
            bars.append(f"- Bar 1, `{app}`: not measurable (a run failed).")
        if all(ff_tot):
            g = (ff_tot[1] / ff_tot[0] - 1) * 100
            bars.append(f"- Bar 2, `{app}`: {lo}→{hi} workers adds {g:+.1f}% to frostfork's total PSS "
                        f"(≤ +8%): **{'met' if g <= 8 else 'NOT met'}**.")
        else:
            bars.append(f"- Bar 2, `{app}`: not measurable (a run failed).")
    lines += ["### Bars", ""] + bars + [""]
    cmds = {}
    for app in data["apps"]:
        for key, c in data["results"][app].items():
            k = key.split("@")[0]
            cmds.setdefault(k, c.get("cmd", "").replace(app, "APP").replace(f"--workers {hi}", f"--workers N")
                            .replace(f"--workers {lo}", "--workers N"))
    lines += ["Commands (cwd = repo root, `PYTHONPATH` = repo root, bench venv on `PATH`; "
              "APP = mem_live or mem_cyclic):", ""]
    lines += [f"- {LABELS[k]}: `{v}`" for k, v in cmds.items()]
    return "\n".join(lines)


def write(data, a):
    body = render(data, a.command)
    replace_section(a.results, "memory", body)
    print(body)


def main():
    global PGID_FILE
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run", "report"])
    ap.add_argument("--root")
    ap.add_argument("--venv")
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--frostfork", default="", help="which frostfork build was measured")
    ap.add_argument("--workers", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--apps", nargs="+", default=["mem_live", "mem_cyclic"])
    ap.add_argument("--servers", nargs="+", default=[k for k, _, _ in SERVERS])
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    out = os.path.join(a.work, "results.json")
    if a.mode == "report":
        write(json.load(open(out)), a)
        return 0

    PGID_FILE = os.path.join(a.work, "pgids")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    data = {"apps": a.apps, "workers": a.workers, "frostfork": a.frostfork,
            "results": {app: {} for app in a.apps}}
    try:
        for app in a.apps:
            r = data["results"][app]
            r[BASELINE] = run_baseline(app, a)
            for n in a.workers:
                for key in a.servers:
                    r[f"{key}@{n}"] = run_server(key, app, n, a)
                    with open(out, "w") as f:
                        json.dump(data, f, indent=1)
    finally:
        stop_everything()
    write(data, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
