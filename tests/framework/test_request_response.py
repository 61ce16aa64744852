"""The Request surface (method, path, url, multi-valued query and headers,
cookies, client, state) and Response headers, cookies and subclasses, over
real sockets; MutableHeaders/Headers/QueryParams in-process."""

from __future__ import annotations

import httpx
import pytest

from conftest import SLOW, raw
from framework_support import events, framework  # noqa: F401 (fixtures)
from frostfork.datastructures import Headers, MutableHeaders, QueryParams


def test_request_surface(framework):
    srv = framework()
    r = raw(srv.port, b"GET /request/z%C3%BC?tag=a&tag=b%20c HTTP/1.1\r\nHost: example.test\r\n"
                      b"X-Multi: 1\r\nx-multi: 2\r\nCookie: a=1; b=2\r\nCookie: c=3\r\n"
                      b"Connection: close\r\n\r\n")
    import json
    body = json.loads(r.partition(b"\r\n\r\n")[2])
    assert body["method"] == "GET" and body["path"] == "/request/zü" and body["name"] == "zü"
    assert body["url"] == "http://example.test/request/z%C3%BC?tag=a&tag=b%20c"
    assert body["url_path"] == "/request/z%C3%BC"
    assert body["query"] == ["a", "b c"] and body["first"] == "a"
    assert body["x"] == "1, 2" and body["xs"] == ["1", "2"]
    assert body["cookies"] == {"a": "1", "b": "2", "c": "3"}
    assert body["client"][0] == "127.0.0.1" and isinstance(body["client"][1], int)
    assert body["state"] is True


def test_response_headers_cookies_and_subclasses(framework):
    srv = framework()
    r = srv.get("/cookies")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers.get_list("x-many") == ["1", "2"]
    cookies = r.headers.get_list("set-cookie")
    assert cookies[0] == "session=abc; Max-Age=60; Path=/; HttpOnly; SameSite=Lax"
    assert cookies[1].startswith("old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    r = srv.get("/json")
    assert (r.status_code, r.json(), r.headers["x-a"]) == (201, {"a": 1}, "1")
    assert r.headers.get_list("content-type") == ["application/json"]
    r = srv.get("/html")
    assert r.text == "<p>hi</p>" and r.headers["content-type"] == "text/html; charset=utf-8"
    r = srv.get("/text")
    assert r.status_code == 202 and r.text == "hi"
    r = httpx.get(srv.url("/redirect"), timeout=10 * SLOW)
    assert r.status_code == 307 and r.headers["location"] == "/html" and r.content == b""


def test_multi_mappings():
    h = Headers([("Content-Type", "a"), ("X-A", "1"), ("x-a", "2")])
    assert h["content-type"] == "a" and h["X-A"] == "1, 2" and h.getlist("x-a") == ["1", "2"]
    assert list(h) == ["content-type", "x-a"] and len(h) == 2 and "X-a" in h
    m = MutableHeaders({"A": "1"})
    m.append("b", "2")
    m.append("B", "3")
    m["a"] = "9"
    assert m.raw == [("b", "2"), ("b", "3"), ("a", "9")]
    del m["B"]
    assert m.raw == [("a", "9")]
    with pytest.raises(KeyError):
        del m["nope"]
    q = QueryParams("a=1&a=2&b=&c=%20x")
    assert q["a"] == "1" and q.getlist("a") == ["1", "2"] and q["b"] == "" and q["c"] == " x"


def test_response_api_refuses_header_injection():
    import frostfork
    r = frostfork.Response(200, {})
    with pytest.raises(ValueError):
        r.set_cookie("a", "b;c")
    with pytest.raises(ValueError):
        r.set_cookie("a b", "c")
    with pytest.raises(ValueError):
        frostfork.RedirectResponse("/x\r\nSet-Cookie: a=b")
    assert frostfork.Response(201).status_code == 201
