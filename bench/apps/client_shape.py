"""The typed POST of bench/apps/native_app.py, once per framework, for
bench/testclient.py: the same body, constraints, sync handler and answer."""


from typing import Annotated

BODY = {"name": "alice_1", "password": "correct horse battery", "age": 30}
ANSWER = {"name": "alice_1", "age": 30}


def fastapi_app():
    from fastapi import FastAPI
    from pydantic import BaseModel, Field

    app = FastAPI()

    class NewUser(BaseModel):
        name: Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
        password: Annotated[str, Field(min_length=12)]
        age: Annotated[int, Field(ge=0, le=150)]

    @app.post("/users")
    def create_user(user: NewUser) -> dict:
        return {"name": user.name, "age": user.age}

    return app


def frostfork_app():
    from bench.apps.native_app import app
    return app
