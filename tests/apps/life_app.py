"""Cleanup and logging under test: spooled uploads, raising handlers, sinks, secrets."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import weakref
from dataclasses import dataclass
from typing import Annotated

import frostfork
from frostfork import MinLen, Request, Sensitive, TempFile


class PlainSink:
    """A DataSink that imports nothing from frostfork (structural typing)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, data: bytes) -> int:
        mode = os.environ.get("FF_SINK_MODE", "ok")
        if mode == "raise":  # each call leaves a line in PATH.calls first
            with open(self.path + ".calls", "a") as f:
                f.write("call\n")
            raise OSError("sink is broken on purpose")
        if mode == "block":
            import time
            time.sleep(3600)  # the behaviour under test: a sink that never returns
        with open(self.path, "ab") as f:
            return f.write(data)


access = os.environ.get("FF_ACCESS")
audit = os.environ.get("FF_AUDIT")
app = frostfork.App(
    access_log=(PlainSink(access) if os.environ.get("FF_PLAIN_SINK") else
                frostfork.sinks.file(access)) if access else None,
    access_format=os.environ.get("FF_ACCESS_FORMAT", "json"),
    audit=frostfork.sinks.sqlite(audit) if audit else None,
    mask=("x-internal",),
)

_requests: list = []  # weak references to every Request seen


@dataclass
class Login:
    user: Annotated[str, MinLen(3)]
    password: Annotated[str, MinLen(12), Sensitive()]


@app.post("/upload")
def upload(request: Request) -> dict:
    _requests.append(weakref.ref(request))
    return {"size": len(request.body), "spooled": bool(os.listdir(frostfork.life.spool_dir()))}


@app.post("/upload-digest")
def upload_digest(request: Request) -> dict:
    # a pipelined request may see the spool file of the one before it (removed
    # by that request's cleanup once the batch's responses are written), so
    # whether this body was spooled is told by the reader stream() gives
    # (asked before request.body, after which stream() reads those bytes)
    spooled = not isinstance(request.stream(), io.BytesIO)
    return {"size": len(request.body), "sha256": hashlib.sha256(request.body).hexdigest(),
            "spooled": spooled}


@app.post("/upload-fail")
def upload_fail(request: Request) -> dict:
    _requests.append(weakref.ref(request))
    raise RuntimeError("upload handler fails on purpose")


@app.get("/ok")
def ok(request: Request) -> dict:
    _requests.append(weakref.ref(request))
    return {"ok": True}


@app.get("/tempfile")
def tempfile_route(request: Request) -> dict:
    t = TempFile(suffix=".tmp")
    t.write(b"scratch")
    done = os.environ.get("FF_DEFER_LOG")
    if done:
        request.defer(lambda p: open(done, "a").write(p + "\n"), t.path)
    return {"path": t.path, "active": t.is_active}


@app.get("/state")
def state() -> dict:
    gc.collect()
    spool = frostfork.life.spool_dir()
    return {"alive_requests": sum(1 for r in _requests if r() is not None),
            "seen": len(_requests), "spool_files": len(os.listdir(spool)) if spool else -1,
            "fds": len(os.listdir("/proc/self/fd")), "pid": os.getpid(), "spool": spool}


@app.post("/login")
def login(body: Login) -> dict:
    frostfork.audit("login", user=body.user, password=body.password, login=body)
    if body.user == "crash":
        raise ValueError(f"cannot log in {body.user} with {body.password}")
    return {"user": body.user}


@app.get("/slow")
def slow() -> dict:
    import time
    time.sleep(0.02)  # a handler that must be slow: its worker is busy meanwhile
    return {"pid": os.getpid()}
