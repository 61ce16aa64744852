"""An app that uses routers, route options, HTTPError, exception handlers,
middleware, yield and side-effect dependencies, security schemes, lifespan
hooks and the Request/Response surface (tests/framework/)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import frostfork
from frostfork import (HTTPError, HTMLResponse, JSONResponse, PlainTextResponse,
                       RedirectResponse, Request, Response, Router)
from frostfork.security import (APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBasic,
                                HTTPBasicCredentials, HTTPBearer, HTTPAuthorizationCredentials)

EVENTS = Path(os.environ.get("FRAMEWORK_EVENTS", "/tmp/framework-events"))


def note(line: str) -> None:
    """Appends one line to the events file the tests read (one write: atomic)."""
    with open(EVENTS, "a") as f:
        f.write(f"{os.getpid()} {line}\n")


app = frostfork.App(title="framework")


# -- lifespan -------------------------------------------------------------

class Pool:
    """A worker-scoped resource: opened after fork, closed at worker exit."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        note("pool open")

    def close(self) -> None:
        note("pool close")


app.provide(Pool, scope="worker")


@app.on_worker_start
def worker_start() -> None:
    note("worker start")


@app.on_worker_stop
def worker_stop() -> None:
    note("worker stop")


@app.on_shutdown
def shutdown() -> None:
    note("shutdown")


@app.get("/pool")
def pool(p: Pool) -> dict:
    return {"pid": p.pid, "me": os.getpid()}


# -- errors ---------------------------------------------------------------

class Missing(Exception):
    pass


class MissingUser(Missing):
    pass


@app.exception_handler(Missing)
def on_missing(request: Request, exc: Missing) -> Response:
    return Response(404, {"missing": str(exc), "path": request.path}, {"X-Handled": "1"})


@app.exception_handler(frostfork.ValidationError)
def on_invalid(request: Request, exc: frostfork.ValidationError) -> Response:
    return Response(400, {"errors": len(exc.args[0]), "first": exc.args[0][0]["loc"]})


class Broken(Exception):
    pass


@app.exception_handler(Broken)
def on_broken(request: Request, exc: Broken) -> Response:
    raise RuntimeError("the handler itself fails")


def deep(n: int) -> None:
    if n == 0:
        raise HTTPError(409, {"why": "taken"}, headers={"X-Conflict": "yes"})
    deep(n - 1)


@app.get("/conflict")
def conflict() -> dict:
    deep(5)
    return {}


@app.get("/teapot")
def teapot() -> dict:
    raise HTTPError(418)


class Checked:
    pass


def checked() -> Checked:
    raise HTTPError(403, "from a dependency")


app.provide(Checked, checked)


@app.get("/forbidden")
def forbidden(c: Checked) -> dict:
    return {}


@app.get("/missing/{name}")
def missing(name: str) -> dict:
    raise MissingUser(name)


@app.get("/typed")
def typed(n: int) -> dict:
    return {"n": n}


@app.get("/broken")
def broken() -> dict:
    raise Broken()


@app.get("/boom")
def boom() -> dict:
    raise ValueError("boom")


# -- status codes and responses ---------------------------------------------

@dataclass
class Item:
    name: str


items = Router(prefix="/items", tags=["items"])


@items.post("", status_code=201)
def create_item(item: Item) -> dict:
    return {"name": item.name}


@items.delete("/{id}", status_code=204)
def delete_item(id: int) -> None:
    return None


@items.get("/{id}", status_code=202)
def explicit(id: int) -> Response:
    return Response(200, {"id": id})  # a Response chooses its own status


v1 = Router(prefix="/v1")
v1.include(items)
app.include(v1, prefix="/api")


@app.get("/cookies")
def cookies() -> Response:
    r = Response(200, {"ok": True})
    r.headers["Cache-Control"] = "no-store"
    r.headers.append("X-Many", "1")
    r.headers.append("X-Many", "2")
    r.set_cookie("session", "abc", httponly=True, max_age=60)
    r.delete_cookie("old")
    return r


@app.get("/json")
def json_response() -> Response:
    return JSONResponse({"a": 1}, status_code=201, headers={"X-A": "1"})


@app.get("/html")
def html() -> Response:
    return HTMLResponse("<p>hi</p>")


@app.get("/text")
def text() -> Response:
    return PlainTextResponse("hi", status_code=202)


@app.get("/redirect")
def redirect() -> Response:
    return RedirectResponse("/html")


@app.get("/request/{name}")
def inspect_request(request: Request, name: str) -> dict:
    request.state.seen = True
    return {
        "method": request.method, "path": request.path, "url": str(request.url),
        "url_path": request.url.path, "query": request.query.getlist("tag"),
        "first": request.query.get("tag"), "x": request.headers.get("X-Multi"),
        "xs": request.headers.getlist("x-multi"), "cookies": request.cookies,
        "client": list(request.client), "state": request.state.seen, "name": name,
    }


# -- dependencies -----------------------------------------------------------

class Session:
    def __init__(self) -> None:
        self.id = os.urandom(4).hex()


def session():
    s = Session()
    note(f"session open {s.id}")
    try:
        yield s
    except Exception as e:
        note(f"session saw {type(e).__name__} {s.id}")
        raise
    else:
        note(f"session commit {s.id}")
    finally:
        note(f"session close {s.id}")


app.provide(Session, session)


@app.get("/session")
def use_session(s: Session, fail: bool = False) -> dict:
    if fail:
        raise ValueError("handler failed")
    return {"session": s.id}


@app.get("/session-http-error")
def session_http_error(s: Session) -> dict:
    raise HTTPError(404, "gone")


def audit_call(request: Request) -> None:
    note(f"audit {request.path}")


def require_admin(x_role: Annotated[str, frostfork.Header()] = "") -> None:
    if x_role != "admin":
        raise HTTPError(403, "admins only")


admin = Router(prefix="/admin", dependencies=[audit_call])


@admin.get("/panel", dependencies=[require_admin])
def panel() -> dict:
    return {"panel": True}


app.include(admin)


# -- security ----------------------------------------------------------------

api_key = APIKeyHeader("X-Key")
query_key = APIKeyQuery("key")
bearer = HTTPBearer()
basic = HTTPBasic(realm="frost")
optional_bearer = HTTPBearer(auto_error=False, scheme_name="OptionalBearer")
cookie_key = APIKeyCookie("sid")


@app.get("/secure/cookie")
def secure_cookie(sid: Annotated[str, cookie_key]) -> dict:
    return {"sid": sid}


@app.get("/secure/key")
def secure_key(key: Annotated[str, api_key]) -> dict:
    if key != "right":
        raise HTTPError(401, "bad key", {"WWW-Authenticate": "APIKey"})
    return {"key": "ok"}


@app.get("/secure/query")
def secure_query(key: query_key) -> dict:  # type: ignore[valid-type]
    return {"len": len(key)}


@app.get("/secure/bearer")
def secure_bearer(cred: Annotated[HTTPAuthorizationCredentials, bearer]) -> dict:
    return {"scheme": cred.scheme, "token": cred.credentials}


@app.get("/secure/basic")
def secure_basic(cred: Annotated[HTTPBasicCredentials, basic]) -> dict:
    return {"user": cred.username, "password_len": len(cred.password)}


@app.get("/secure/optional")
def secure_optional(cred: Annotated[HTTPAuthorizationCredentials | None,
                                    optional_bearer] = None) -> dict:
    return {"token": cred.credentials if cred else None}


@app.delete("/secure/thing", dependencies=[api_key])
def secure_dep() -> dict:
    return {"deleted": True}


@app.get("/secure/leak")
def secure_leak(key: Annotated[str, api_key]) -> dict:
    raise ValueError(f"failed with {key}")
