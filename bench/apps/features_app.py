"""The typed POST of native_app.py with issue 11's features on (bench/run-features):
CORS (done in C), gzip off, one Python middleware and a yield dependency.

The middleware and the yield dependency need the framework work of issue 11
(App.middleware, generator providers); on a tree without them the app uses what
there is, a request-scoped dependency closed after the response instead of the
generator, and no middleware, and says so in FEATURES (bench/run-features
writes it into RESULTS.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import frostfork
from frostfork import Ge, Le, MaxLen, MinLen, Pattern, Sensitive

app = frostfork.App(cors=frostfork.CORS(allow_origins=["https://app.example"],
                                        allow_methods=["GET", "POST"],
                                        allow_headers=["Content-Type"]), gzip=False)
HAVE_MIDDLEWARE = hasattr(frostfork.App, "middleware")


@dataclass
class NewUser:
    name: Annotated[str, MinLen(3), MaxLen(32), Pattern(r"^[a-z][a-z0-9_]*$")]
    password: Annotated[str, MinLen(12), Sensitive()]
    age: Annotated[int, Ge(0), Le(150)]


class Session:
    """What a yield dependency usually hands out: a DB session, closed afterwards."""

    def __init__(self) -> None:
        self.open = True

    def close(self) -> None:
        self.open = False


if HAVE_MIDDLEWARE:
    @app.middleware
    def passthrough(request, call_next):
        return call_next(request)

    def session():
        s = Session()
        try:
            yield s
        finally:
            s.close()

    app.provide(Session, session)
    FEATURES = "CORS (C), gzip off, one Python middleware, a yield dependency"
else:
    app.provide(Session, Session)  # request scope: close() runs after the response
    FEATURES = ("CORS (C), gzip off, a request-scoped dependency closed after the response; "
                "no Python middleware and no yield dependency (not on this tree)")


@app.post("/users")
def create_user(user: NewUser, db: Session) -> dict:
    return {"name": user.name, "age": user.age}


@app.get("/")
def index():
    return {"message": "Hello, World!"}
