"""async def handlers and async dependencies, served by a worker's event loop, over sockets."""

import json
import socket
import sys
import time

import httpx
import pytest

from conftest import ROOT, Closed, read_response, wait_until
from frostfork import _core
from frostfork.app import App, RouteError


def get(srv, path, **kw):
    return httpx.request(kw.pop("method", "GET"), srv.url(path), timeout=10, **kw)


def events(srv):
    return get(srv, "/events").json()


@pytest.fixture
def app(serve):
    return serve("async_app:app", "--workers", "1", "--timeout", "3", "--max-concurrency", "20")


def test_inline_and_suspended_answers(app):
    r = get(app, "/")
    assert (r.status_code, r.content) == (200, b'{"message":"Hello, World!"}')
    assert get(app, "/sleep?ms=5").json()["slept"] == 5
    assert get(app, "/yield0").text == "after a bare yield"
    r = get(app, "/response")
    assert (r.status_code, r.content, r.headers["x-made"]) == (201, b"made", "yes")
    assert get(app, "/sync").json() == {"sync": True}


def test_every_binding_source(app):
    r = get(app, "/items/g1?tag=z", method="POST", json={"name": "n", "qty": 2},
            headers={"X-Trace": "t1"})
    assert r.json() == {"group": "g1", "name": "n", "qty": 2, "tag": "z", "trace": "t1",
                        "path": "/items/g1"}
    r = get(app, "/items/g1", method="POST", json={"name": "n"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "qty"]
    r = get(app, "/items/g1", method="POST", content=b"{bad")
    assert r.status_code == 400


def test_exceptions_are_500_and_the_worker_lives(app):
    pid = get(app, "/sleep?ms=1").json()["pid"]
    for path in ("/fail", "/fail-inline"):
        r = get(app, path)
        assert r.status_code == 500
        assert r.json()["request_id"] == r.headers["x-request-id"]
    assert get(app, "/sleep?ms=1").json()["pid"] == pid
    out = app.output()
    assert "RuntimeError: async boom" in out and "RuntimeError: inline boom" in out


def test_cleanup_runs_after_the_task(app):
    assert get(app, "/cleanup").json() == {"ok": True}
    got = wait_until(lambda: (lambda e: e if "deferred after await" in e else None)(events(app)))
    # newest first, like every request's finalizers; the dependency's close() among them
    assert got[-3:] == ["deferred after await", "resource closed", "deferred before await"]


def test_context_vars_stay_with_their_request(app):
    assert get(app, "/ctx?v=a").json() == {"before": "unset", "after": "a"}
    assert get(app, "/ctx?v=b").json() == {"before": "unset", "after": "b"}


def test_async_dependencies_and_teardown_after_the_response(app):
    r = get(app, "/dep/7?user=bob", headers={"X-Db": "replica"})
    assert r.json() == {"item": 7, "db": "replica", "user": "bob", "same_conn": True,
                        "settings": "Settings"}
    got = wait_until(lambda: (lambda e: e if "conn closed replica" in e else None)(events(app)))
    assert got.index("conn opened replica for /dep/7") < got.index("handler 7") < \
        got.index("conn closed replica")
    get(app, "/dep/8")
    got = wait_until(lambda: (lambda e: e if "conn closed main" in e else None)(events(app)))
    assert got.count("settings made") == 1  # app scope: once per worker
    assert get(app, "/dep/x").status_code == 422


def test_many_requests_in_flight_on_one_worker(app):
    with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=30)) as c:
        import concurrent.futures as cf
        with cf.ThreadPoolExecutor(15) as ex:
            peaks = list(ex.map(lambda _: c.get(app.url("/inflight?ms=300")).json()["peak"],
                                range(15)))
    assert max(peaks) >= 10, peaks


def test_max_concurrency_answers_503(serve):
    srv = serve("async_app:app", "--workers", "1", "--max-concurrency", "2")
    held = []
    try:
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
            held.append(s)
        wait_until(lambda: get(srv, "/sleep?ms=1").status_code == 503, what="the cap")
        r = get(srv, "/sleep?ms=1")
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert get(srv, "/sync").status_code == 200  # sync handlers are not capped
    finally:
        for s in held:
            s.close()  # cancels their tasks
    wait_until(lambda: get(srv, "/sleep?ms=1").status_code == 200, what="the cap freed")


def test_a_client_that_leaves_cancels_its_task(app):
    s = socket.create_connection(("127.0.0.1", app.port), timeout=10)
    s.sendall(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_until(lambda: get(app, "/inflight?ms=1").status_code == 200)  # the worker is serving
    wait_until(lambda: "forever started" in events(app), what="the request reached its handler")
    s.close()
    got = wait_until(lambda: (lambda e: e if "forever deferred" in e else None)(events(app)))
    assert "forever cancelled" in got and "resource closed" in got


def test_timeout_cancels_with_504_and_keeps_the_worker(serve):
    srv = serve("async_app:app", "--workers", "1", "--timeout", "2")
    pid = get(srv, "/sleep?ms=1").json()["pid"]
    t0 = time.monotonic()
    r = get(srv, "/forever")
    assert r.status_code == 504
    assert time.monotonic() - t0 < 10
    got = wait_until(lambda: (lambda e: e if "forever deferred" in e else None)(events(srv)))
    assert "forever cancelled" in got
    assert get(srv, "/sleep?ms=1").json()["pid"] == pid
    assert "killing" not in srv.output()


def test_pipelined_requests_wait_for_the_task(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(b"GET /sleep?ms=50 HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /yield0 HTTP/1.1\r\nHost: t\r\n\r\n")
        bodies = [read_response(s).body for _ in range(3)]
    assert json.loads(bodies[0])["slept"] == 50
    assert bodies[1:] == [b'{"message":"Hello, World!"}', b"after a bare yield"]


def test_drain_lets_tasks_finish(serve):
    srv = serve("async_app:app", "--workers", "1")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /sleep?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_until(lambda: get(srv, "/inflight?ms=1").status_code == 200)
    wait_until(lambda: "sleep 3000 started" in events(srv), what="the request reached its handler")
    srv.signal(15)
    r = read_response(s, timeout=20)
    assert r.status == 200 and r.header("connection") == "close"
    with pytest.raises((Closed, ConnectionResetError, TimeoutError)):
        read_response(s, timeout=2)
    s.close()
    assert srv.wait_exit() == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_loop_choice(serve, loop):
    pytest.importorskip(loop)
    srv = serve("async_app:app", "--workers", "1", "--loop", loop)
    assert get(srv, "/loop").json()["loop"].split(".")[0] == loop


def test_an_all_sync_app_runs_no_loop(serve):
    srv = serve("native_basic:app", "--workers", "1", "--loop", "asyncio")
    assert get(srv, "/").status_code == 200


def test_registration_errors():
    app = App()

    class Dep:
        pass

    async def make() -> Dep:
        return Dep()

    app.provide(Dep, make)

    @app.get("/x")
    def plain(d: Dep) -> dict:
        return {}

    with pytest.raises(RouteError, match="cannot take the async dependency"):
        app._compile()


def test_engine_runs_async_handlers_to_their_end():
    """In process (the test client's engine) an async handler that suspends runs as a
    Task of the engine's own loop and is answered when it ends: awaits, async
    dependencies, exception handlers, an async generator body."""
    sys.path.insert(0, str(ROOT / "tests" / "apps"))
    import async_app
    app = async_app.app
    eng = _core.Engine(app._compile(), runtime=app.runtime())
    status, _, body = eng.handle(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, body) == (200, b'{"message":"Hello, World!"}')
    status, _, body = eng.handle(b"GET /sleep?ms=3 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, json.loads(body)["slept"]) == (200, 3)
    status, _, body = eng.handle(b"GET /task HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, json.loads(body)) == (200, {"task": True})
    status, _, body = eng.handle(b"GET /http-error?suspend=true HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, json.loads(body)) == (404, {"detail": "no such thing"})
    status, _, body = eng.handle(b"GET /astream?n=2&ms=1&tag=eng HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (status, body) == (200, b"item 0\nitem 1\n")
    assert "eng finally" in async_app.events


def test_inline_step_has_no_task_unless_asked(serve):
    srv = serve("async_app:app", "--workers", "1")
    assert get(srv, "/task").json() == {"task": False}  # answered inline: no Task was made
    srv2 = serve("async_app:app", "--workers", "1", "--no-inline-step")
    assert get(srv2, "/task").json() == {"task": True}
    assert get(srv2, "/sleep?ms=1").json()["slept"] == 1


# ---- bodies from a handler that suspended: async generators, files (issue 16) ----

def test_async_generator_streamed_after_the_handler_suspended(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(b"GET /astream?n=3&tag=ok HTTP/1.1\r\nHost: t\r\n\r\n")
        r = read_response(s)
        assert r.status == 200 and r.header("transfer-encoding") == "chunked"
        assert r.body == b"item 0\nitem 1\nitem 2\n"
        s.sendall(b"GET /astream-sized HTTP/1.1\r\nHost: t\r\n\r\n")  # the connection goes on
        r = read_response(s)
        assert r.status == 200 and r.header("content-length") == "8" and r.body == b"abcdefgh"
    wait_until(lambda: "ok finally" in events(app), 10, "the generator's finally")


def test_async_generator_closed_when_the_client_leaves(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(b"GET /astream?n=100000&ms=5&tag=gone HTTP/1.1\r\nHost: t\r\n\r\n")
        got = b""
        deadline = time.monotonic() + 10
        while b"item 3\n" not in got and time.monotonic() < deadline:
            got += s.recv(4096)
        assert b"item 3\n" in got
    wait_until(lambda: "gone finally" in events(app), 10, "the generator's finally")
    produced = sum(1 for e in events(app) if e.startswith("gone item"))
    assert produced < 100000


def test_file_response_after_the_handler_suspended(app):
    r = get(app, "/afile")
    assert r.status_code == 200
    assert r.content == (ROOT / "tests" / "apps" / "async_app.py").read_bytes()


@pytest.mark.parametrize("suspend", ["false", "true"])
def test_exceptions_go_through_the_exception_handlers(app, suspend):
    """HTTPError and a registered exception handler answer an async handler's exception,
    whether it raised in the first step or after it suspended (not a 500)."""
    r = get(app, f"/http-error?suspend={suspend}")
    assert (r.status_code, r.json()) == (404, {"detail": "no such thing"})
    r = get(app, f"/teapot?suspend={suspend}")
    assert (r.status_code, r.content) == (418, b"teapot at /teapot")
    assert get(app, "/").status_code == 200
