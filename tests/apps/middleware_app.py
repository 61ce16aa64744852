"""Python middleware around native routes (tests/framework/test_middleware.py)."""

from __future__ import annotations

from dataclasses import dataclass

import frostfork
from frostfork import HTTPError, Request, Response

app = frostfork.App(title="middleware")


@app.middleware
def outer(request: Request, call_next) -> Response:
    if request.path == "/short":
        return Response(200, {"short": "circuit"})
    if request.path == "/mw-raises":
        raise RuntimeError("middleware failed")
    request.state.order = ["outer"]
    response = call_next(request)
    response.headers["X-Outer"] = "1"
    response.headers["X-Order"] = ",".join(request.state.order)
    return response


@app.middleware("http")
def inner(request: Request, call_next) -> Response:
    request.state.order.append("inner")
    if request.path == "/twice":
        call_next(request)
        return call_next(request)
    response = call_next(request)
    response.headers["X-Inner-Status"] = str(response.status)
    return response


@dataclass
class Thing:
    name: str


@app.post("/things", status_code=201)
def create(thing: Thing, request: Request) -> dict:
    request.state.order.append("handler")
    return {"name": thing.name}


@app.get("/fail")
def fail() -> dict:
    raise ValueError("handler failed")


@app.get("/http-error")
def http_error() -> dict:
    raise HTTPError(404, "nope")


@app.get("/twice")
def twice() -> dict:
    return {}


@app.get("/short")
def short() -> dict:
    return {"never": True}


@app.get("/mw-raises")
def mw_raises() -> dict:
    return {"never": True}


kept = []


@app.get("/keep")
def keep() -> dict:
    return {}
