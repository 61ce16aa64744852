"""The Litestar app of issue 12's bars: the same routes as bench.apps.fastapi_bench
(async handlers; the POST body is a msgspec Struct with the same constraints, Litestar's
own validation). Served by frostfork --asgi, granian and uvicorn (bench/asgi_bars.py)."""
import os
from typing import Annotated

import msgspec
from litestar import Litestar, get, post


class NewUser(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=3, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
    password: Annotated[str, msgspec.Meta(min_length=12)]
    age: Annotated[int, msgspec.Meta(ge=0, le=150)]


@get("/")
async def index() -> dict:
    return {"message": "Hello, World!"}


@post("/users", status_code=200)
async def create_user(data: NewUser) -> dict:
    return {"name": data.name, "age": data.age}


@get("/pid")
async def pid() -> dict:
    return {"pid": os.getpid()}


app = Litestar([index, create_user, pid], logging_config=None, openapi_config=None)
