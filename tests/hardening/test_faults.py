"""Faults from outside and inside, over real processes and sockets on 127.0.0.1.

- workers SIGKILLed every 200 ms under load: the master keeps N alive and at
  most 1% of requests fail;
- a handler that segfaults / _exits / never returns costs only its own worker,
  a request on another worker is unaffected, the master logs the death (and
  the request it was handling);
- oversized request line / header section / body and too many fields are
  answered 414 / 431 / 413 with the connection closed, 2,000 times over with
  no memory growth;
- 1,000 slowloris connections plus 200 idle keep-alive connections are timed
  out while normal traffic (wrk -c50, paced below capacity) keeps its p99
  latency, whether the attacker's bytes are staggered or sent in one burst;
- SIGHUP twice and then SIGTERM under wrk -c50: no request that reached the
  server is lost.

Every loop is bounded in count and in time. wrk comes from Debian (make
system-deps); it is required, not optional.
"""

from __future__ import annotations

import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time

import pytest

from conftest import (SANITIZED, SLOW, Closed, exchange, parse_responses, raw, read_response, rss_kib,
                      server_connections, wait_until)

WRK = shutil.which("wrk")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def raise_nofile(n: int) -> None:
    """Lets this process (and the servers and wrk it starts) hold n fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= n, "cannot raise RLIMIT_NOFILE"


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk(url: str, seconds: float, connections: int = 50, threads: int = 2,
        script: str | None = None) -> dict:
    """Runs wrk --latency (with a Lua script, if given) and returns its counts
    and latency percentiles (s)."""
    assert WRK, "wrk is required (make system-deps installs Debian's wrk)"
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
           "--timeout", "5s", "--latency", *(["-s", script] if script else []), url]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                         timeout=seconds + 30).stdout
    m = re.search(r"(\d+) requests in", out)
    assert m, f"unexpected wrk output:\n{out}"
    res = {"requests": int(m.group(1)), "connect": 0, "read": 0, "write": 0, "timeout": 0,
           "non2xx": 0, "out": out}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res.update(connect=int(m.group(1)), read=int(m.group(2)), write=int(m.group(3)),
                   timeout=int(m.group(4)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        assert m, f"no {pct}% latency in wrk output:\n{out}"
        res[f"p{pct}"] = float(m.group(1)) * _UNITS[m.group(2)]
    res["failed"] = res["connect"] + res["read"] + res["write"] + res["timeout"] + res["non2xx"]
    return res


# The segfault routes crash on purpose: under the sanitized build, let the
# SIGSEGV kill the worker as it would in production instead of ASan reporting
# it (a report fails the run).
LET_SEGV = ({"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":handle_segv=0"}
            if SANITIZED else {})


def http_get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    data = raw(port, f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode(),
               timeout=timeout)
    assert data, f"no response to GET {path}"
    status, _, body = parse_responses(data)[0]
    return status, body


# ---------------------------------------------------------------------------
# SIGKILL storm under load
# ---------------------------------------------------------------------------

def test_kill_storm_under_load_keeps_workers_and_requests(serve):
    """A random worker gets SIGKILL every 200 ms for 20 s while wrk -t2 -c50
    -d20s runs: at most 1% of the requests may fail (wrk's socket errors +
    non-2xx answers), there must be a live worker at every tick (wrk does not
    count requests it could not make, so an outage hides from its counts), and
    N workers must be back within 5 s of the storm's end."""
    n_workers = 4
    raise_nofile(4096)
    srv = serve("native_basic:app", "--workers", str(n_workers))
    srv.wait_workers(n_workers)
    url = f"http://127.0.0.1:{srv.port}/"
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(wrk(url, 20)))
    runner.start()
    kills = ticks = empty_ticks = 0
    rng = random.Random(1234)
    t_end = time.monotonic() + 20
    while time.monotonic() < t_end and runner.is_alive():
        ticks += 1
        pids = srv.workers()
        if not pids:
            empty_ticks += 1
        else:
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
        time.sleep(0.2)  # the behaviour under test: a kill every 200 ms
    runner.join(timeout=60)
    assert not runner.is_alive(), "wrk did not finish"
    assert srv.proc.poll() is None, "the master died"
    assert result["requests"] > 0
    fail_ratio = result["failed"] / result["requests"]
    story = (f"{kills} kills in {ticks} ticks of 200 ms; no worker alive at {empty_ticks} "
             f"ticks; {result['failed']} of {result['requests']} requests failed "
             f"({fail_ratio:.2%})\n{result['out']}\nserver log tail:\n{srv.output()[-1500:]}")
    print(story.splitlines()[0])
    problems = []
    if fail_ratio > 0.01:
        problems.append("more than 1% of requests failed")
    if empty_ticks:
        # wrk cannot count requests never made: an outage shows here instead
        problems.append(f"no worker was alive for {empty_ticks * 0.2:.1f} s of the storm")
    try:
        t0 = time.monotonic()
        srv.wait_workers(n_workers, timeout=30)
        recovered = time.monotonic() - t0
    except AssertionError:
        problems.append(f"fewer than {n_workers} workers 30 s after the storm: {srv.workers()}")
    else:
        if recovered > 5 * SLOW:
            problems.append(f"{n_workers} workers only {recovered:.1f} s after the storm")
    assert not problems, "; ".join(problems) + "\n" + story
    assert http_get(srv.port, "/")[0] == 200


# ---------------------------------------------------------------------------
# handlers that kill their worker
# ---------------------------------------------------------------------------

FAULTS = {
    # route: (server args, what the master logs about it)
    "/segv": ((), "died unexpectedly (signal 11"),
    "/exit": ((), "died unexpectedly (exit code 7)"),
    "/spin": (("--timeout", "2"), "timed out (no heartbeat"),
}


@pytest.mark.parametrize("route", list(FAULTS))
def test_fatal_handler_costs_only_its_worker(serve, route, tmp_path):
    args, logged = FAULTS[route]
    srv = serve("fault_app:app", "--workers", "2", *args, env=LET_SEGV)
    before = set(srv.wait_workers(2))
    slow: dict = {}
    started = tmp_path / "started"

    def slow_request():  # occupies one worker inside a handler
        try:
            slow["resp"] = http_get(srv.port, f"/sleep/1500?started={started}", timeout=20)
        except OSError as e:  # recorded, asserted below
            slow["error"] = e

    t = threading.Thread(target=slow_request)
    t.start()
    wait_until(started.exists, what="the slow request is inside its handler")
    data, closed = exchange(srv.port, f"GET {route} HTTP/1.1\r\nHost: t\r\n\r\n".encode(),
                            timeout=15)
    assert closed, f"connection to the dying worker was not closed; got {data[:200]!r}"
    # Either nothing, or a 5xx: never a success.
    if data:
        assert parse_responses(data)[0][0] >= 500, data[:200]
    t.join(timeout=30)
    assert "resp" in slow, f"the concurrent request failed: {slow.get('error')!r}"
    status, body = slow["resp"]
    assert status == 200 and b'"slept":1500' in body.replace(b" ", b"")
    survivor = int(re.search(rb'"pid":\s*(\d+)', body).group(1))
    assert survivor in before
    # The faulty worker is gone and replaced; the other one is untouched.
    after = wait_until(lambda: (lambda a: a if len(a) == 2 and len(a - before) == 1 else None)(
        set(srv.workers())), 20, what=lambda: f"one worker replaced: {before}\n{srv.output()}")
    assert survivor in after
    srv.wait_output(logged, 5)
    assert http_get(srv.port, "/")[0] == 200


class _Clients:
    """Keep-alive clients on raw sockets that tell apart what wrk cannot: a
    refused connection (nothing was sent) and a request that was sent and
    never answered (lost). Bounded: they stop on `stop` or after `seconds`."""

    REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"

    def __init__(self, port: int, n: int = 16):
        self.port = port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {"answered": 0, "refused": 0, "lost": 0, "non200": 0}
        self.threads = [threading.Thread(target=self._run) for _ in range(n)]

    def _add(self, **kw: int) -> None:
        with self.lock:
            for k, v in kw.items():
                self.counts[k] += v

    @staticmethod
    def _answer(s: socket.socket) -> tuple[int, bool] | None:
        """(status, connection closes) of one response, or None if the
        server closed or reset the connection instead of answering."""
        try:
            r = read_response(s, timeout=10)
        except (Closed, TimeoutError):
            return None
        return r.status, r.header("connection") == "close"

    def _run(self) -> None:
        t_end = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < t_end:
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10 * SLOW)
            except ConnectionRefusedError:
                self._add(refused=1)
                time.sleep(0.01)  # a client's retry pace, not a wait for the server
                continue
            with s:
                for _ in range(10_000):
                    if self.stop.is_set():
                        break
                    try:
                        s.sendall(self.REQUEST)
                    except (BrokenPipeError, ConnectionResetError):
                        self._add(lost=1)
                        break
                    got = self._answer(s)
                    if got is None:
                        self._add(lost=1)
                        break
                    self._add(answered=1, non200=got[0] != 200)
                    if got[1]:
                        break

    def __enter__(self) -> "_Clients":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def test_hup_and_term_under_load_lose_no_request(serve):
    """Two SIGHUPs under wrk -c50: not one error of any kind. Then SIGTERM
    under 16 keep-alive clients: every request sent on a connection the
    server accepted is answered (no reset, no close instead of an answer),
    and the master exits 0. Connections opened after the workers let go of
    the listening socket are refused, the load balancer's cue to go
    elsewhere; they are counted, not failed. (wrk cannot tell a refused
    connection from a failed write, hence the clients of our own.)"""
    srv = serve("fault_app:app", "--workers", "2", "--graceful-timeout", "10")
    srv.wait_workers(2)
    url = f"http://127.0.0.1:{srv.port}/"
    wrk(url, 1)  # warm-up

    out: dict = {}
    gen = set(srv.workers())
    t = threading.Thread(target=lambda: out.update(r=wrk(url, 6 * SLOW)))
    t.start()
    for _ in range(2):  # under load: wrk's 50 connections are open, then each HUP
        wait_until(lambda: server_connections(srv.port) >= 50, what="wrk connected")
        srv.signal(signal.SIGHUP)  # replaces both workers
        gen = set(srv.wait_workers(2, timeout=20, exclude=gen))
    assert t.is_alive(), "wrk ended before the second HUP took effect: not under load"
    t.join(timeout=60)
    hup = out["r"]
    assert hup["failed"] == 0 and hup["requests"] > 1000, hup["out"]
    srv.wait_workers(2)

    with _Clients(srv.port) as clients:
        wait_until(lambda: clients.counts["answered"] > 1000, 15, what="the clients under way")
        before = clients.counts["answered"]
        srv.signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=15 * SLOW) == 0, srv.output()
        # the clients meet the closed socket
        wait_until(lambda: clients.counts["refused"] >= 16, what="the clients refused")
    c = clients.counts
    print(f"HUP x2 under wrk: {hup['requests']} requests, 0 errors; TERM under 16 clients: "
          f"{c['answered']} answered ({c['answered'] - before} after the TERM), "
          f"{c['refused']} connections refused, {c['lost']} lost")
    assert before > 500, c
    assert c["lost"] == 0 and c["non200"] == 0, c
    assert "SIGTERM: draining workers" in srv.output()


def test_crash_is_logged_with_the_request(serve):
    """The master names what the dead worker was handling, not just pid and signal."""
    srv = serve("fault_app:app", "--workers", "1", env=LET_SEGV)
    (pid,) = srv.wait_workers(1)
    exchange(srv.port, b"GET /segv?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", timeout=15)
    srv.wait_workers(1, exclude={pid})
    srv.wait_output(re.compile(rf"worker {pid} died unexpectedly \(signal 11\b.*\) while handling "
                               r"GET /segv\b"), 5)


# ---------------------------------------------------------------------------
# oversized requests: the right status, the connection closed, no growth
# ---------------------------------------------------------------------------

MAX_BODY = 64 * 1024
OVERSIZED = {
    "request line": (414, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"),
    "header bytes": (431, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"v" * 17000 + b"\r\n\r\n"),
    "header count": (431, b"GET / HTTP/1.1\r\nHost: t\r\n"
                     + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n"),
    "declared body": (413, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                      % (MAX_BODY + 1)),
    "chunk size": (413, b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"%x\r\n" % (MAX_BODY + 1)),
    "chunked body": (413, b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + (b"%x\r\n" % 40000 + b"b" * 40000 + b"\r\n") * 2 + b"0\r\n\r\n"),
}


def test_oversized_requests_are_refused_and_closed_without_growth(serve):
    srv = serve("fault_app:app", "--workers", "1", "--max-body", "64k")
    (pid,) = srv.wait_workers(1)
    cases = list(OVERSIZED.items())

    def one_round(count: int) -> None:
        for i in range(count):
            name, (status, req) = cases[i % len(cases)]
            data, closed = exchange(srv.port, req)
            assert data, f"{name}: no response"
            got = parse_responses(data)[0][0]
            assert got == status, f"{name}: expected {status}, got {data[:200]!r}"
            assert closed, f"{name}: connection left open after {status}"

    one_round(300)  # warm-up: allocator pools, caches
    assert srv.workers() == [pid], "the worker was replaced during the warm-up"
    rss0 = rss_kib(pid)
    one_round(2000)
    rss1 = rss_kib(pid)
    assert srv.workers() == [pid], "the worker was replaced"
    if not SANITIZED:  # ASan's quarantine holds freed memory on purpose: RSS says nothing there
        assert rss1 - rss0 < 2048, f"worker RSS grew {rss1 - rss0} KiB over 2,000 oversized requests"
    assert http_get(srv.port, "/")[0] == 200


# ---------------------------------------------------------------------------
# slowloris + idle keep-alive while normal traffic runs
# ---------------------------------------------------------------------------

SLOW_CONNS = 1000
IDLE_CONNS = 200
# Production-like limits scaled down so the test ends in seconds: a socket
# opened at once is dropped after HEADER_TIMEOUT, so ~1,000 / 5 = 200 new
# slowloris sockets a second keep the attack at strength.
HEADER_TIMEOUT = 5.0
KEEPALIVE = 3.0
ATTACK_SECONDS = 21.0  # five 3-second wrk windows, and every socket judged
WINDOWS = 5
LINGER_S = 2.0  # the server's lingering close after an error response (LINGER_MS)
MAX_REARM = 6 * SLOW_CONNS
# Each second's bytes go out in 20 slices of 50 ms, a twentieth of the
# sockets each, as independent clients would send them; the burst variant
# sends all of them at once, as one synchronized attacker would.
PHASES = 20
# Each wrk connection waits PACE_MS between requests: 50 connections make
# about 7,500 requests a second, a fraction of what even the sanitized build
# serves. Latency is measured below capacity, where it is the server's
# responsiveness: at saturation, wrk, both workers and the attacker share two
# cores, and p99 is whichever of them the scheduler preempted (on this machine
# a saturated baseline window alone swung between 0.9 and 5.6 ms).
PACE_MS = 5
TRICKLE = b"GET /slowloris HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"p" * 64


class _Attack:
    """Slowloris sockets sending one head byte per second, plus idle keep-alive
    sockets that made one request and went quiet. Records when the server
    closed each one. Runs for a bounded time in its own thread.

    The attacker shares this 2-core machine with the server and with wrk, the
    instrument that measures the harm. Its thread runs under SCHED_IDLE, so the
    scheduler gives it the time wrk and the workers leave; the attack itself
    is not softened: every round's lateness is recorded and checked, and each
    byte still reaches the server, whose work for it is what is being judged."""

    def __init__(self, port: int, hold: bool = False, phases: int = PHASES):
        self.port = port
        self.hold = hold  # keep our end open after the server closed its end
        self.phases = phases  # slices per second, a group of sockets each
        self.slow: dict[socket.socket, list] = {}  # sock -> [opened_at, bytes_sent, closed_at]
        self.idle: dict[socket.socket, list] = {}  # sock -> [idle_since, closed_at]
        self.late: list[float] = []  # per slice: seconds behind schedule
        self.groups: list[set[socket.socket]] = [set() for _ in range(phases)]
        self._next_group = 0
        self.stop = threading.Event()

    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10 * SLOW)
        s.setblocking(False)
        return s

    def _trickle(self) -> socket.socket:
        """A new slowloris socket with its first byte sent, in the next group:
        independent attackers do not send in step, so neither does this one."""
        s = self._connect()
        s.send(TRICKLE[:1])
        self.slow[s] = [time.monotonic(), 1, None]
        self.groups[self._next_group].add(s)
        self._next_group = (self._next_group + 1) % self.phases
        return s

    def open(self) -> None:
        for _ in range(SLOW_CONNS):
            self._trickle()
        request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
        for _ in range(IDLE_CONNS):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10 * SLOW)
            s.sendall(request)
            assert read_response(s, timeout=10).status == 200
            s.setblocking(False)
            self.idle[s] = [time.monotonic(), None]

    def _closed(self, s: socket.socket) -> bool:
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    return True
                # a response (408) is allowed before the close
        except BlockingIOError:
            return False
        except (ConnectionResetError, OSError):
            return True

    def run(self, seconds: float) -> None:
        """Until `seconds` pass: note each close the moment epoll reports it,
        open a fresh slowloris socket for every one the server closed (so
        that about SLOW_CONNS stay in flight the whole time, at most
        MAX_REARM in all), and send each one its next head byte once a second,
        one group of sockets per slice (1 / phases of a second)."""
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # this thread only
        owner = {s.fileno(): s for s in list(self.slow) + list(self.idle)}
        ep = select.epoll()
        for fd in owner:
            ep.register(fd, select.EPOLLIN)
        t_end = time.monotonic() + seconds
        next_slice = time.monotonic() + 1.0 / self.phases
        tick = 0
        rearmed = 0

        def closed(s: socket.socket, now: float) -> None:
            ep.unregister(s.fileno())
            del owner[s.fileno()]
            if s in self.idle:
                self.idle[s][1] = now
            else:
                self.slow[s][2] = now
                for g in self.groups:
                    g.discard(s)
            if not self.hold:
                s.close()  # the server's lingering close can finish at once

        def rearm(n: int) -> None:
            nonlocal rearmed
            for _ in range(min(n, MAX_REARM - rearmed)):
                c = self._trickle()
                owner[c.fileno()] = c
                ep.register(c.fileno(), select.EPOLLIN)
                rearmed += 1

        try:
            while time.monotonic() < t_end and not self.stop.is_set():
                events = ep.poll(max(0.0, min(0.05, next_slice - time.monotonic())), 4096)
                now = time.monotonic()  # one timestamp for the batch, before any work
                lost = 0
                for fd, _ in events:
                    s = owner[fd]
                    if self._closed(s):
                        lost += s in self.slow
                        closed(s, now)
                if lost and now < t_end - 1.0:
                    rearm(lost)
                now = time.monotonic()
                if now < next_slice:
                    continue
                self.late.append(now - next_slice)
                next_slice += 1.0 / self.phases
                tick += 1
                for s in list(self.groups[tick % self.phases]):
                    st = self.slow[s]
                    if st[2] is not None or st[1] >= len(TRICKLE):
                        continue
                    try:
                        s.send(TRICKLE[st[1]:st[1] + 1])
                        st[1] += 1
                    except (BrokenPipeError, ConnectionResetError):
                        closed(s, now)
                    except BlockingIOError:
                        pass
        finally:
            ep.close()
            self.rearmed = rearmed
            self.ended = time.monotonic()

    def close(self) -> None:
        for s in list(self.slow) + list(self.idle):
            s.close()


def _slowloris_attempt(srv, hold: bool, phases: int,
                       pace: str) -> tuple[list[str], str | None, str]:
    """One measured attack: returns (problems, latency problem or None, summary)."""
    url = f"http://127.0.0.1:{srv.port}/"

    def window() -> dict:
        return wrk(url, 3, threads=1, script=pace)

    window()  # warm-up
    baseline = [window() for _ in range(WINDOWS)]

    attack = _Attack(srv.port, hold=hold, phases=phases)
    try:
        attack.open()
        runner = threading.Thread(target=attack.run, args=(ATTACK_SECONDS,))
        runner.start()
        # while ~1,000 slowloris sockets are in flight (re-armed as they are closed)
        under = [window() for _ in range(WINDOWS)]
        runner.join(timeout=ATTACK_SECONDS + 30)
        assert not runner.is_alive()
    finally:
        attack.stop.set()
        attack.close()
    # the attack's lingering closes are over (each ends within LINGER_S)
    wait_until(lambda: server_connections(srv.port) == 0, 3 * LINGER_S,
               what="the server closed the attack's connections")
    baseline += [window() for _ in range(WINDOWS)]
    assert all(r["failed"] == 0 for r in baseline), [r["out"] for r in baseline]
    base_p99 = statistics.median(r["p99"] for r in baseline)

    # Every socket old enough must have been closed by the server, in time. A
    # worker at --max-connections leaves new connections in the listen queue
    # (capped); a slot frees within one header timeout, since every accepted
    # slowloris socket is dropped after it: so no socket may live longer than
    # two header timeouts (plus slack for this shared, noisy machine).
    slack = 1.5 * SLOW
    due = 2 * HEADER_TIMEOUT + slack
    slow_due = [st for st in attack.slow.values() if attack.ended - st[0] > due]
    slow_missed = [st for st in slow_due if st[2] is None]
    slow_late = [st for st in slow_due if st[2] is not None and st[2] - st[0] > due]
    capped = sum(st[2] is not None and st[2] - st[0] > HEADER_TIMEOUT + slack
                 for st in attack.slow.values())
    idle_missed = [st for st in attack.idle.values() if st[1] is None]
    idle_late = [st for st in attack.idle.values()
                 if st[1] is not None and st[1] - st[0] > KEEPALIVE + slack]
    closed_total = sum(st[2] is not None for st in attack.slow.values())
    attack_p99 = statistics.median(r["p99"] for r in under)
    base_rate = statistics.median(r["requests"] for r in baseline)
    attack_rate = statistics.median(r["requests"] for r in under)
    summary = (f"slowloris sockets: {len(attack.slow)} opened ({attack.rearmed} re-armed), "
               f"{closed_total} closed by the server, {len(slow_missed)} of {len(slow_due)} due "
               f"still open, {capped} waited for a slot (capped); idle closed: "
               f"{IDLE_CONNS - len(idle_missed)}/{IDLE_CONNS}; {1000 // attack.phases} ms slices {len(attack.late)}, "
               f"median {statistics.median(attack.late) * 1e3:.0f} ms / max "
               f"{max(attack.late) * 1e3:.0f} ms late; p99 baseline "
               f"{[round(r['p99'] * 1e3, 2) for r in baseline]} ms (median {base_p99 * 1e3:.2f}), "
               f"under attack {[round(r['p99'] * 1e3, 2) for r in under]} ms (median "
               f"{attack_p99 * 1e3:.2f}, {attack_p99 / base_p99:.2f}x); requests per window: "
               f"baseline median {base_rate}, under attack {attack_rate}")
    print(summary)
    lifetimes = sorted(st[2] - st[0] for st in attack.slow.values() if st[2] is not None)
    print("slowloris lifetimes (s): min %.2f median %.2f p99 %.2f max %.2f" % (
        lifetimes[0], lifetimes[len(lifetimes) // 2], lifetimes[int(len(lifetimes) * 0.99)],
        lifetimes[-1]))
    problems = []
    if len(slow_due) < SLOW_CONNS:
        problems.append(f"only {len(slow_due)} slowloris sockets were old enough to judge")
    # the attack held: a byte to every live socket every second, give or take
    # a starved moment of the SCHED_IDLE thread
    if (len(attack.late) < (ATTACK_SECONDS - 2) * attack.phases or
            statistics.median(attack.late) > 0.25 * SLOW):
        problems.append("the attacker fell behind its once-a-second schedule")
    if slow_missed:
        problems.append(f"{len(slow_missed)} slowloris sockets never closed by the server")
    if slow_late:
        problems.append(f"{len(slow_late)} slowloris sockets lived over {due:.1f} s")
    if idle_missed:
        problems.append(f"{len(idle_missed)} idle keep-alive sockets never closed")
    if idle_late:
        problems.append(f"{len(idle_late)} idle sockets outlived --keepalive")
    # paced clients: a server that falls behind the pace under attack serves fewer
    if attack_rate < 0.9 * base_rate:
        problems.append(f"requests per window fell from {base_rate} to {attack_rate}")
    if any(r["failed"] for r in under):
        problems.append("requests failed under attack: " + "; ".join(
            r["out"] for r in under if r["failed"]))
    latency = None
    if attack_p99 > 2 * base_p99:
        latency = (f"median p99 under attack {attack_p99 * 1e3:.2f} ms > 2 x "
                   f"{base_p99 * 1e3:.2f} ms")
    return problems, latency, summary


@pytest.mark.parametrize("hold,phases", [(False, PHASES), (True, PHASES), (False, 1)],
                         ids=["attacker-closes", "attacker-holds", "attacker-bursts"])
def test_slowloris_and_idle_keepalive_are_timed_out_without_hurting_traffic(serve, hold, phases,
                                                                           tmp_path):
    """hold=False: the attacker closes each socket the server dropped and opens
    a new one. hold=True: it keeps its end of every dropped socket open, so
    the server's lingering close (shutdown, then drain for up to 2 s) has to
    end on its own timer while the attacker keeps opening new sockets.
    phases=1: every socket gets its byte in one burst each second, so each
    worker meets hundreds of slow events in one wakeup.

    p99 of wrk -c50, each connection pacing its requests PACE_MS apart (the
    server is measured below capacity), is taken in 3-second windows:
    WINDOWS before the attack and WINDOWS after it (the baseline, so drift
    on this shared machine falls on both sides), WINDOWS during it; the
    median under attack must stay within 2x of the baseline median, and the
    paced clients must get at least 90% of their baseline requests through.
    A latency miss alone is measured once more; a server that really slows
    down under the attack misses both times (one that spent 100 us of work
    per trickled byte measured 3.2x here)."""
    raise_nofile(8192)
    srv = serve("fault_app:app", "--workers", "2", "--header-timeout", str(HEADER_TIMEOUT),
                "--keepalive", str(KEEPALIVE), "--max-connections", "1000")
    srv.wait_workers(2)
    pace = tmp_path / "pace.lua"
    pace.write_text(f"function delay()\n  return {PACE_MS}\nend\n")
    for attempt in (1, 2):
        problems, latency, summary = _slowloris_attempt(srv, hold, phases, str(pace))
        assert not problems, "; ".join(problems + [latency or ""]) + "\n" + summary
        if latency is None:
            break
        print(f"attempt {attempt}: {latency}")
    assert latency is None, latency + "\n" + summary
    assert http_get(srv.port, "/")[0] == 200
