"""Bodies out: StreamingResponse (generators, SSE, Content-Length), FileResponse
and a static folder (tests/server/test_files.py, tests/server/test_streaming.py).
The static folder and the files live in $FILES_ROOT, made by the test."""

from __future__ import annotations

import os
import time

import frostfork
from frostfork import FileResponse, StreamingResponse

app = frostfork.App()
ROOT = os.environ.get("FILES_ROOT", "/nonexistent")
STATE = os.path.join(ROOT, "state")  # what generators report, read by the test

if os.path.isdir(os.path.join(ROOT, "public")):
    app.static("/static", os.path.join(ROOT, "public"))


def _note(text: str) -> None:
    with open(STATE, "a") as f:
        f.write(text + "\n")


@app.get("/download")
def download(name: str = "data.bin", as_name: str = "") -> FileResponse:
    return FileResponse(os.path.join(ROOT, name), filename=as_name or None)


@app.get("/inline")
def inline() -> FileResponse:
    return FileResponse(os.path.join(ROOT, "data.bin"), media_type="application/x-test",
                        headers={"X-Extra": "1"}, content_disposition_type="inline",
                        filename="r\u00e9sum\u00e9.pdf")


@app.get("/csv")
def csv(rows: int = 3) -> StreamingResponse:
    def gen():
        yield "id,name\n"
        for i in range(rows):
            yield f"{i},row{i}\n"
    return StreamingResponse(gen(), media_type="text/csv")


@app.get("/sized")
def sized() -> StreamingResponse:
    return StreamingResponse(iter([b"abc", b"", b"defg"]), content_length=7,
                             headers={"X-Kind": "sized"})


@app.get("/short")
def short() -> StreamingResponse:
    return StreamingResponse(iter([b"abc"]), content_length=10)


@app.get("/fails")
def fails() -> StreamingResponse:
    def gen():
        yield b"first"
        raise RuntimeError("generator broke")
    return StreamingResponse(gen())


@app.get("/sse")
def sse(n: int = 3, delay: float = 0.0) -> StreamingResponse:
    def events():
        for i in range(n):
            yield f"id: {i}\ndata: tick {i}\n\n"
            time.sleep(delay)
    return StreamingResponse(events(), media_type="text/event-stream")


@app.get("/big")
def big(mib: int = 64, tag: str = "big") -> StreamingResponse:
    """mib MiB in 64 KiB items; notes how many were produced and whether the
    generator's finally ran."""
    block = b"x" * 65536

    def gen():
        produced = 0
        try:
            for _ in range(mib * 16):
                produced += 1
                if produced % 16 == 0:
                    _note(f"{tag} produced {produced}")
                yield block
        finally:
            _note(f"{tag} finally after {produced}")
    return StreamingResponse(gen(), media_type="application/octet-stream")


@app.get("/rss")
def rss() -> dict:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return {"hwm_kib": int(line.split()[1])}
    return {}


@app.get("/agen")
def agen(n: int = 3) -> StreamingResponse:
    """An async generator from a sync handler, in a worker that runs no event loop:
    each item is awaited on a private loop (frostfork.aio.blocking_iter)."""
    import asyncio

    async def gen():
        try:
            for i in range(n):
                await asyncio.sleep(0)
                yield f"a{i},"
        finally:
            _note("agen finally")
    return StreamingResponse(gen(), media_type="text/csv")
