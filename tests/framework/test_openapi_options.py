"""Route options, routers and security schemes as they appear in OpenAPI
(the document is also validated against the OpenAPI 3.1 schema)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
from openapi_spec_validator import validate

import frostfork
from frostfork import App, Router
from frostfork.security import APIKeyHeader, APIKeyQuery, HTTPBasic, HTTPBearer


@dataclass
class User:
    id: int
    name: str


@dataclass
class Message:
    detail: str


key = APIKeyHeader("X-API-Key", description="the key")
query_key = APIKeyQuery("api_key")
basic = HTTPBasic()
KeyA = Annotated[str, APIKeyHeader("X-A")]
KeyB = Annotated[str, APIKeyHeader("X-B")]


def build() -> App:
    app = App(title="t")
    users = Router(prefix="/users", tags=["users"])

    @users.get("/{id}", summary="One user", description="By id.", operation_id="getUser",
               responses={404: Message, 409: {"description": "taken", "model": Message},
                          418: {"description": "teapot"}})
    def get_user(id: int) -> User:
        return User(id, "x")

    @users.post("", status_code=201, tags=["write"], response_model=User)
    def create(user: User, k: Annotated[str, key]):
        return user

    @users.delete("/{id}", status_code=204, deprecated=True, dependencies=[HTTPBearer()])
    def remove(id: int) -> None:
        return None

    @users.get("/hidden", include_in_schema=False)
    def hidden() -> dict:
        return {}

    admin = Router(prefix="/admin", tags=["admin"])

    @admin.get("/stats")
    def stats(q: Annotated[str, query_key], who: Annotated[object, basic]):
        """Summary line.

        Longer description."""
        return {}

    users.include(admin)
    app.include(users, prefix="/v1")
    return app


def test_options_paths_tags_and_status_codes():
    doc = build().openapi()
    validate(doc)
    paths = doc["paths"]
    assert set(paths) == {"/v1/users/{id}", "/v1/users", "/v1/users/admin/stats"}
    get = paths["/v1/users/{id}"]["get"]
    assert get["operationId"] == "getUser"
    assert get["summary"] == "One user" and get["description"] == "By id."
    assert get["tags"] == ["users"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/User"}
    assert get["responses"]["404"] == {
        "description": "Not Found",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Message"}}}}
    assert get["responses"]["409"]["description"] == "taken"
    assert get["responses"]["418"] == {"description": "teapot"}
    post = paths["/v1/users"]["post"]
    assert post["tags"] == ["users", "write"]
    assert "200" not in post["responses"]
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/User"}  # response_model=
    delete = paths["/v1/users/{id}"]["delete"]
    assert delete["deprecated"] is True
    assert delete["responses"]["204"] == {"description": "Successful Response"}
    stats = paths["/v1/users/admin/stats"]["get"]
    assert stats["tags"] == ["users", "admin"]  # outer router's tags first
    assert stats["summary"] == "Summary line." and stats["description"] == "Longer description."


def test_security_schemes_and_route_security():
    doc = build().openapi()
    schemes = doc["components"]["securitySchemes"]
    assert schemes == {
        "APIKeyHeader": {"type": "apiKey", "name": "X-API-Key", "in": "header",
                         "description": "the key"},
        "HTTPBearer": {"type": "http", "scheme": "bearer"},
        "APIKeyQuery": {"type": "apiKey", "name": "api_key", "in": "query"},
        "HTTPBasic": {"type": "http", "scheme": "basic"},
    }
    paths = doc["paths"]
    assert paths["/v1/users"]["post"]["security"] == [{"APIKeyHeader": []}]
    assert paths["/v1/users/{id}"]["delete"]["security"] == [{"HTTPBearer": []}]
    assert paths["/v1/users/admin/stats"]["get"]["security"] == [{"APIKeyQuery": []},
                                                                 {"HTTPBasic": []}]
    assert "security" not in paths["/v1/users/{id}"]["get"]
    assert paths["/v1/users"]["post"]["responses"]["401"] == {"description": "Not authenticated"}
    # a credential is not documented as an ordinary parameter
    assert "parameters" not in paths["/v1/users"]["post"]


def test_two_different_schemes_with_one_name_are_refused():
    app = App()

    @app.get("/a")
    def a(k: KeyA, j: KeyB):
        return {}

    with pytest.raises(ValueError, match="two different security schemes are named"):
        app.openapi()


def test_router_dependencies_accumulate_outermost_first():
    calls = []

    def outer():
        calls.append("outer")

    def inner():
        calls.append("inner")

    app = App(dependencies=[outer])
    r = Router(prefix="/r", dependencies=[inner])

    @r.get("/x", dependencies=[HTTPBearer()])
    def x():
        return {}

    app.include(r)
    (route,) = app.routes()
    assert route.path == "/r/x"
    assert route.dependencies[:2] == [outer, inner]


def test_conflicting_routes_name_both_handlers():
    app = App()
    r = Router(prefix="/users")

    @app.get("/users/{id}")
    def first(id: int):
        return {}

    @r.get("/{user_id}")
    def second(user_id: int):
        return {}

    app.include(r)
    with pytest.raises(frostfork.RouteError) as e:
        app._compile()
    msg = str(e.value)
    assert "GET /users/{user_id}" in msg and "GET /users/{id}" in msg
    assert f"{__name__}.test_conflicting_routes_name_both_handlers.<locals>.first" in msg
    assert f"{__name__}.test_conflicting_routes_name_both_handlers.<locals>.second" in msg


def test_same_router_mounted_twice_and_routes_added_after_include():
    app = App()
    r = Router()
    app.include(r, prefix="/a")
    app.include(r, prefix="/b")

    @r.get("/x")  # after include: flattening happens at startup
    def x():
        return {}

    assert sorted(rt.path for rt in app.routes()) == ["/a/x", "/b/x"]


def test_router_cycles_and_bad_prefixes_are_refused():
    a, b = Router(), Router()
    a.include(b)
    b.include(a)
    app = App()
    app.include(a)
    with pytest.raises(frostfork.RouteError, match="cycle"):
        app.routes()
    with pytest.raises(frostfork.RouteError, match="must start with '/'"):
        Router(prefix="users")
    with pytest.raises(frostfork.RouteError, match="not end with '/'"):
        App().include(Router(), prefix="/v1/")
    with pytest.raises(frostfork.RouteError, match="status_code"):
        App().get("/x", status_code=42)


def test_every_decorator_takes_the_options():
    app = App()
    for method in ("get", "head", "post", "put", "patch", "delete", "options"):
        getattr(app, method)(f"/{method}", status_code=202, tags=[method], summary=method,
                             description="d", deprecated=True, include_in_schema=True,
                             responses={400: {"description": "bad"}}, operation_id=f"op_{method}",
                             response_model=User)(lambda: None)
    app.route("/both", ["GET", "POST"], status_code=202, tags=["both"])(lambda: None)
    routes = {(r.method, r.path): r for r in app.routes()}
    assert len(routes) == 9
    assert all(r.status_code == 202 for r in routes.values())
    assert routes[("PUT", "/put")].response_model is User
    doc = app.openapi()
    validate(doc)
    assert doc["paths"]["/head"]["head"]["operationId"] == "op_head"
    assert doc["paths"]["/both"]["post"]["responses"]["202"]


def test_the_framework_apps_document_is_valid(tmp_path, monkeypatch):
    import sys
    from pathlib import Path
    monkeypatch.setenv("FRAMEWORK_EVENTS", str(tmp_path / "events"))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "apps"))
    import framework_app
    doc = framework_app.app.openapi()
    validate(doc)
    assert doc["paths"]["/api/v1/items"]["post"]["responses"]["201"]
    assert doc["paths"]["/secure/optional"]["get"]["security"] == [{"OptionalBearer": []}]
    assert {"APIKeyHeader", "APIKeyQuery", "APIKeyCookie", "HTTPBearer", "HTTPBasic",
            "OptionalBearer"} <= set(doc["components"]["securitySchemes"])
    # the side-effect dependency's header is documented on the route it guards
    params = doc["paths"]["/admin/panel"]["get"]["parameters"]
    assert [p["in"] for p in params if p["name"] == "x-role"] == ["header"]
