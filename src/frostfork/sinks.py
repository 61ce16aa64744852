"""DataSinks: where access logs and audit records go.

A DataSink is anything with `write(data: bytes) -> int` (and, optionally,
`flush()` and `close()`) — a Protocol, so an object from any library plugs in
without importing frostfork. The server checks the shape once, at startup,
and names what is missing.

    app = frostfork.App(access_log=frostfork.sinks.file("access.log"),
                        audit=frostfork.sinks.sqlite("audit.db"))

The built-in sinks are C objects the workers write to without calling Python:
stdout(), stderr(), file(path) (append-only; reopened on SIGUSR1 for
logrotate) and sqlite(path, table="audit") (one row per record, batched in
transactions). Any other sink gets its batches on a writer thread through a
bounded queue: if it raises or blocks, lines are dropped and that is reported
once on stderr — requests keep being served.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from frostfork import _core
from frostfork._core import FileSink, SQLiteSink

__all__ = ["DataSink", "FileSink", "SQLiteSink", "check", "file", "sqlite", "stderr", "stdout"]


@runtime_checkable
class DataSink(Protocol):
    """Any object with a write method that takes bytes is a DataSink."""

    def write(self, data: bytes) -> int: ...


def check(sink: object, role: str = "sink") -> DataSink:
    """The structural check the server runs at registration (in C)."""
    checked: DataSink = _core.check_sink(sink, role)
    return checked


def stdout() -> FileSink:
    return FileSink(fd=1)


def stderr() -> FileSink:
    return FileSink(fd=2)


def file(path: str) -> FileSink:
    """Append-only lines to `path`; reopened when the workers get SIGUSR1."""
    return FileSink(path)


def sqlite(path: str, table: str = "audit") -> SQLiteSink:
    """Records as rows (id, at, record) of `table` in the SQLite file at `path`."""
    return SQLiteSink(path, table)


_writers: list[threading.Thread] = []

# Batches a Python sink's writer thread may fall behind by; past it the worker
# drops batches and says so once (docs/configuration.md, "Limits").
QUEUE_BATCHES = 256


def _writer(sink: DataSink, role: str) -> Callable[[bytes], None]:
    """Start the writer thread of a Python sink in this worker; return its queue's put."""
    q: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_BATCHES)
    reported = False

    def run() -> None:
        nonlocal reported
        while True:
            data = q.get()
            if data is None:
                break
            try:
                sink.write(data)
            except Exception as e:  # a broken sink must not take the worker down
                if not reported:
                    reported = True
                    print(f"[frostfork] {role} sink {type(sink).__name__}.write raised "
                          f"{type(e).__name__}: {e}; dropping its lines", file=sys.stderr,
                          flush=True)
        flush = getattr(sink, "flush", None)
        if callable(flush):
            try:
                flush()
            except Exception:
                pass

    t = threading.Thread(target=run, name=f"frostfork-{role}-writer", daemon=True)
    t.start()
    _writers.append(t)
    return q.put_nowait


def _join_writers(timeout: float) -> None:
    for t in _writers:
        t.join(timeout)
