"""Routes whose results are written as their declared response types."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Annotated, Any

import frostfork
from frostfork import Sensitive

app = frostfork.App()


@dataclasses.dataclass
class UserOut:
    id: int
    name: str


class Account(frostfork.Model):
    id: int
    name: str
    api_key: Annotated[str, Sensitive()]


_db = sqlite3.connect(":memory:", check_same_thread=False)
_db.row_factory = sqlite3.Row
_db.execute("create table users(id integer, name text, password_hash text)")
_db.execute("insert into users values (1, 'ann', 'bcrypt$2b$12$secrethash')")


@app.get("/users/{uid}")
def get_user(uid: int) -> UserOut:
    return _db.execute("select * from users where id = ?", (uid,)).fetchone()


@app.get("/users")
def list_users() -> list[UserOut]:
    return [dict(r) for r in _db.execute("select * from users")]


@app.get("/account")
def account() -> Account:
    return Account(7, "ops", "sk-live-topsecret")


@app.get("/misfit")
def misfit() -> UserOut:
    return {"id": "not-an-int", "name": "x", "password_hash": "never-sent"}


@app.get("/raw")
def raw() -> UserOut:
    return frostfork.Response(202, b'{"anything":"goes"}', {"Content-Type": "application/json"})


@app.get("/free")
def free() -> dict:
    return {"any": ["thing", 1]}


@app.get("/optional/{uid}")
def optional(uid: int) -> UserOut | None:
    row = _db.execute("select * from users where id = ?", (uid,)).fetchone()
    return row


@app.get("/anything")
def anything() -> Any:
    return {"x": 1}
