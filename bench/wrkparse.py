"""Parse wrk output and write sections of bench/RESULTS.md.

  wrkparse.py throughput --results RESULTS.md --command CMD [--note TEXT] --row LABEL BASE [--row ...]
      BASE.wrk holds wrk --latency output, or a first line "STATUS <text>" for a
      row that was not measured; BASE.cmd (optional) holds the server command.
  wrkparse.py sighup --results RESULTS.md --command CMD --wrk FILE [--note TEXT ...]

Sections are delimited by <!-- NAME:start --> / <!-- NAME:end --> and replaced in
place; the rest of RESULTS.md is kept. The section is also printed to stdout.
"""
import argparse
import datetime
import os
import platform
import re

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
LOAD_AT_START = " ".join(open("/proc/loadavg").read().split()[:3])  # read when a bench imports this


def load_line():
    """What else the machine was doing: the load average when the benchmark began."""
    return (f"- Load average (1, 5, 15 min) when this run began: {LOAD_AT_START}, on 2 cores "
            "shared with whatever else runs: compare within a run, not across runs.")


def parse(text):
    """Return a dict from wrk output; {'status': ...} for a STATUS line."""
    if text.startswith("STATUS "):
        return {"status": text.splitlines()[0][7:].strip()}
    r = {"rps": None, "p50": None, "p99": None, "requests": None, "non2xx": 0, "socket": 0}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        r["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        if m := re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
            r["p" + pct] = float(m.group(1)) * UNITS[m.group(2)]
    if m := re.search(r"(\d+) requests in", text):
        r["requests"] = int(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        r["non2xx"] = int(m.group(1))
    if m := re.search(r"Socket errors:(.*)", text):
        r["socket"] = sum(int(n) for n in re.findall(r"\d+", m.group(1)))
        r["socket_text"] = m.group(1).strip()
    if r["rps"] is None:
        return {"status": "failed: no wrk result"}
    return r


def ms(v):
    return "—" if v is None else f"{v:.2f} ms"


def errors(r):
    if not r["non2xx"] and not r["socket"]:
        return "0"
    parts = []
    if r["non2xx"]:
        parts.append(f"non-2xx {r['non2xx']}")
    if r["socket"]:
        parts.append(f"socket: {r['socket_text']}")
    return ", ".join(parts)


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, kernel {platform.release()}, CPU {model}"


def header(title, command):
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return [f"## {title}", "", f"- Date: {now}", f"- Machine: {machine()}",
            f"- Command: `{command}`", ""]


def replace_section(path, name, body):
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    old = open(path).read() if os.path.exists(path) else "# frostfork benchmark results\n"
    pat = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    new = pat.sub(lambda _: block, old) if pat.search(old) else old.rstrip() + "\n\n" + block
    with open(path, "w") as f:
        f.write(new.rstrip() + "\n")


def read(path):
    try:
        return open(path).read()
    except OSError:
        return ""


def throughput(a):
    rows = [(label, parse(read(base + ".wrk") or "STATUS failed: no output"), read(base + ".cmd").strip())
            for label, base in a.row]
    ceiling = next((r.get("rps") for label, r, _ in rows if label.startswith("nginx")), None)
    lines = header("Throughput", a.command)[:-1] + [f"- {n}" for n in a.note] + [""]
    lines += ["| server | req/s | p50 | p99 | ratio to nginx | errors |",
              "| --- | ---: | ---: | ---: | ---: | --- |"]
    for label, r, _ in rows:
        if "status" in r:
            lines.append(f"| {label} | {r['status']} | | | | |")
            continue
        ratio = f"{r['rps'] / ceiling:.2f}" if ceiling else "—"
        lines.append(f"| {label} | {r['rps']:,.0f} | {ms(r['p50'])} | {ms(r['p99'])} | {ratio} | {errors(r)} |")
    lines += ["", "Server commands (each run with `taskset -c 0`, cwd = repo root):", ""]
    lines += [f"- {label}: `{cmd}`" for label, _, cmd in rows if cmd]
    body = "\n".join(lines)
    replace_section(a.results, "throughput", body)
    print(body)


def sighup(a):
    r = parse(read(a.wrk) or "STATUS failed: no output")
    lines = header("SIGHUP under load", a.command)
    if "status" in r:
        lines.append(f"frostfork: {r['status']}")
    else:
        lines += ["| requests | req/s | p99 | non-2xx | socket errors |",
                  "| ---: | ---: | ---: | ---: | --- |",
                  f"| {r['requests']:,} | {r['rps']:,.0f} | {ms(r['p99'])} | {r['non2xx']} | "
                  f"{r.get('socket_text', '0')} |"]
    lines += [""] + [f"- {n}" for n in a.note]
    body = "\n".join(lines)
    replace_section(a.results, "sighup", body)
    print(body)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["throughput", "sighup"])
    p.add_argument("--results", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("--row", nargs=2, action="append", default=[], metavar=("LABEL", "BASE"))
    p.add_argument("--wrk")
    p.add_argument("--note", action="append", default=[])
    a = p.parse_args()
    throughput(a) if a.mode == "throughput" else sighup(a)
