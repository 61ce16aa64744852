"""async def handlers: inline, suspending, slow, failing, with every binding source."""

import asyncio
import contextvars
import os
from dataclasses import dataclass
from typing import Annotated

import frostfork as ff
from frostfork import Header

app = ff.App()
events: list[str] = []  # per worker: what cleanup ran, read back through /events
var = contextvars.ContextVar("var", default="unset")


@dataclass
class Item:
    name: str
    qty: int


class Resource:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        events.append("resource closed")


app.provide(Resource, Resource, scope="request")


@app.get("/")
async def hello() -> dict:
    return {"message": "Hello, World!"}


@app.get("/sleep")
async def sleep(ms: int = 10) -> dict:
    events.append(f"sleep {ms} started")  # tests poll /events for it instead of waiting
    await asyncio.sleep(ms / 1000)
    return {"slept": ms, "pid": os.getpid()}


@app.get("/yield0")
async def yield0() -> str:
    await asyncio.sleep(0)
    return "after a bare yield"


@app.post("/items/{group}")
async def items(group: str, item: Item, tag: str = "-",
                x_trace: Annotated[str, Header("X-Trace")] = "none",
                request: ff.Request = None) -> dict:
    await asyncio.sleep(0.001)
    return {"group": group, "name": item.name, "qty": item.qty, "tag": tag,
            "trace": x_trace, "path": request.path if request else None}


@app.get("/fail")
async def fail() -> dict:
    await asyncio.sleep(0.001)
    raise RuntimeError("async boom")


@app.get("/fail-inline")
async def fail_inline() -> dict:
    raise RuntimeError("inline boom")


@app.get("/forever")
async def forever(request: ff.Request, res: Resource) -> dict:
    request.defer(events.append, "forever deferred")
    events.append("forever started")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        events.append("forever cancelled")
        raise
    return {}


@app.get("/cleanup")
async def cleanup(request: ff.Request, res: Resource) -> dict:
    request.defer(events.append, "deferred before await")
    await asyncio.sleep(0.01)
    request.defer(events.append, "deferred after await")
    return {"ok": True}


@app.get("/ctx")
async def ctx(v: str) -> dict:
    before = var.get()
    var.set(v)
    await asyncio.sleep(0.005)
    return {"before": before, "after": var.get()}


@app.get("/events")
def get_events() -> list:
    return events


@app.get("/sync")
def sync() -> dict:
    return {"sync": True}


@app.get("/response")
async def response() -> ff.Response:
    await asyncio.sleep(0.001)
    return ff.Response(201, b"made", {"X-Made": "yes"})


# ---- async dependency factories --------------------------------------------------------

class Conn:
    """What an async-generator dependency opens and closes."""

    def __init__(self, who: str) -> None:
        self.who = who


class Settings:
    pass


class Session:
    def __init__(self, conn: Conn, user: str) -> None:
        self.conn, self.user = conn, user


async def open_conn(request: ff.Request, x_db: Annotated[str, Header("X-Db")] = "main"):
    await asyncio.sleep(0.001)
    events.append(f"conn opened {x_db} for {request.path}")
    try:
        yield Conn(x_db)
    finally:
        await asyncio.sleep(0.001)
        events.append(f"conn closed {x_db}")


async def make_settings() -> Settings:
    await asyncio.sleep(0.001)
    events.append("settings made")
    return Settings()


async def make_session(conn: Conn, user: Annotated[str, ff.Query()] = "anon") -> Session:
    return Session(conn, user)


app.provide(Conn, open_conn)
app.provide(Settings, make_settings, scope="app")
app.provide(Session, make_session)


@app.get("/dep/{item_id}")
async def with_deps(item_id: int, session: Session, conn: Conn, settings: Settings) -> dict:
    events.append(f"handler {item_id}")
    return {"item": item_id, "db": conn.who, "user": session.user,
            "same_conn": session.conn is conn, "settings": type(settings).__name__}


state = {"now": 0, "peak": 0}


@app.get("/loop")
async def loop_kind() -> dict:
    return {"loop": type(asyncio.get_running_loop()).__module__}


@app.get("/inflight")
async def inflight(ms: int = 200) -> dict:
    state["now"] += 1
    state["peak"] = max(state["peak"], state["now"])
    try:
        await asyncio.sleep(ms / 1000)
    finally:
        state["now"] -= 1
    return {"peak": state["peak"]}


@app.get("/task")
async def has_task() -> dict:
    return {"task": asyncio.current_task() is not None}


# ---- bodies an async handler returns after it suspended (issue 16) ----

@app.get("/astream")
async def astream(n: int = 3, ms: int = 20, tag: str = "s") -> ff.StreamingResponse:
    await asyncio.sleep(0.001)  # suspended first: the task's end writes the head

    async def gen():
        try:
            for i in range(n):
                await asyncio.sleep(ms / 1000)
                events.append(f"{tag} item {i}")
                yield f"item {i}\n"
        finally:
            events.append(f"{tag} finally")
    return ff.StreamingResponse(gen(), media_type="text/plain")


@app.get("/astream-sized")
async def astream_sized() -> ff.StreamingResponse:
    async def gen():
        yield b"abc"
        await asyncio.sleep(0.001)
        yield b"defgh"
    return ff.StreamingResponse(gen(), content_length=8)


@app.get("/afile")
async def afile() -> ff.FileResponse:
    await asyncio.sleep(0.001)
    return ff.FileResponse(__file__)


# ---- errors raised by async handlers go through the exception handlers ----

class Teapot(Exception):
    pass


@app.exception_handler(Teapot)
def teapot(request: ff.Request, exc: Teapot) -> ff.Response:
    return ff.Response(418, f"teapot at {request.path}".encode())


@app.get("/http-error")
async def http_error(suspend: bool = False) -> dict:
    if suspend:
        await asyncio.sleep(0.001)
    raise ff.HTTPError(404, "no such thing")


@app.get("/teapot")
async def raise_teapot(suspend: bool = False) -> dict:
    if suspend:
        await asyncio.sleep(0.001)
    raise Teapot()
