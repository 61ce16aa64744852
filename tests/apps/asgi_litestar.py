"""A Litestar app for tests/asgi (as asgi_fastapi)."""

import asyncio
import contextlib

events: list[str] = []  # what background tasks did, read back through /events


# ---- Litestar -----------------------------------------------------------------------------

from dataclasses import dataclass

from litestar import Litestar, get, post
from litestar.background_tasks import BackgroundTask as LsBackgroundTask
from litestar.response import Response as LsResponse
from litestar.response import Stream as LsStream


@dataclass
class LsItem:
    name: str
    qty: int


@contextlib.asynccontextmanager
async def ls_lifespan(app):
    app.state.pool = "open"
    print("[litestar] startup", flush=True)
    try:
        yield
    finally:
        print("[litestar] shutdown", flush=True)


@get("/items/{item_id:int}")
async def ls_item(item_id: int, q: str | None = None) -> dict:
    return {"item_id": item_id, "q": q}


@post("/items")
async def ls_post(data: LsItem) -> LsResponse[dict]:
    return LsResponse({"name": data.name, "total": data.qty * 2},
                      background=LsBackgroundTask(events.append, f"litestar background {data.name}"))


@get("/stream")
async def ls_stream() -> LsStream:
    async def gen():
        for i in range(3):
            yield f"row {i}\n"
    return LsStream(gen(), media_type="text/plain")


class LsTeapot(Exception):
    pass


@get("/teapot")
async def ls_teapot() -> None:
    raise LsTeapot()


@get("/events")
async def ls_events() -> list:
    return events


def ls_on_teapot(request, exc) -> LsResponse:
    return LsResponse({"detail": "teapot"}, status_code=418)


litestar_app = Litestar([ls_item, ls_post, ls_stream, ls_teapot, ls_events],
                        lifespan=[ls_lifespan], exception_handlers={LsTeapot: ls_on_teapot})
