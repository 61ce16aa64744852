"""Response models over a real socket: the return annotation decides what is
written (json/shape.c through dispatch/native.c)."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from conftest import ROOT, Server
from frostfork.shape import response_schema

sys.path.insert(0, str(ROOT / "tests" / "apps"))
import shape_app  # noqa: E402


@pytest.fixture(scope="module")
def server():
    s = Server("shape_app:app", "--workers", "1")
    yield s
    s.stop()
    s.check_clean()


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
