"""ASGI apps for tests/asgi: a raw one written from the spec, a Starlette app, a FastAPI app."""

import asyncio
import contextlib
import json
import os

events: list[str] = []
IMPORT_PID = os.getpid()


async def raw(scope, receive, send):
    """Echoes what the scope and the body were; paths choose misbehaviours."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                scope["state"]["opened"] = "resource"
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                print("[raw app] lifespan shutdown", flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http"
    path = scope["path"]
    if path == "/echo":
        chunks, more = [], True
        while more:
            msg = await receive()
            assert msg["type"] == "http.request"
            chunks.append(msg["body"])
            more = msg.get("more_body", False)
        body = json.dumps({
            "method": scope["method"], "path": scope["path"],
            "raw_path": scope["raw_path"].decode(), "query": scope["query_string"].decode(),
            "root_path": scope["root_path"], "http_version": scope["http_version"],
            "scheme": scope["scheme"], "client": list(scope["client"]),
            "server": list(scope["server"]), "headers": [[k.decode(), v.decode()]
                                                        for k, v in scope["headers"]],
            "types": sorted({type(k).__name__ for k, _ in scope["headers"]}),
            "state": scope["state"].get("opened"), "asgi": scope["asgi"]["version"],
            "body_len": sum(map(len, chunks)), "chunks": len(chunks), "pid": os.getpid(),
        }).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await asyncio.sleep(0.001)
            await send({"type": "http.response.body", "body": b"part%d\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/big":
        n = int(scope["query_string"] or b"1000")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        block = b"x" * 65536
        for _ in range(n):
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/inline":
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"x-inline", b"yes")]})
        await send({"type": "http.response.body", "body": b"made"})
    elif path == "/twice":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})
    elif path == "/body-first":
        await send({"type": "http.response.body", "body": b"x"})
    elif path == "/bad-header":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-evil", b"a\r\nset-cookie: 1")]})
    elif path == "/wrong-type":
        await send({"type": "http.response.start", "status": "200", "headers": []})
    elif path == "/nothing":
        return
    elif path == "/raise":
        await asyncio.sleep(0)
        raise RuntimeError("raw app boom")
    elif path == "/raise-mid-stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("mid-stream boom")
    elif path == "/wait-disconnect":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"waiting\n", "more_body": True})
        msg = await receive()
        while msg["type"] == "http.request":
            msg = await receive()
        events.append(msg["type"])
        print(f"[raw app] got {msg['type']}", flush=True)
        try:
            await send({"type": "http.response.body", "body": b"late"})
        except OSError as e:
            print(f"[raw app] send after disconnect raised {type(e).__name__}", flush=True)
    elif path == "/sleep":
        await asyncio.sleep(float(scope["query_string"] or b"3600"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"slept"})
    elif path == "/import-pid":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body",
                    "body": json.dumps({"import_pid": IMPORT_PID}).encode()})
    elif path == "/events":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(events).encode()})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


# ---- Starlette ----------------------------------------------------------------------------

from starlette.applications import Starlette  # noqa: E402
from starlette.background import BackgroundTask  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402


@contextlib.asynccontextmanager
async def star_lifespan(app):
    print("[starlette] startup: resource opened", flush=True)
    yield {"resource": "open"}
    print("[starlette] shutdown: resource closed", flush=True)


async def s_item(request: Request):
    return JSONResponse({"id": int(request.path_params["id"]), "q": request.query_params.get("q"),
                         "resource": request.state.resource})


async def s_post(request: Request):
    data = await request.json()
    task = BackgroundTask(events.append, f"background {data['name']}")
    return JSONResponse({"got": data}, status_code=201, background=task)


async def s_stream(request: Request):
    async def gen():
        for i in range(3):
            yield f"chunk {i}\n"
            await asyncio.sleep(0.001)
    return StreamingResponse(gen(), media_type="text/plain")


async def s_fail(request: Request):
    raise KeyError("missing")


async def s_events(request: Request):
    return JSONResponse(events)


async def on_key_error(request, exc):
    return PlainTextResponse(f"handled {exc!r}", status_code=418)


starlette_app = Starlette(routes=[
    Route("/items/{id:int}", s_item), Route("/items", s_post, methods=["POST"]),
    Route("/stream", s_stream), Route("/fail", s_fail), Route("/events", s_events),
], lifespan=star_lifespan, exception_handlers={KeyError: on_key_error})


# ---- FastAPI ------------------------------------------------------------------------------

from fastapi import BackgroundTasks, FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402


class Item(BaseModel):
    name: str
    qty: int


@contextlib.asynccontextmanager
async def fa_lifespan(app):
    app.state.db = "connected"
    print("[fastapi] startup", flush=True)
    yield
    print("[fastapi] shutdown", flush=True)


fastapi_app = FastAPI(lifespan=fa_lifespan)


@fastapi_app.get("/items/{item_id}")
async def fa_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q, "db": fastapi_app.state.db}


@fastapi_app.post("/items")
async def fa_post(item: Item, background: BackgroundTasks):
    background.add_task(events.append, f"fastapi background {item.name}")
    return {"name": item.name, "total": item.qty * 2}


@fastapi_app.get("/stream")
async def fa_stream():
    async def gen():
        for i in range(3):
            yield f"line {i}\n"
    return StreamingResponse(gen(), media_type="text/plain")


class Teapot(Exception):
    pass


@fastapi_app.exception_handler(Teapot)
async def on_teapot(request, exc):
    return JSONResponse({"detail": "teapot"}, status_code=418)


@fastapi_app.get("/teapot")
async def fa_teapot():
    raise Teapot()


@fastapi_app.get("/events")
async def fa_events():
    return events


@fastapi_app.get("/sync")
def fa_sync():
    return {"sync": True}
