"""A startup heap for the --freeze immortal tests (tests/life/test_immortal.py).

TABLE is a lookup table built at import; /read walks it, /refs reports reference
counts (an immortal object's is at least 2**30 and never moves), /append mutates a
frozen list. Objects that must stay mortal: an instance of a class with __del__,
a compiled regex (an extension type), and anything made per request.
"""
from __future__ import annotations

import os
import re
import sys

import frostfork

ROWS = int(os.environ.get("FF_TEST_ROWS", "200000"))
TABLE = [{"id": i, "name": f"row-{i}", "tags": [i % 7, "t"]} for i in range(ROWS)]


class Plain:
    def __init__(self) -> None:
        self.value = "plain"


class WithDel:
    def __del__(self) -> None:  # a finalizer: its object must stay mortal
        pass


PLAIN = Plain()
WITH_DEL = WithDel()
PATTERN = re.compile(r"^row-\d+$")
GROWING: list[object] = []

app = frostfork.App()


@app.get("/read")
def read() -> dict:
    total = 0
    for row in TABLE:
        total += row["id"] + len(row["name"]) + row["tags"][0]
    return {"pid": os.getpid(), "sum": total}


@app.get("/refs")
def refs() -> dict:
    fresh = {"made": "per request"}
    return {"row": sys.getrefcount(TABLE[0]), "name": sys.getrefcount(TABLE[0]["name"]),
            "table": sys.getrefcount(TABLE), "plain": sys.getrefcount(PLAIN),
            "plain_cls": sys.getrefcount(Plain), "read": sys.getrefcount(read),
            "with_del": sys.getrefcount(WITH_DEL), "pattern": sys.getrefcount(PATTERN),
            "fresh": sys.getrefcount(fresh), "growing": sys.getrefcount(GROWING)}


@app.post("/append")
def append(item: str) -> dict:
    GROWING.append(item + "!")  # a new, mortal string in a frozen list
    return {"pid": os.getpid(), "items": list(GROWING),
            "item_refs": sys.getrefcount(GROWING[-1])}
