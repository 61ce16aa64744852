"""What docs/auto-wiring.md says about dependency factories, checked against a
real server (or the CLI refusing to start one)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx

from conftest import ROOT, SLOW

HEAD = """\
from typing import Annotated
import frostfork
from frostfork import Header, Request
app = frostfork.App()
"""


def write_app(tmp_path, name: str, body: str) -> dict[str, str]:
    (tmp_path / f"{name}.py").write_text(HEAD + textwrap.dedent(body))
    return {"PYTHONPATH": f"{tmp_path}:{ROOT}"}


def start_fails(tmp_path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "frostfork", "serve", f"{name}:app",
                           "--bind", "127.0.0.1:0"], capture_output=True, text=True,
                          timeout=60 * SLOW, cwd=tmp_path)


def test_function_factory_gets_request_headers_and_other_dependencies(serve, tmp_path):
    env = write_app(tmp_path, "fn_factory", """
        class Settings:
            made = 0
            def __init__(self):
                Settings.made += 1
                self.serial = Settings.made
        class Ctx:
            def __init__(self, path, tenant, serial):
                self.path, self.tenant, self.serial = path, tenant, serial
        def make_ctx(request: Request, settings: Settings,
                     x_tenant: Annotated[str, Header()] = "public") -> Ctx:
            return Ctx(request.path, x_tenant, settings.serial)
        app.provide(Settings, scope="app")
        app.provide(Ctx, make_ctx)
        @app.get("/ctx/{n}")
        def ctx(n: int, c: Ctx) -> dict:
            return {"n": n, "path": c.path, "tenant": c.tenant, "serial": c.serial}
        """)
    srv = serve("fn_factory:app", env=env)
    url = f"http://127.0.0.1:{srv.port}/ctx/3"
    assert httpx.get(url, headers={"X-Tenant": "acme"}, timeout=10 * SLOW).json() == {
        "n": 3, "path": "/ctx/3", "tenant": "acme", "serial": 1}
    assert httpx.get(url, timeout=10 * SLOW).json()["tenant"] == "public"


def test_cycles_and_missing_providers_stop_startup_naming_the_chain(tmp_path):
    write_app(tmp_path, "cycle", """
        class A: ...
        class B: ...
        def make_a(b: B) -> A: return A()
        def make_b(a: A) -> B: return B()
        app.provide(A, make_a)
        app.provide(B, make_b)
        @app.get("/")
        def h(a: A) -> dict: return {}
        """)
    out = start_fails(tmp_path, "cycle")
    assert out.returncode == 2 and "dependency cycle: A -> B -> A" in out.stderr
    write_app(tmp_path, "missing", """
        class Pool: ...
        class Conn: ...
        def make_conn(pool: Pool) -> Conn: return Conn()
        app.provide(Conn, make_conn)
        @app.get("/")
        def h(c: Conn) -> dict: return {}
        """)
    out = start_fails(tmp_path, "missing")
    assert out.returncode == 2 and "no provider for Pool (needed by Conn <- GET /)" in out.stderr


def test_class_factory_with_annotated_init(serve, tmp_path):
    env = write_app(tmp_path, "cls_factory", """
        class Ctx:
            def __init__(self, request: Request,
                         x_tenant: Annotated[str, Header()] = "public") -> None:
                self.path, self.tenant = request.path, x_tenant
        app.provide(Ctx)
        @app.get("/ctx")
        def ctx(c: Ctx) -> dict:
            return {"path": c.path, "tenant": c.tenant}
        """)
    srv = serve("cls_factory:app", env=env)
    assert httpx.get(f"http://127.0.0.1:{srv.port}/ctx", timeout=10 * SLOW).json() == {
        "path": "/ctx", "tenant": "public"}


def test_factory_gets_path_parameters(serve, tmp_path):
    """A request-scoped factory reads the route's path parameters, validated
    like the handler's; the handler need not declare them itself, and the
    OpenAPI document lists them all the same."""
    env = write_app(tmp_path, "path_factory", """
        from frostfork import Ge
        class Repo:
            def __init__(self, item_id): self.item_id = item_id
        class Owner:
            def __init__(self, name): self.name = name
        def make_repo(item_id: Annotated[int, Ge(1)]) -> Repo:
            return Repo(item_id)
        def make_owner(user: str, repo: Repo) -> Owner:
            return Owner(f"{user}/{repo.item_id}")
        app.provide(Repo, make_repo)
        app.provide(Owner, make_owner)
        @app.get("/items/{item_id}")
        def item(item_id: int, repo: Repo) -> dict:
            return {"id": item_id, "repo": repo.item_id}
        @app.get("/users/{user}/items/{item_id}")
        def owned(owner: Owner) -> dict:
            return {"owner": owner.name}
        """)
    srv = serve("path_factory:app", env=env)
    base = f"http://127.0.0.1:{srv.port}"
    assert httpx.get(f"{base}/items/5", timeout=10 * SLOW).json() == {"id": 5, "repo": 5}
    # the same factory on a route whose path names sit elsewhere
    assert httpx.get(f"{base}/users/ada/items/7", timeout=10 * SLOW).json() == {
        "owner": "ada/7"}
    r = httpx.get(f"{base}/users/ada/items/0", timeout=10 * SLOW)
    assert r.status_code == 422
    assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [
        (["path", "item_id"], "greater_than_equal")]
    doc = httpx.get(f"{base}/openapi.json", timeout=10 * SLOW).json()
    params = doc["paths"]["/users/{user}/items/{item_id}"]["get"]["parameters"]
    assert sorted((p["name"], p["in"]) for p in params) == [("item_id", "path"), ("user", "path")]


def test_path_parameter_nobody_reads_and_app_scoped_path_factory_stop_startup(tmp_path):
    write_app(tmp_path, "unread", """
        @app.get("/items/{item_id}")
        def h() -> dict: return {}
        """)
    out = start_fails(tmp_path, "unread")
    assert out.returncode == 2 and (
        "GET /items/{item_id}: neither the handler nor its dependencies take path parameter "
        "'item_id'") in out.stderr
    write_app(tmp_path, "app_path", """
        class Repo: ...
        def make_repo(item_id: int) -> Repo: return Repo()
        app.provide(Repo, make_repo, scope="app")
        @app.get("/items/{item_id}")
        def h(item_id: int, repo: Repo) -> dict: return {}
        """)
    out = start_fails(tmp_path, "app_path")
    # an app-scoped value outlives every request: it cannot depend on one's path
    assert out.returncode == 2 and "Repo: parameter 'item_id': no source" in out.stderr
