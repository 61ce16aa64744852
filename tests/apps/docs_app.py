"""A small app for the Swagger UI test (tests/framework/test_docs.py)."""

from __future__ import annotations

from dataclasses import dataclass

import frostfork

app = frostfork.App(title="docs demo")
nodocs = frostfork.App(title="no docs", docs_url=None)


@dataclass
class Pet:
    name: str


pets = frostfork.Router(prefix="/pets", tags=["pets"])


@pets.get("/{id}", summary="Fetch one pet")
def get_pet(id: int) -> Pet:
    return Pet("rex")


@pets.post("", status_code=201, summary="Add a pet")
def add_pet(pet: Pet) -> Pet:
    return pet


app.include(pets)
nodocs.include(pets)
