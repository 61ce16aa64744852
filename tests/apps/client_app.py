"""An app for the in-process test client: typed routes, cookies, hooks, errors,
response models and the built-in middleware."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import frostfork
from frostfork import Cookie, Ge, MinLen, Request, Response, Sensitive

app = frostfork.App(cors=frostfork.CORS(["https://app.example"], ["GET", "POST"]), gzip=True)
EVENTS: list[str] = []


@app.on_startup
def started() -> None:
    EVENTS.append("startup")


if hasattr(app, "on_shutdown"):
    @app.on_shutdown
    def stopped() -> None:
        EVENTS.append("shutdown")


@dataclasses.dataclass
class NewUser:
    name: Annotated[str, MinLen(3)]
    age: Annotated[int, Ge(0)]
    password: Annotated[str, Sensitive()] = "default-password"


@dataclasses.dataclass
class UserOut:
    id: int
    name: str
    age: int


@app.post("/users")
def create(user: NewUser) -> UserOut:
    # a richer value than the model: the password must not be written
    return {"id": 1, "name": user.name, "age": user.age, "password": user.password}


@app.get("/users/{uid}")
def read(uid: int, verbose: bool = False) -> dict:
    return {"id": uid, "verbose": verbose}


@app.get("/login")
def login():
    return Response(200, {"ok": True}, {"Set-Cookie": "session=abc123; Path=/"})


@app.get("/me")
def me(session: Annotated[str, Cookie()] = "") -> dict:
    return {"session": session}


@app.get("/headers")
def headers(request: Request) -> dict:
    return {"x-token": request.headers.get("x-token"), "client": list(request.client)}


@app.get("/boom")
def boom():
    raise KeyError("exploded on purpose")


@app.get("/big")
def big() -> dict:
    return {"rows": [{"n": i, "text": "lorem ipsum"} for i in range(100)]}


@app.get("/redirect")
def redirect():
    return Response(307, None, {"Location": "/users/5"})


@app.post("/raw")
def raw(request: Request):
    return request.body
