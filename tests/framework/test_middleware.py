"""@app.middleware: outermost first, call_next returns a Response the
middleware may change, errors inside become Responses, and a middleware that
raises is a 500 with the worker alive (over real sockets)."""

from __future__ import annotations

import httpx

from conftest import SLOW


def test_chain_order_and_headers(serve):
    srv = serve("middleware_app:app")
    r = httpx.post(srv.url("/things"), json={"name": "a"}, timeout=10 * SLOW)
    assert r.status_code == 201 and r.json() == {"name": "a"}
    assert r.headers["x-order"] == "outer,inner,handler"
    assert r.headers["x-inner-status"] == "201" and r.headers["x-outer"] == "1"


def test_error_responses_pass_through_the_middleware(serve):
    srv = serve("middleware_app:app")
    r = httpx.post(srv.url("/things"), content=b"{}", timeout=10 * SLOW)
    assert r.status_code == 422 and r.headers["x-inner-status"] == "422"
    assert r.json()["detail"][0]["loc"] == ["body", "name"]
    r = httpx.post(srv.url("/things"), content=b"{x", timeout=10 * SLOW)
    assert r.status_code == 400 and r.headers["x-outer"] == "1"
    r = srv.get("/http-error")
    assert r.status_code == 404 and r.json() == {"detail": "nope"}
    assert r.headers["x-inner-status"] == "404"


def test_short_circuit_and_failures(serve):
    srv = serve("middleware_app:app")
    assert srv.get("/short").json() == {"short": "circuit"}
    pids = srv.wait_workers(1)
    for path, cause in (("/fail", "ValueError: handler failed"),
                        ("/mw-raises", "RuntimeError: middleware failed"),
                        ("/twice", "RuntimeError: call_next may be called once per request")):
        r = srv.get(path)
        assert r.status_code == 500, path
        srv.wait_output(cause)
    assert srv.workers() == pids
    assert srv.get("/nowhere").status_code == 404  # unrouted paths never reach middleware
    assert srv.get("/short").status_code == 200
