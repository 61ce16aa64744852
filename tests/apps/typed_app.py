"""A typed API: models with constraints, every parameter source, dependencies."""

from __future__ import annotations

import enum
import os
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Literal, Optional, TypedDict

import frostfork
from frostfork import (Body, Cookie, Ge, Header, Le, MaxLen, MinLen, Model, Pattern, Query,
                       Request, Response, Sensitive)

Username = Annotated[str, MinLen(3), MaxLen(32), Pattern(r"^[a-z][a-z0-9_]*$")]
Password = Annotated[str, MinLen(12), Sensitive()]


class Role(enum.Enum):
    ADMIN = "admin"
    USER = "user"


@dataclass
class Address:
    city: Annotated[str, MinLen(1)]
    zip: Annotated[str, Pattern(r"^\d{5}$")]


@dataclass
class NewUser:
    name: Username
    password: Password
    age: Annotated[int, Ge(0), Le(150)]
    role: Role = Role.USER
    addresses: list[Address] = field(default_factory=list)
    nickname: Optional[str] = None


@dataclass
class Booking:
    """__post_init__ checks across fields and fills an init=False field."""
    first_night: int
    last_night: int
    nights: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.first_night == 0:
            raise RuntimeError("a bug in __post_init__")
        if self.last_night < self.first_night:
            raise ValueError("last_night is before first_night")
        self.nights = self.last_night - self.first_night + 1


class Item(Model, forbid_extra=True):
    title: Annotated[str, MinLen(1)]
    price: Annotated[float, Ge(0)]
    tags: list[str] = frostfork.field(default_factory=list)


class Filter(TypedDict, total=False):
    kind: Literal["a", "b"]
    limit: int


app = frostfork.App(title="typed test app", version="1.2.3")

CLOSED: list[int] = []


class Database:
    """A request-scoped resource: closed after each response."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.closed = False

    def close(self) -> None:
        self.closed = True
        marker = os.environ.get("FF_CLOSE_LOG")
        if marker:
            with open(marker, "a") as f:
                f.write(f"closed {self.request_id}\n")


class Settings:
    instances = 0

    def __init__(self) -> None:
        Settings.instances += 1
        self.n = Settings.instances


def make_db(request_id: Annotated[str, Header("X-Request-Id")] = "none") -> Database:
    return Database(request_id)


app.provide(Database, make_db)
app.provide(Settings, scope="app")


@app.post("/users")
def create_user(user: NewUser, db: Database) -> dict:
    """Create a user.

    The password is write-only."""
    return {"name": user.name, "age": user.age, "role": user.role, "cities":
            [a.city for a in user.addresses], "db": db.request_id}


@app.post("/users/echo")
def echo_user(user: NewUser) -> NewUser:
    return user


@app.post("/items")
def create_item(item: Item) -> Item:
    return item


@app.post("/pair")
def pair(item: Item, note: Annotated[dict[str, int], Body()], flag: bool = False) -> dict:
    return {"title": item.title, "note": note, "flag": flag}


@app.get("/search")
def search(q: Annotated[str, MinLen(2)], page: Annotated[int, Ge(1)] = 1,
           tag: Annotated[list[str], Query("tag")] = [], role: Optional[Role] = None,
           exact: bool = False) -> dict:
    return {"q": q, "page": page, "tags": tag, "role": role, "exact": exact}


@app.get("/whoami")
def whoami(agent: Annotated[str, Header("User-Agent")],
           session: Annotated[str, Cookie()] = "anon",
           rid: Annotated[uuid.UUID | None, Header("X-Trace")] = None) -> dict:
    return {"agent": agent, "session": session, "trace": rid}


@app.get("/items/{item_id}")
def get_item(item_id: Annotated[int, Ge(1)], settings: Settings, db: Database) -> dict:
    return {"id": item_id, "settings": settings.n, "db": db.request_id, "pid": os.getpid()}


@app.get("/fail/{what}")
def fail(what: str, db: Database) -> dict:
    raise RuntimeError(f"failed with {what}")


@app.post("/filter")
def do_filter(f: Filter) -> dict:
    return dict(f)


@app.get("/raw")
def raw_request(request: Request) -> Response:
    return Response(200, {"path": request.path, "params": request.path_params})


@app.post("/bookings")
def book(bookings: list[Booking]) -> dict:
    return {"nights": [b.nights for b in bookings]}
