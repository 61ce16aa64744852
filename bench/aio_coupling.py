"""The two ways to couple the worker's C epoll loop with an asyncio loop (issue 12), measured
as the cost of one wakeup, side by side in one run, alternating rounds.

  python bench/aio_coupling.py [--rounds 5] [--seconds 1]

B "the loop drives C": loop.add_reader(worker_epoll_fd, turn) — the loop's own poll reports
   the worker's epoll fd readable and calls one C turn (what server/aio.c does).
A "C drives the loop": the worker's epoll set holds the loop's selector fd; each C turn then
   runs one loop iteration, the public way: loop.stop(); loop.run_forever() (asyncio's
   selector fd is private, loop._selector; uvloop exposes no fd for its backend, so A cannot
   even wait on uvloop's own timers and I/O).
Each wakeup here: a byte written to an eventfd in the worker's epoll set, the wakeup, the
turn reading it (os.eventfd_read) and writing the next one. The turn itself is the same
in every row, so the differences are the coupling's own cost.
"""
import argparse
import asyncio
import os
import select
import statistics
import sys
import time


def make_loop(kind):
    if kind == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def coupling_b(kind, seconds):
    loop = make_loop(kind)
    ep = select.epoll()
    efd = os.eventfd(0, os.EFD_NONBLOCK)
    ep.register(efd, select.EPOLLIN)
    n = 0
    deadline = time.perf_counter() + seconds

    def turn():
        nonlocal n
        for fd, _ in ep.poll(0):
            os.eventfd_read(fd)
        n += 1
        if time.perf_counter() >= deadline:
            loop.stop()
        else:
            os.eventfd_write(efd, 1)

    loop.add_reader(ep.fileno(), turn)
    os.eventfd_write(efd, 1)
    t0 = time.perf_counter()
    loop.run_forever()
    dt = time.perf_counter() - t0
    loop.remove_reader(ep.fileno())
    loop.close()
    ep.close()
    os.close(efd)
    return n / dt


def coupling_a(kind, seconds):
    loop = make_loop(kind)
    ep = select.epoll()
    efd = os.eventfd(0, os.EFD_NONBLOCK)
    ep.register(efd, select.EPOLLIN)
    if kind == "asyncio":
        ep.register(loop._selector.fileno(), select.EPOLLIN)  # the loop's own epoll fd
    asyncio.set_event_loop(loop)
    n = 0
    os.eventfd_write(efd, 1)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        for fd, _ in ep.poll(1):
            if fd == efd:
                os.eventfd_read(efd)
                os.eventfd_write(efd, 1)
        n += 1
        loop.stop()
        loop.run_forever()
    dt = time.perf_counter() - t0
    loop.close()
    ep.close()
    os.close(efd)
    return n / dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()
    rows = [("B add_reader, uvloop", lambda: coupling_b("uvloop", a.seconds)),
            ("B add_reader, asyncio", lambda: coupling_b("asyncio", a.seconds)),
            ("A stop()+run_forever(), uvloop", lambda: coupling_a("uvloop", a.seconds)),
            ("A stop()+run_forever(), asyncio", lambda: coupling_a("asyncio", a.seconds))]
    got = {name: [] for name, _ in rows}
    for _ in range(a.rounds):
        for name, fn in rows:
            got[name].append(fn())
    base = statistics.median(got[rows[0][0]])
    print(f"`python bench/aio_coupling.py --rounds {a.rounds} --seconds {a.seconds}`, CPython "
          f"{sys.version.split()[0]}; wakeups per second (median of rounds) and the cost of "
          "one wakeup. Shared 2-core machine: noisy.\n")
    print("| coupling | wakeups/s | µs per wakeup | vs B+uvloop |")
    print("|---|---|---|---|")
    for name, _ in rows:
        m = statistics.median(got[name])
        print(f"| {name} | {m:,.0f} | {1e6 / m:.2f} | {m / base:.2f} |")


if __name__ == "__main__":
    main()
