"""bench/apps/features_app.py's shape in FastAPI (served by uvicorn): the typed
POST with CORSMiddleware, one `@app.middleware("http")` and a yield dependency."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel, Field

app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=["https://app.example"],
                   allow_methods=["GET", "POST"], allow_headers=["Content-Type"])


@app.middleware("http")
async def passthrough(request: Request, call_next):
    return await call_next(request)


class NewUser(BaseModel):
    name: Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
    password: Annotated[str, Field(min_length=12)]
    age: Annotated[int, Field(ge=0, le=150)]


class Session:
    def __init__(self) -> None:
        self.open = True

    def close(self) -> None:
        self.open = False


def session():
    s = Session()
    try:
        yield s
    finally:
        s.close()


@app.post("/users")
def create_user(user: NewUser, db: Annotated[Session, Depends(session)]) -> dict:
    return {"name": user.name, "age": user.age}


@app.get("/")
async def index():
    return {"message": "Hello, World!"}
