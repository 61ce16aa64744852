"""Typed handlers end to end: binding plans, C validation, 422 shapes, dependencies."""

import json

import httpx
import pytest

from conftest import raw, wait_until

GOOD = {"name": "alice", "password": "correct horse battery", "age": 30,
        "addresses": [{"city": "Oslo", "zip": "01234"}]}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from conftest import Server
    log = tmp_path_factory.mktemp("close") / "closed.log"
    s = Server("typed_app:app", "--workers", "1", env={"FF_CLOSE_LOG": str(log)})
    s.close_log = log
    yield s
    s.stop()
    s.check_clean()


def call(srv, method, path, **kw):
    return httpx.request(method, f"http://127.0.0.1:{srv.port}{path}", timeout=10, **kw)


def test_valid_body_is_decoded_into_the_model(srv):
    r = call(srv, "POST", "/users", json=GOOD, headers={"X-Request-Id": "r1"})
    assert r.status_code == 200
    assert r.json() == {"name": "alice", "age": 30, "role": "user", "cities": ["Oslo"], "db": "r1"}


def test_sensitive_field_is_write_only(srv):
    r = call(srv, "POST", "/users/echo", json=GOOD)
    assert r.status_code == 200
    body = r.json()
    assert "password" not in body and body["name"] == "alice"


def test_every_error_is_listed_and_secrets_are_not_echoed(srv):
    bad = {"name": "Al!", "password": "tiny-pw-9", "age": 200, "role": "root",
           "addresses": [{"city": "", "zip": "12"}, {"zip": "99999"}]}
    r = call(srv, "POST", "/users", json=bad)
    assert r.status_code == 422
    errors = {tuple(e["loc"]): e for e in r.json()["detail"]}
    assert set(errors) == {
        ("body", "name"), ("body", "password"), ("body", "age"), ("body", "role"),
        ("body", "addresses", 0, "city"), ("body", "addresses", 0, "zip"),
        ("body", "addresses", 1, "city")}
    assert errors[("body", "name")]["type"] == "string_pattern_mismatch"
    assert errors[("body", "name")]["input"] == "Al!"
    assert errors[("body", "age")] == {"type": "less_than_equal", "loc": ["body", "age"],
                                       "msg": "Input should be less than or equal to 150",
                                       "input": 200}
    assert errors[("body", "password")]["type"] == "string_too_short"
    assert "input" not in errors[("body", "password")]
    assert "tiny-pw-9" not in r.text
    assert errors[("body", "addresses", 1, "city")]["type"] == "missing"


@pytest.mark.parametrize("body,fragment", [
    (b'{"name": "alice",}', "trailing comma"),
    (b'{"age": NaN}', "invalid number"),
    (b'{"name": "\\ud800"}', "lone surrogate"),
    (b'{"name": "a", "name": "b"}', "duplicate key"),
    (b"[" * 200 + b"]" * 200, "nesting too deep"),
    (b'{"name": "al', "unterminated string"),
    (b'{"name": "x"} extra', "extra data"),
    (b'{"name": "\xff"}', "invalid UTF-8"),
])
def test_invalid_json_is_400(srv, body, fragment):
    r = call(srv, "POST", "/users", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert fragment in r.json()["detail"]


def test_missing_body_is_422(srv):
    r = call(srv, "POST", "/users")
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "missing", "loc": ["body"], "msg": "Field required"}]


def test_model_forbids_extra_keys_and_round_trips(srv):
    r = call(srv, "POST", "/items", json={"title": "t", "price": 1.5, "tags": ["x"]})
    assert r.json() == {"title": "t", "price": 1.5, "tags": ["x"]}
    r = call(srv, "POST", "/items", json={"title": "t", "price": 1, "color": "red"})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "extra_forbidden", "loc": ["body", "color"],
                                   "msg": "Extra inputs are not permitted", "input": "red"}]


def test_several_body_parameters_are_embedded(srv):
    r = call(srv, "POST", "/pair", json={"item": {"title": "t", "price": 0}, "note": {"a": 1}})
    assert r.json() == {"title": "t", "note": {"a": 1}, "flag": False}
    r = call(srv, "POST", "/pair", json={"note": {"a": "x"}})
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["detail"]]
    assert ["body", "note", "a"] in locs and ["body", "item"] in locs


def test_query_parameters(srv):
    r = call(srv, "GET", "/search?q=hi&page=3&tag=a&tag=b%20c&role=admin&exact=yes")
    assert r.json() == {"q": "hi", "page": 3, "tags": ["a", "b c"], "role": "admin", "exact": True}
    r = call(srv, "GET", "/search?q=hi")
    assert r.json() == {"q": "hi", "page": 1, "tags": [], "role": None, "exact": False}
    r = call(srv, "GET", "/search?page=0&role=boss")
    assert r.status_code == 422
    errors = {tuple(e["loc"]): e["type"] for e in r.json()["detail"]}
    assert errors == {("query", "q"): "missing", ("query", "page"): "greater_than_equal",
                      ("query", "role"): "enum"}


@pytest.mark.parametrize("word, value", [
    ("true", True), ("1", True), ("yes", True), ("on", True), ("t", True), ("y", True),
    ("TRUE", True), ("Yes", True), ("oN", True), ("false", False), ("0", False), ("no", False),
    ("off", False), ("f", False), ("n", False), ("FALSE", False), ("Off", False),
    ("", None), ("tru", None), ("truee", None), ("yes%00", None), ("2", None), ("%C4%B0", None),
    ("n%C3%B6", None), ("%EF%BD%99es", None)])
def test_boolean_query_words(srv, word, value):
    """pydantic's words in any ASCII case; anything else is bool_parsing."""
    r = call(srv, "GET", f"/search?q=hi&exact={word}")
    if value is None:
        assert r.status_code == 422, r.text
        assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [
            (["query", "exact"], "bool_parsing")]
    else:
        assert r.status_code == 200 and r.json()["exact"] is value


def test_headers_and_cookies(srv):
    r = call(srv, "GET", "/whoami", headers={"User-Agent": "probe/1", "Cookie": "a=1; session=s3",
                                             "X-Trace": "12345678-1234-5678-1234-567812345678"})
    assert r.json() == {"agent": "probe/1", "session": "s3",
                        "trace": "12345678-1234-5678-1234-567812345678"}
    data = raw(srv.port, b"GET /whoami HTTP/1.1\r\nHost: t\r\nX-Trace: nope\r\nConnection: close\r\n\r\n")
    status = int(data.split(b" ")[1])
    detail = json.loads(data.split(b"\r\n\r\n", 1)[1])["detail"]
    assert status == 422
    assert {tuple(e["loc"]) for e in detail} == {("header", "user-agent"), ("header", "x-trace")}


def test_path_constraints_and_dependency_scopes(srv):
    a = call(srv, "GET", "/items/5", headers={"X-Request-Id": "a"}).json()
    b = call(srv, "GET", "/items/6", headers={"X-Request-Id": "b"}).json()
    assert (a["id"], a["db"], b["db"]) == (5, "a", "b")
    assert a["settings"] == b["settings"] == 1  # app scope: made once per worker
    r = call(srv, "GET", "/items/0")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "item_id"]


def test_request_scoped_dependency_is_closed_even_when_the_handler_raises(srv):
    assert call(srv, "GET", "/items/1", headers={"X-Request-Id": "ok-1"}).status_code == 200
    assert call(srv, "GET", "/fail/x", headers={"X-Request-Id": "boom-1"}).status_code == 500
    # closed once the response is out: just after
    wait_until(lambda: "closed boom-1" in srv.close_log.read_text(), 5, what="boom-1 closed")
    log = srv.close_log.read_text()
    assert "closed ok-1" in log and "closed boom-1" in log


def test_typeddict_body(srv):
    assert call(srv, "POST", "/filter", json={"kind": "a"}).json() == {"kind": "a"}
    r = call(srv, "POST", "/filter", json={"kind": "c", "limit": "x"})
    assert {e["type"] for e in r.json()["detail"]} == {"literal_error", "int_type"}


def test_openapi_document_is_served_and_valid(srv):
    from openapi_spec_validator import validate
    doc = call(srv, "GET", "/openapi.json").json()
    validate(doc)
    assert doc["info"] == {"title": "typed test app", "version": "1.2.3"}
    op = doc["paths"]["/users"]["post"]
    assert op["summary"] == "Create a user."
    schemas = doc["components"]["schemas"]
    pw = schemas["NewUser"]["properties"]["password"]
    assert pw["writeOnly"] is True and pw["format"] == "password" and pw["minLength"] == 12
    params = {p["name"]: p for p in doc["paths"]["/search"]["get"]["parameters"]}
    assert params["q"]["required"] is True and params["page"]["schema"]["minimum"] == 1


def test_dataclass_post_init_runs_and_its_value_error_is_a_422(srv):
    r = call(srv, "POST", "/bookings", json=[{"first_night": 3, "last_night": 5}])
    assert r.status_code == 200 and r.json() == {"nights": [3]}
    bad = [{"first_night": 3, "last_night": 1}, {"first_night": 1, "last_night": 2},
           {"first_night": 9, "last_night": 8}, {"first_night": "x", "last_night": 1}]
    r = call(srv, "POST", "/bookings", json=bad)
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
        ("value_error", ["body", 0]), ("value_error", ["body", 2]),
        ("int_type", ["body", 3, "first_night"])]
    assert r.json()["detail"][0]["msg"] == "Value error, last_night is before first_night"
    pid = srv.workers()
    r = call(srv, "POST", "/bookings", json=[{"first_night": 0, "last_night": 1}])
    assert r.status_code == 500  # any other exception is the app's fault
    assert srv.workers() == pid
    assert call(srv, "POST", "/bookings", json=[]).json() == {"nights": []}
