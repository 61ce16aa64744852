"""A Starlette app for tests/asgi: path/query/body, streaming, a background task, lifespan, an
exception handler."""

import asyncio
import contextlib

events: list[str] = []  # what background tasks did, read back through /events


# ---- Starlette ----------------------------------------------------------------------------

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route


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


