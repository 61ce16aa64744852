"""A FastAPI app for tests/asgi (as asgi_starlette, with a pydantic body)."""

import asyncio
import contextlib

events: list[str] = []  # what background tasks did, read back through /events


from starlette.responses import JSONResponse, StreamingResponse

# ---- FastAPI ------------------------------------------------------------------------------

from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel


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


