"""Robust cleanup: finalizers and request-scoped temp files.

    f = frostfork.finalize(obj, fn, *args)   # weakref.finalize semantics, kept in C
    f.alive; f(); f.detach()

A finalizer runs fn exactly once: when called, when obj is collected, at the
end of the request it was created in (also after an exception), or at worker
exit — whichever comes first — and never keeps obj alive.

TempFile is the SEED article's TempFileManager on top of it: a file in the
worker's spool directory, removed by remove(), when the object is collected,
when the request ends, or — if the worker is killed — by the master.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO

from frostfork._core import Finalizer, finalize, spool_dir

__all__ = ["Finalizer", "TempFile", "finalize", "spool_dir"]


def _remove(file: IO[bytes], path: str) -> None:
    file.close()
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class TempFile:
    """A temporary file whose removal is guaranteed (see the module docstring)."""

    def __init__(self, suffix: str = "", *, dir: str | None = None) -> None:
        fd, self.path = tempfile.mkstemp(suffix=suffix, prefix="tmp-",
                                         dir=dir or spool_dir() or None)
        self.file: IO[bytes] = os.fdopen(fd, "w+b")
        self._finalizer = finalize(self, _remove, self.file, self.path)

    def write(self, data: bytes) -> int:
        return self.file.write(data)

    def remove(self) -> None:
        """Remove the file now (idempotent)."""
        self._finalizer()

    @property
    def is_active(self) -> bool:
        return self._finalizer.alive

    def __enter__(self) -> TempFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
