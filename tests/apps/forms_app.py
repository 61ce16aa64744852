"""HTML forms and uploads bound in C: Form() fields, UploadFile parameters,
a form bound to a model (tests/bind/test_forms.py)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Annotated

import frostfork
from frostfork import Form, File, MaxLen, MinLen, Ge, UploadFile

app = frostfork.App()
_kept: list = []


def _spool_files() -> list[str]:
    spool = frostfork.life.spool_dir()
    return sorted(os.listdir(spool)) if spool else []


@app.post("/login")
def login(username: Annotated[str, Form(), MinLen(3)], password: Annotated[str, Form()],
          remember: Annotated[bool, Form()] = False) -> dict:
    return {"username": username, "password_len": len(password), "remember": remember}


@app.post("/tags")
def tags(tag: Annotated[list[int], Form()], note: Annotated[str, Form("the-note")] = "") -> dict:
    return {"tags": tag, "note": note}


@dataclass
class Profile:
    name: Annotated[str, MaxLen(10)]
    age: Annotated[int, Ge(0)]
    langs: list[str]
    city: str = "nowhere"


@app.post("/profile")
def profile(p: Annotated[Profile, Form()]) -> dict:
    return {"name": p.name, "age": p.age, "langs": p.langs, "city": p.city,
            "type": type(p).__name__}


@app.post("/avatar")
def avatar(title: Annotated[str, Form()], file: UploadFile) -> dict:
    data = file.read()
    file.seek(0)
    again = file.file.read(4)
    return {"title": title, "filename": file.filename, "content_type": file.content_type,
            "size": file.size, "headers": file.headers, "len": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "again": again.hex(),
            "spool_files": len(_spool_files())}


@app.post("/many")
def many(docs: Annotated[list[UploadFile], File("doc")]) -> dict:
    return {"files": [[d.filename, d.size, d.read().decode()] for d in docs]}


@app.post("/digest-upload")
def digest_upload(file: UploadFile) -> dict:
    """sha256 of an uploaded file read in 1 MiB blocks, and the file kept past the request."""
    h = hashlib.sha256()
    n = 0
    while block := file.read(1 << 20):
        h.update(block)
        n += len(block)
    _kept.append(file)
    return {"size": n, "sha256": h.hexdigest(), "reader": type(file.file).__name__,
            "spool_files": len(_spool_files())}


@app.post("/raise-upload")
def raise_upload(file: UploadFile) -> dict:
    raise RuntimeError("handler failed after receiving " + str(file.size))


@app.get("/stale")
def stale() -> dict:
    """The upload kept from the last /digest-upload, read after its request ended."""
    f = _kept.pop()
    try:
        f.read(1)
    except ValueError as e:
        return {"error": str(e)}
    return {"error": None}


@app.get("/spool")
def spool() -> dict:
    return {"files": _spool_files()}
