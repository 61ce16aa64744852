"""frostfork.testing: the httpx client and transport over the in-process engine."""

from __future__ import annotations

import gzip
import sys

import httpx
import pytest

from conftest import ROOT
from frostfork.testing import AsyncClient, Client, Transport

sys.path.insert(0, str(ROOT / "tests" / "apps"))
import client_app  # noqa: E402
from client_app import app  # noqa: E402


@pytest.fixture
def client():
    with Client(app) as c:
        yield c


def test_typed_post_and_response_model(client):
    r = client.post("/users", json={"name": "ann", "age": 3, "password": "hunter2hunter2"})
    assert r.status_code == 200
    assert r.json() == {"id": 1, "name": "ann", "age": 3}
    assert b"hunter2" not in r.content
    assert r.headers["content-type"] == "application/json"


def test_validation_errors_are_422(client):
    r = client.post("/users", json={"name": "a", "age": -1})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} == {("body", "name"), ("body", "age")}
    assert client.post("/users", content=b"{bad").status_code == 400


def test_query_path_and_errors(client):
    assert client.get("/users/7", params={"verbose": "true"}).json() == {"id": 7, "verbose": True}
    assert client.get("/users/x").status_code == 422
    assert client.get("/nowhere").status_code == 404
    assert client.delete("/users/7").status_code == 405


def test_headers_and_client_address(client):
    r = client.get("/headers", headers={"X-Token": "t"})
    assert r.json() == {"x-token": "t", "client": ["testclient", 50000]}


def test_cookies_round_trip(client):
    assert client.get("/login").status_code == 200
    assert client.get("/me").json() == {"session": "abc123"}
    client.cookies.clear()
    client.cookies.set("session", "other")
    assert client.get("/me").json()["session"] == "other"


def test_redirects_followed(client):
    r = client.get("/redirect")
    assert r.status_code == 200 and r.json() == {"id": 5, "verbose": False}
    assert r.history[0].status_code == 307


def test_raw_body_and_gzip(client):
    body = bytes(range(256)) * 4
    assert client.post("/raw", content=body).content == body
    r = client.get("/big")
    assert r.headers["content-encoding"] == "gzip" and r.json()["rows"][99]["n"] == 99
    r = client.get("/big", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers


def test_cors_through_the_client(client):
    r = client.options("/users", headers={"Origin": "https://app.example",
                                          "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"


def test_server_exceptions_raised_by_default(client):
    with pytest.raises(KeyError, match="exploded on purpose"):
        client.get("/boom")
    assert client.get("/users/1").status_code == 200  # still usable afterwards


def test_server_exceptions_as_500_when_asked():
    with Client(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
        assert r.status_code == 500 and r.json()["detail"] == "Internal Server Error"
        assert r.headers["x-request-id"] == r.json()["request_id"]


def test_lifespan_hooks():
    client_app.EVENTS.clear()
    with Client(app) as c:
        assert client_app.EVENTS == ["startup"]
        c.get("/users/1")
    if hasattr(app, "on_shutdown"):
        assert client_app.EVENTS == ["startup", "shutdown"]
    client_app.EVENTS.clear()
    c = Client(app)  # without `with`: no hooks, requests still answered
    assert c.get("/users/2").json()["id"] == 2
    assert client_app.EVENTS == []


def test_plain_httpx_client_with_the_transport():
    with httpx.Client(transport=Transport(app), base_url="http://testserver") as c:
        r = c.post("/users", json={"name": "bob", "age": 40})
        assert r.json() == {"id": 1, "name": "bob", "age": 40}
        assert c.get("/big").json()["rows"][0] == {"n": 0, "text": "lorem ipsum"}


def test_wsgi_app_through_the_transport():
    def wsgi(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode(), b"|", environ["QUERY_STRING"].encode()]

    with Client(wsgi) as c:
        r = c.get("/a/b", params={"q": "1"})
        assert r.status_code == 200 and r.text == "/a/b|q=1"


def test_streamed_request_body_is_sent_whole(client):
    def gen():
        yield b"ab"
        yield b"cd"

    assert client.post("/raw", content=gen()).content == b"abcd"


def test_gzip_body_is_what_the_engine_wrote():
    t = Transport(app)
    req = httpx.Request("GET", "http://testserver/big", headers={"Accept-Encoding": "gzip"})
    resp = t.handle_request(req)
    raw = b"".join(resp.stream)
    assert gzip.decompress(raw).startswith(b'{"rows":')


@pytest.mark.parametrize("method,url,kw", [
    ("POST", "/users", {"json": {"name": "ann", "age": 3}}),
    ("POST", "/users", {"json": {"name": "a", "age": 3}}),
    ("GET", "/users/4", {"params": {"verbose": "1"}}),
    ("GET", "/big", {}),
    ("GET", "/big", {"headers": {"Accept-Encoding": "identity"}}),
    ("GET", "/headers", {"headers": {"X-Token": "z"}}),
    ("POST", "/raw", {"content": b"\x00\x01"}),
    ("GET", "/redirect", {}),
    ("GET", "/nowhere", {}),
])
def test_short_path_equals_httpx_path(method, url, kw):
    """Client's short path gives what the same request through httpx's full
    machinery and the Transport gives."""
    with Client(app) as fast, httpx.Client(transport=Transport(app), base_url="http://testserver",
                                           follow_redirects=True) as slow:
        a = fast.request(method, url, **kw)
        b = slow.request(method, url, **kw)
    assert type(a).__name__ == "_Response"  # it did take the short path
    assert isinstance(a, httpx.Response)
    assert (a.status_code, a.content, a.text, a.http_version, a.reason_phrase) == \
        (b.status_code, b.content, b.text, b.http_version, b.reason_phrase)
    drop = {"date"}
    assert [(k, v) for k, v in a.headers.items() if k not in drop] == \
        [(k, v) for k, v in b.headers.items() if k not in drop]
    assert a.request.method == b.request.method and a.url == b.url
    assert [r.status_code for r in a.history] == [r.status_code for r in b.history]
    assert a.is_success == b.is_success and a.elapsed.total_seconds() >= 0
    if a.is_error:
        with pytest.raises(httpx.HTTPStatusError):
            a.raise_for_status()


def test_short_path_keeps_client_headers_and_cookies():
    with Client(app, headers={"X-Token": "from-client"}) as c:
        assert c.get("/headers").json()["x-token"] == "from-client"
        assert c.get("/headers", headers={"x-token": "per-request"}).json()["x-token"] == \
            "per-request"
        c.headers["X-Token"] = "changed"
        assert c.get("/headers").json()["x-token"] == "changed"
        c.get("/login")  # Set-Cookie on the short path goes into the jar
        assert c.cookies.get("session") == "abc123"
        assert c.get("/me").json() == {"session": "abc123"}


import asyncio  # noqa: E402
import contextvars  # noqa: E402
import threading  # noqa: E402

import frostfork  # noqa: E402

_var = contextvars.ContextVar("v", default="unset")
async_app = frostfork.App()


class Conn:
    pass


async def open_conn() -> Conn:
    await asyncio.sleep(0)
    return Conn()


async_app.provide(Conn, open_conn)


@async_app.get("/slow/{n}")
async def slow(n: int, conn: Conn) -> dict:
    _var.set(f"req{n}")
    await asyncio.sleep(0.001)
    return {"n": n, "var": _var.get(), "conn": type(conn).__name__}


def test_async_handlers_that_suspend_are_answered_in_process():
    """A handler that awaits (a sleep, an async dependency) runs to its end on the
    client's own loop; the request's context variables stay with it."""
    with Client(async_app) as c:
        assert c.get("/slow/1").json() == {"n": 1, "var": "req1", "conn": "Conn"}
        assert c.get("/slow/2").json() == {"n": 2, "var": "req2", "conn": "Conn"}
    assert _var.get() == "unset"


def test_a_client_inside_a_running_loop_still_runs_handlers_that_suspend():
    """From an `async def` test (a running loop) the engine cannot run its own
    loop here: the call goes to the client's helper thread, through the short
    path and through httpx's own (an absolute URL), with the test's context."""
    _var.set("test")

    async def main() -> tuple[dict, dict, str]:
        with Client(async_app) as c:
            a = c.get("/slow/3").json()
            b = c.get("http://testserver/slow/4").json()
        return a, b, _var.get()

    assert asyncio.run(main()) == ({"n": 3, "var": "req3", "conn": "Conn"},
                                   {"n": 4, "var": "req4", "conn": "Conn"}, "test")
    _var.set("unset")


gate = threading.Event()


@async_app.get("/gate")
def gated() -> dict:
    return {"opened": gate.wait(10)}


@async_app.get("/fail")
async def fail() -> dict:
    await asyncio.sleep(0)
    raise LookupError("from the handler")


def test_async_client_answers_without_blocking_the_tests_loop():
    """`AsyncClient` in an async test: hooks run on enter and exit, handlers that
    suspend are answered, concurrent requests all come back, and while one is
    answered the test's own loop goes on (it opens the gate the handler waits on;
    a blocked loop would leave it shut until the handler's 10 s wait ends)."""
    gate.clear()
    client_app.EVENTS.clear()

    async def main() -> None:
        async with AsyncClient(app) as c:
            assert client_app.EVENTS == ["startup"]
            r = await c.post("/users", json={"name": "ann", "age": 3})
            assert r.status_code == 200 and r.json()["name"] == "ann"
        if hasattr(app, "on_shutdown"):
            assert client_app.EVENTS == ["startup", "shutdown"]
        async with AsyncClient(async_app) as c:
            rs = await asyncio.gather(*(c.get(f"/slow/{n}") for n in range(5)))
            assert [r.json()["n"] for r in rs] == list(range(5))
            pending = asyncio.ensure_future(c.get("/gate"))
            await asyncio.sleep(0)  # the request starts
            gate.set()
            assert (await pending).json() == {"opened": True}
            with pytest.raises(LookupError, match="from the handler"):
                await c.get("/fail")
        async with AsyncClient(async_app, raise_server_exceptions=False) as c:
            assert (await c.get("/fail")).status_code == 500

    asyncio.run(main())
