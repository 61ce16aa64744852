"""FastAPI app for bench/run-json-http (served by uvicorn): the same two routes."""
from fastapi import FastAPI
from pydantic import BaseModel

from bench.apps.json_records import USERS


class Address(BaseModel):
    street: str
    city: str
    zip: str


class User(BaseModel):
    id: int
    name: str
    email: str
    score: float
    active: bool
    address: Address
    tags: list[str]


class Line(BaseModel):
    sku: str
    name: str
    qty: int
    price: float


class Order(BaseModel):
    id: int
    customer: str
    email: str
    note: str
    paid: bool
    ship_to: Address
    tags: list[str]
    lines: list[Line]


app = FastAPI()
USER_MODELS = [User.model_validate(u) for u in USERS]


@app.post("/orders")
async def create_order(order: Order) -> dict:
    return {"id": order.id, "lines": len(order.lines)}


@app.get("/users", response_model=list[User])
async def list_users() -> list[User]:
    return USER_MODELS
