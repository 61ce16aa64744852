"""The two bars of issue 15, measured.

    .venv/bin/python bench/upgrade_reload.py usr2      # wrk -c50 for 20 s, one SIGUSR2 upgrade
    .venv/bin/python bench/upgrade_reload.py reload    # --reload: 10 edits under a paced client

usr2: a server (2 workers, pinned to core 0) serves a module answering
{"version": "v1"}; wrk (core 1, -t1 -c50 -d20s, a Lua script sorting the
responses by version) loads it; at 5 s the module is changed to answer v2 and
the master gets SIGUSR2. Reported: wrk's totals, non-2xx, socket errors, how
many responses each version gave, how long until the new master took the pid
file and until the old master was gone, and what answers afterwards.

reload: `serve --reload` on the same module; a client opens a new connection
every 5 ms (one request each) while the module is edited 10 times; each edit's
time until the new version answers, and every refused or failed connection.

Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

APP = """\
import frostfork
app = frostfork.App()

@app.get("/")
def index():
    return {{"version": {version!r}}}
"""

LUA = """\
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) v1 = 0; v2 = 0; other = 0 end
function response(status, headers, body)
  if status ~= 200 then other = other + 1
  elseif string.find(body, '"v2"', 1, true) then v2 = v2 + 1
  elseif string.find(body, '"v1"', 1, true) then v1 = v1 + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("v1"); b = b + t:get("v2"); c = c + t:get("other") end
  io.write(string.format("VERSIONS v1=%d v2=%d other=%d\\n", a, b, c))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def version(port: int, timeout: float = 5) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b"".join(iter(lambda: s.recv(65536), b""))
    m = re.search(rb'"version":"([^"]*)"', data)
    return m.group(1).decode() if m else f"bad response {data[:60]!r}"


def wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = pred()
        except OSError:
            got = None
        if got:
            return got
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def env_for(where: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(where), PYTHONDONTWRITEBYTECODE="1")


def usr2(where: Path) -> None:
    (where / "ver_app.py").write_text(APP.format(version="v1"))
    (where / "count.lua").write_text(LUA)
    port, pid_file = free_port(), where / "api.pid"
    log = open(where / "server.log", "w")
    master = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "frostfork", "serve",
                               "ver_app:app", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                               "--pid", str(pid_file)], cwd=where, env=env_for(where),
                              stdout=log, stderr=subprocess.STDOUT)
    wait(lambda: pid_file.exists() and version(port) == "v1", 20, "the server")
    old = int(pid_file.read_text())
    wrk = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c50", "-d20s", "--latency",
                            "-s", str(where / "count.lua"), f"http://127.0.0.1:{port}/"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(5)
    (where / "ver_app.py").write_text(APP.format(version="v2"))
    t0 = time.monotonic()
    os.kill(old, signal.SIGUSR2)
    new = wait(lambda: (lambda p: p if p != old else 0)(int(pid_file.read_text())), 30,
               "the new master's pid file")
    took_ready = time.monotonic() - t0
    master.wait(timeout=60)
    took_gone = time.monotonic() - t0
    out, _ = wrk.communicate(timeout=60)
    after = {version(port) for _ in range(50)}
    os.kill(new, signal.SIGTERM)
    wait(lambda: not alive(new), 40, "the new master's exit")
    total = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    versions = re.search(r"VERSIONS (.*)", out)
    print("| requests | req/s | p99 | non-2xx | socket errors | responses by version |")
    print("| ---: | ---: | ---: | ---: | --- | --- |")
    print(f"| {int(total.group(1)):,} | {float(rps.group(1)):,.0f} | {p99.group(1)} | "
          f"{non2xx.group(1) if non2xx else 0} | {errors.group(1) if errors else 0} | "
          f"{versions.group(1) if versions else '?'} |")
    print()
    print(f"- SIGUSR2 to master {old} at ~5 s; new master {new} took the pid file "
          f"{took_ready:.2f} s later (its 2 workers in their loops); the old master was gone "
          f"{took_gone:.2f} s after the signal (exit status {master.returncode}).")
    print(f"- After the run, 50 fresh requests answered: {sorted(after)}.")


def reload(where: Path) -> None:
    path = where / "ver_app.py"
    path.write_text(APP.format(version="v1"))
    port = free_port()
    log = open(where / "reload.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "frostfork", "serve", "ver_app:app",
                               "--reload", "--bind", f"127.0.0.1:{port}"], cwd=where,
                              env=env_for(where), stdout=log, stderr=subprocess.STDOUT)
    wait(lambda: version(port) == "v1", 20, "the server")
    outcomes: list[str] = []
    done = threading.Event()

    def paced():
        while not done.is_set():
            try:
                outcomes.append(version(port))
            except OSError as e:
                outcomes.append(f"error {type(e).__name__}")
            time.sleep(0.005)

    client = threading.Thread(target=paced)
    client.start()
    times = []
    for n in range(2, 12):
        time.sleep(0.3)
        path.write_text(APP.format(version=f"v{n}"))
        t0 = time.monotonic()
        wait(lambda: outcomes and outcomes[-1] == f"v{n}", 20, f"v{n}")
        times.append(time.monotonic() - t0)
    done.set()
    client.join()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    errors = [o for o in outcomes if o.startswith("error") or o.startswith("bad")]
    print("| edits | connections | refused or failed | edit → new version answers: min / median / max |")
    print("| ---: | ---: | ---: | --- |")
    print(f"| {len(times)} | {len(outcomes):,} | {len(errors)} | {min(times):.2f} s / "
          f"{statistics.median(times):.2f} s / {max(times):.2f} s |")


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "usr2"
    with tempfile.TemporaryDirectory(prefix="frostfork-bench-") as tmp:
        {"usr2": usr2, "reload": reload}[which](Path(tmp))
