"""A small typed app for tests/hardening/test_soak.py.

POST /orders    a dataclass body, validated in C (200, or 400 / 422)
POST /upload    any body; large ones are spooled to --spool-dir by the server
GET  /boom      the handler raises (500, worker lives on)
GET  /state     this worker's pid and the files in its spool directory
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Annotated, Optional

import frostfork
from frostfork import Ge, Le, MaxLen, MinLen, Request

app = frostfork.App()


@dataclass
class Line:
    sku: Annotated[str, MinLen(1), MaxLen(32)]
    qty: Annotated[int, Ge(1), Le(1000)]


@dataclass
class Order:
    customer: Annotated[str, MinLen(3), MaxLen(64)]
    lines: Annotated[list[Line], MinLen(1), MaxLen(50)]
    note: Optional[str] = None
    tags: list[str] = field(default_factory=list)


@app.post("/orders")
def create_order(order: Order) -> dict:
    return {"customer": order.customer, "items": sum(l.qty for l in order.lines),
            "tags": len(order.tags)}


@app.post("/upload")
def upload(request: Request) -> dict:
    spool = frostfork.life.spool_dir()
    return {"size": len(request.body),
            "spooled": os.path.isdir(spool) and bool(os.listdir(spool))}


@app.get("/boom")
def boom() -> dict:
    raise RuntimeError("soak: this handler fails on purpose")


@app.get("/state")
def state() -> dict:
    spool = frostfork.life.spool_dir()
    files = sorted(os.listdir(spool)) if os.path.isdir(spool) else []
    return {"pid": os.getpid(), "spool": spool, "spool_files": len(files)}
