"""HTTPError from any depth, exception handlers looked up by MRO, the 422
handler replaced, and what stays a 500 (over real sockets)."""

from __future__ import annotations

import httpx

from framework_support import events, framework  # noqa: F401 (fixtures)


def test_http_error_from_deep_code_and_from_a_dependency(framework):
    srv = framework()
    r = srv.get("/conflict")
    assert r.status_code == 409 and r.json() == {"detail": {"why": "taken"}}
    assert r.headers["x-conflict"] == "yes"
    r = srv.get("/teapot")
    assert r.status_code == 418 and r.json() == {"detail": "I'm a Teapot"}
    r = srv.get("/forbidden")  # raised by a provider's factory
    assert r.status_code == 403 and r.json() == {"detail": "from a dependency"}


def test_exception_handler_found_along_the_mro(framework):
    srv = framework()
    r = srv.get("/missing/bob")  # MissingUser -> the handler registered for Missing
    assert r.status_code == 404
    assert r.json() == {"missing": "bob", "path": "/missing/bob"}
    assert r.headers["x-handled"] == "1"


def test_the_422_handler_can_be_replaced(framework):
    srv = framework()
    r = srv.get("/typed?n=x")
    assert r.status_code == 400 and r.json() == {"errors": 1, "first": ["query", "n"]}
    assert srv.get("/typed?n=3").json() == {"n": 3}


def test_unhandled_and_handler_failures_are_500s_and_the_worker_lives(framework):
    srv = framework()
    pids = srv.wait_workers(1)
    for path in ("/boom", "/broken", "/boom"):
        r = srv.get(path)
        assert r.status_code == 500 and r.json()["request_id"] == r.headers["x-request-id"]
    out = srv.wait_output("RuntimeError: the handler itself fails")
    assert "ValueError: boom" in out
    assert srv.workers() == pids
    assert srv.get("/teapot").status_code == 418


def test_keep_alive_connection_survives_every_kind_of_error(framework):
    srv = framework()
    with httpx.Client(base_url=srv.url(), timeout=10) as c:
        got = [c.get(p).status_code for p in ("/conflict", "/boom", "/missing/x", "/typed?n=x",
                                              "/secure/key", "/teapot")]
    assert got == [409, 500, 404, 400, 401, 418]
