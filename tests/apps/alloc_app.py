"""The app tests/hardening/test_alloc_faults.py serves while failing its
allocations one at a time: one route per response writer (typed body with a
200 or a 422, query and path parameters, a handler that raises) and a WSGI
callable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import frostfork
from frostfork import Ge, MinLen

app = frostfork.App()


@dataclass
class Item:
    name: Annotated[str, MinLen(1)]
    qty: Annotated[int, Ge(0)]


@app.post("/items")
def create(item: Item) -> dict:
    return {"name": item.name, "qty": item.qty, "tags": ["a", "b"]}


@app.get("/hello/{name}")
def hello(name: str, n: int = 1) -> dict:
    return {"hello": name, "n": n}


@app.get("/boom")
def boom() -> dict:
    raise RuntimeError("boom")


def wsgi(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    body = environ["wsgi.input"].read()
    out = b"wsgi " + environ["PATH_INFO"].encode() + b" " + body
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", "alloc")])
    return [out]
