"""Litestar app for bench/run-json-http (served by granian): the same two routes,
with msgspec Structs, Litestar's own fast path for models."""
import msgspec
from litestar import Litestar, get, post

from bench.apps.json_records import USERS


class Address(msgspec.Struct):
    street: str
    city: str
    zip: str


class User(msgspec.Struct):
    id: int
    name: str
    email: str
    score: float
    active: bool
    address: Address
    tags: list[str]


class Line(msgspec.Struct):
    sku: str
    name: str
    qty: int
    price: float


class Order(msgspec.Struct):
    id: int
    customer: str
    email: str
    note: str
    paid: bool
    ship_to: Address
    tags: list[str]
    lines: list[Line]


USER_MODELS = msgspec.convert(USERS, list[User])


@post("/orders", status_code=200)
async def create_order(data: Order) -> dict:
    return {"id": data.id, "lines": len(data.lines)}


@get("/users")
async def list_users() -> list[User]:
    return USER_MODELS


app = Litestar([create_order, list_users], openapi_config=None)
