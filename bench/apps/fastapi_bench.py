"""The FastAPI app of issue 12's bars: async handlers, a JSON body validated by pydantic.
Served by frostfork --asgi, granian (ASGI) and uvicorn alike (bench/asgi_bars.py)."""
import os

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI()


class NewUser(BaseModel):
    name: str = Field(min_length=3, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    password: str = Field(min_length=12)
    age: int = Field(ge=0, le=150)


@app.get("/")
async def index():
    return {"message": "Hello, World!"}


@app.post("/users")
async def create_user(user: NewUser):
    return {"name": user.name, "age": user.age}


@app.get("/pid")
async def pid():
    return {"pid": os.getpid()}
