"""frostfork native app for bench/run-json-http: a typed POST and a list GET."""
import frostfork

from bench.apps.json_records import USERS


class Address(frostfork.Model):
    street: str
    city: str
    zip: str


class User(frostfork.Model):
    id: int
    name: str
    email: str
    score: float
    active: bool
    address: Address
    tags: list[str]


class Line(frostfork.Model):
    sku: str
    name: str
    qty: int
    price: float


class Order(frostfork.Model):
    id: int
    customer: str
    email: str
    note: str
    paid: bool
    ship_to: Address
    tags: list[str]
    lines: list[Line]


app = frostfork.App()
USER_MODELS = frostfork.json.decode(frostfork.json.encode(USERS), type=list[User])


@app.post("/orders")
def create_order(order: Order) -> dict:
    """The ~1 KB JSON body decoded into Order and validated in C."""
    return {"id": order.id, "lines": len(order.lines)}


@app.get("/users")
def list_users() -> list:
    """20 models, encoded in C."""
    return USER_MODELS
