"""Generator (yield) dependencies finish after the response is written and
see the handler's exception; route and router dependencies=[...] run for
their side effects (over real sockets)."""

from __future__ import annotations

from conftest import wait_until
from framework_support import events, framework  # noqa: F401 (fixtures)


def session_events(events, sid: str) -> list[str]:
    return [ln.split(" ", 1)[1].rsplit(" ", 1)[0] for ln in events.lines() if ln.endswith(sid)]


def test_yield_dependency_commits_after_the_response(framework, events):
    srv = framework()
    sid = srv.get("/session").json()["session"]
    wait_until(lambda: "session close" in session_events(events, sid), what="teardown")
    assert session_events(events, sid) == ["session open", "session commit", "session close"]


def test_yield_dependency_sees_the_handlers_exception(framework, events):
    srv = framework()
    assert srv.get("/session?fail=true").status_code == 500
    lines = events.wait("session close")
    sid = lines[0].rsplit(" ", 1)[1]
    assert session_events(events, sid) == ["session open", "session saw ValueError",
                                           "session close"]
    srv.wait_output("ValueError: handler failed")  # still logged as the 500's cause


def test_yield_dependency_sees_an_http_error_answered_as_such(framework, events):
    srv = framework()
    r = srv.get("/session-http-error")
    assert r.status_code == 404 and r.json() == {"detail": "gone"}
    lines = events.wait("session close")
    sid = lines[0].rsplit(" ", 1)[1]
    assert session_events(events, sid) == ["session open", "session saw HTTPError",
                                           "session close"]


def test_one_session_per_request_and_each_is_finished(framework, events):
    srv = framework()
    import httpx
    with httpx.Client(base_url=srv.url(), timeout=10) as c:
        ids = [c.get("/session").json()["session"] for _ in range(5)]
    assert len(set(ids)) == 5
    wait_until(lambda: len([ln for ln in events.lines() if "session close" in ln]) == 5,
               what="five teardowns")
    for sid in ids:
        assert session_events(events, sid)[-1] == "session close"


def test_side_effect_dependencies_of_router_and_route(framework, events):
    srv = framework()
    r = srv.get("/admin/panel")
    assert r.status_code == 403 and r.json() == {"detail": "admins only"}
    r = srv.get("/admin/panel", headers={"X-Role": "admin"})
    assert r.status_code == 200 and r.json() == {"panel": True}
    # the router's audit dependency ran for both, before the route's check
    assert len(events.wait("audit /admin/panel")) == 2
