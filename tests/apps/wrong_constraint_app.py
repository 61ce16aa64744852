"""MinLen on an int: refused at startup, naming the field."""
from dataclasses import dataclass
from typing import Annotated

import frostfork
from frostfork import MinLen

app = frostfork.App()


@dataclass
class Thing:
    count: Annotated[int, MinLen(1)]


@app.post("/things")
def create(thing: Thing) -> dict:
    return {}
