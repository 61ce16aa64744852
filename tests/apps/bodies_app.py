"""Large request bodies off the heap: request.stream(), wsgi.input over the
spool file, typed bodies decoded from the mapped spool file
(tests/life/test_large_bodies.py)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from wsgiref.validate import validator

import frostfork
from frostfork import Request

app = frostfork.App()

BLOCK = 1 << 20
_kept: list = []  # readers kept past their request, for the stale-reader test


def _spool_files() -> int:
    spool = frostfork.life.spool_dir()
    return len(os.listdir(spool)) if spool else -1


def _mapped_bodies() -> list[str]:
    """The spool files this process has mapped right now."""
    with open("/proc/self/maps") as f:
        return [line.split()[-1] for line in f if "/body-" in line]


@app.post("/digest")
def digest(request: Request) -> dict:
    """sha256 of the body, read from request.stream() in 1 MiB blocks."""
    h = hashlib.sha256()
    stream = request.stream()
    n = 0
    while block := stream.read(BLOCK):
        h.update(block)
        n += len(block)
    return {"size": n, "sha256": h.hexdigest(), "spooled": _spool_files() > 0,
            "reader": type(stream).__name__}


@app.post("/file-ops")
def file_ops(request: Request) -> dict:
    """The file-like surface of request.stream() over any body."""
    s = request.stream()
    first = s.readline()
    rest = list(s)  # iteration yields the remaining lines
    end = s.read(10)
    s.seek(0)
    head = s.read(5)
    buf = bytearray(7)
    got = s.readinto(buf)
    pos = s.tell()
    s.seek(-3, 2)
    tail = s.read()
    return {"first": first.decode(), "lines": len(rest), "last": rest[-1].decode() if rest else "",
            "end": end.decode(), "head": head.decode(), "into": buf[:got].decode(), "got": got,
            "pos": pos, "tail": tail.decode(), "readable": s.readable(), "seekable": s.seekable(),
            "same_as_body": hashlib.sha256(request.stream().read()).hexdigest()
            == hashlib.sha256(request.body).hexdigest()}


@app.post("/keep")
def keep(request: Request) -> dict:
    """Keeps a partly read reader and the request (body unread) past the request."""
    s = request.stream()
    first = s.read(4)
    _kept[:] = [s, request]
    return {"first": first.decode(), "spooled": _spool_files() > 0}


@app.get("/stale")
def stale() -> dict:
    """What the kept reader and request do now that their request has ended."""
    s, request = _kept
    out = {"spool_files": _spool_files()}
    for name, op in (("read", lambda: s.read(4)), ("seek", lambda: s.seek(0)),
                     ("body", lambda: request.body), ("stream", lambda: request.stream())):
        try:
            op()
            out[name] = "ok"
        except ValueError as e:
            out[name] = f"ValueError: {e}"
    _kept.clear()
    return out


@app.post("/defer-digest")
def defer_digest(request: Request) -> dict:
    """Hashes the body after the response is written, from request.defer()."""
    out = os.environ["FF_DEFER_OUT"]

    def later(stream) -> None:
        h = hashlib.sha256()
        while block := stream.read(BLOCK):
            h.update(block)
        with open(out, "w") as f:
            f.write(f"{h.hexdigest()} {_spool_files()}")

    request.defer(later, request.stream())
    return {"deferred": True}


@dataclass
class Sample:
    name: str
    values: list[int]


@app.post("/model")
def model(body: Sample) -> dict:
    """A typed body: reports whether it was decoded while the spool file was mapped."""
    return {"name": body.name, "count": len(body.values), "sum": sum(body.values),
            "mapped": len(_mapped_bodies())}


@app.post("/model-fail")
def model_fail(body: Sample) -> dict:
    raise RuntimeError(f"fails on purpose with {len(_mapped_bodies())} body mapped")


@app.get("/mapped")
def mapped() -> dict:
    return {"mapped": _mapped_bodies(), "spool_files": _spool_files()}


def _wsgi_digest(environ, start_response):
    """sha256 of wsgi.input read in 1 MiB blocks (read(n), as PEP 3333 allows)."""
    stream = environ["wsgi.input"]
    inner = getattr(stream, "input", stream)  # under wsgiref's validator's wrapper
    h = hashlib.sha256()
    left = int(environ.get("CONTENT_LENGTH") or 0)
    while left > 0:
        block = stream.read(min(BLOCK, left))
        if not block:
            break
        h.update(block)
        left -= len(block)
    body = (f'{{"sha256": "{h.hexdigest()}", "left": {left}, '
            f'"reader": "{type(inner).__name__}", "spooled": {str(_spool_files() > 0).lower()}}}'
            ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


wsgi_digest = validator(_wsgi_digest)
