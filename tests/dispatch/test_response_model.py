"""Response models over a real socket: the return annotation decides what is
written (json/shape.c through dispatch/native.c)."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from conftest import ROOT, served
from frostfork.shape import response_schema

sys.path.insert(0, str(ROOT / "tests" / "apps"))
import shape_app  # noqa: E402


server = served("shape_app:app", "--workers", "1")


def test_db_row_never_sends_what_the_model_omits(server):
    r = server.get("/users/1")
    assert r.status_code == 200
    assert r.json() == {"id": 1, "name": "ann"}
    assert b"password" not in r.content and b"bcrypt" not in r.content
    r = server.get("/users")
    assert r.json() == [{"id": 1, "name": "ann"}]


def test_sensitive_field_never_written(server):
    r = server.get("/account")
    assert r.json() == {"id": 7, "name": "ops"}
    assert b"topsecret" not in r.content


def test_misfit_is_a_500_with_the_reason_logged_and_no_partial_body(server):
    r = server.get("/misfit")
    assert r.status_code == 500
    body = r.json()
    assert body["detail"] == "Internal Server Error"
    assert b"never-sent" not in r.content and b"not-an-int" not in r.content
    out = server.wait_output("response does not fit its declared type at $.id")
    assert "expected int, got str" in out
    assert server.get("/users/1").status_code == 200  # the worker lives on


def test_response_objects_bypass_the_model(server):
    r = server.get("/raw")
    assert r.status_code == 202 and r.json() == {"anything": "goes"}


def test_optional_model(server):
    assert server.get("/optional/1").json() == {"id": 1, "name": "ann"}
    r = server.get("/optional/99")
    assert r.status_code == 200 and r.content == b"null"


def test_unconstrained_types_get_no_schema(server):
    assert response_schema(shape_app.free) is None
    assert response_schema(shape_app.anything) is None
    assert response_schema(shape_app.raw) is not None  # annotated UserOut; the Response bypasses
    assert server.get("/free").json() == {"any": ["thing", 1]}


def test_response_model_argument_wins_over_the_annotation():
    @dataclasses.dataclass
    class Small:
        id: int

    def handler() -> dict:
        return {}

    assert response_schema(handler) is None
    assert response_schema(handler, Small) is not None


def test_route_records_are_asked_for_their_model():
    """A route table entry's fifth item may be a route record (endpoint +
    response_model), as a router flattening routes makes them."""
    import types

    from frostfork import _core
    from frostfork.binding import plan_for

    @dataclasses.dataclass
    class Small:
        id: int

    def handler() -> dict:
        return {"id": 5, "secret": "s3cr3t"}

    plan = plan_for(handler, label="GET /r").plan
    record = types.SimpleNamespace(endpoint=handler, response_model=Small)
    engine = _core.Engine([("GET", "/r", plan, (), record)])
    status, _, body = engine.handle(b"GET /r HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, body) == (200, b'{"id":5}')
    plain = types.SimpleNamespace(endpoint=handler, response_model=None)
    engine = _core.Engine([("GET", "/r", plan, (), plain)])
    assert engine.handle(b"GET /r HTTP/1.1\r\nHost: t\r\n\r\n")[2] == b'{"id":5,"secret":"s3cr3t"}'
    with pytest.raises(ValueError, match="route 0 is malformed: .*Schema"):
        _core.Engine([("GET", "/r", plan, (), types.SimpleNamespace(response_schema=3))])


@dataclasses.dataclass
class Public:
    id: int
    name: str


def test_python_middleware_sees_and_sends_only_the_model():
    """With a Python middleware the handler's value reaches call_next as a
    Response: it is shaped first, so neither the middleware nor the client
    ever gets what the model leaves out."""
    import frostfork
    from frostfork.testing import Client

    app = frostfork.App()
    seen: list[bytes] = []

    @app.middleware
    def keep_body(request, call_next):
        response = call_next(request)
        seen.append(bytes(response.body))
        response.headers["X-Seen"] = "1"
        return response

    @app.get("/row")
    def row() -> Public:
        return {"id": 3, "name": "cy", "password_hash": "bcrypt$x"}  # type: ignore[return-value]

    with Client(app) as client:
        r = client.get("/row")
    assert r.status_code == 200 and r.headers["x-seen"] == "1"
    assert r.json() == {"id": 3, "name": "cy"}
    assert seen and b"password_hash" not in seen[0] and b"bcrypt" not in r.content
