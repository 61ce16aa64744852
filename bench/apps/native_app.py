"""frostfork native app for the throughput benchmark (and accept_balance.py)."""
import hashlib
from dataclasses import dataclass
from typing import Annotated

import frostfork
from frostfork import Ge, Le, MaxLen, MinLen, Pattern, Sensitive

app = frostfork.App()


@dataclass
class NewUser:
    name: Annotated[str, MinLen(3), MaxLen(32), Pattern(r"^[a-z][a-z0-9_]*$")]
    password: Annotated[str, MinLen(12), Sensitive()]
    age: Annotated[int, Ge(0), Le(150)]


@app.post("/users")
def create_user(user: NewUser) -> dict:
    """The typed POST: JSON body decoded into NewUser and validated in C."""
    return {"name": user.name, "age": user.age}


@app.get("/")
def index():
    return {"message": "Hello, World!"}


@app.get("/cpu")
def cpu():
    """About 0.2 ms of CPU per request: a handler that keeps a core busy."""
    digest = b"frostfork"
    for _ in range(400):
        digest = hashlib.sha256(digest).digest()
    return {"digest": digest.hex()[:16]}
