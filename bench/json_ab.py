"""A smaller driver beside bench/json_codec.py, for before/after checks of one change.

    python bench/json_ab.py "ROW / LIBRARY" ... [--rounds 40] [--calls 10]

Runs only the named functions of bench/json_codec.py's rows (the same lambdas, the same
input), each round calling each one `--calls` times in a batch timed in thread CPU time
with gc off, and prints each one's best batch per call and its ratio to the last name
given. Two builds are compared by running it in alternating processes, one of them with
the other build first on PYTHONPATH (pip install --target DIR, then PYTHONPATH=DIR); the
figures of the third round in bench/json_codec_notes.md were taken that way. It is
steadier than json_codec.py's full run on a shared machine (fewer functions, shorter
batches) but it is not the benchmark the issue's bars name.
"""

import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import json_codec  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+", help='"row title / library label", as json_codec.py prints them')
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--calls", type=int, default=10)
    a = p.parse_args()
    rows, _ = json_codec.build_rows()
    fns = {f"{title} / {label}": fn for title, r in rows for label, fn, _ in r}
    missing = [n for n in a.names if n not in fns]
    if missing:
        sys.exit(f"no such function: {missing}; known: {sorted(fns)}")
    best = {n: float("inf") for n in a.names}
    for _ in range(a.rounds):
        for n in a.names:
            fn = fns[n]
            gc.collect()
            gc.disable()
            t0 = time.thread_time()
            for _ in range(a.calls):
                fn()
            dt = (time.thread_time() - t0) / a.calls
            gc.enable()
            best[n] = min(best[n], dt)
    base = best[a.names[-1]]
    for n in a.names:
        print(f"{n}: {json_codec.per_call(best[n])} ({best[n] / base:.3f})")


if __name__ == "__main__":
    main()
