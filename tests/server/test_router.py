"""The C router on its own, through frostfork._core._match."""

import pytest

from frostfork import _core

ROUTES = [("GET", "/"), ("GET", "/users/{id}"), ("GET", "/users/me"), ("POST", "/users"),
          ("GET", "/users/{id}/posts/{post}"), ("DELETE", "/users/{id}"), ("GET", "/a/{x}/c"),
          ("GET", "/a/b/d"), ("GET", "/trailing/")]


@pytest.mark.parametrize("method,path,expected", [
    ("GET", "/", (0, ())),
    ("GET", "/users/42", (1, ("42",))),
    ("GET", "/users/me", (2, ())),
    ("POST", "/users", (3, ())),
    ("GET", "/users/7/posts/9", (4, ("7", "9"))),
    ("DELETE", "/users/7", (5, ("7",))),
    ("HEAD", "/users/7", (1, ("7",))),        # HEAD falls back to GET
    ("GET", "/a/b/c", (6, ("b",))),           # literal 'b' fails deeper, param backtracks
    ("GET", "/a/b/d", (7, ())),
    ("GET", "/trailing/", (8, ())),
    ("GET", "/trailing", ("404", None)),
    ("GET", "/users/", ("404", None)),        # an empty segment is not a parameter
    ("GET", "/nope", ("404", None)),
    ("GET", "", ("404", None)),
    ("PUT", "/users/1", ("405", ["GET", "HEAD", "DELETE"])),
    ("BREW", "/", ("405", ["GET", "HEAD"])),
])
def test_match(method, path, expected):
    assert _core._match(ROUTES, method, path) == expected


@pytest.mark.parametrize("pattern,msg", [
    ("users", "must start with '/'"),
    ("/u/{}", "malformed parameter"),
    ("/u/x{id}", "fill a whole segment"),
])
def test_bad_patterns(pattern, msg):
    with pytest.raises(ValueError, match=msg):
        _core._match([("GET", pattern)], "GET", "/")


def test_duplicate_route():
    with pytest.raises(ValueError, match="duplicate route GET /x"):
        _core._match([("GET", "/x"), ("GET", "/x")], "GET", "/x")


def test_registration_refuses_what_it_cannot_serve():
    """Mistakes a route decorator catches when the app module is imported."""
    import frostfork
    from frostfork.app import RouteError

    app = frostfork.App()
    with pytest.raises(RouteError, match=r"BREW /b: unsupported method"):
        app.route("/b", methods=["BREW"])(lambda: None)
    with pytest.raises(RouteError, match=r"GET c: path must start with '/'"):
        app.get("c")(lambda: None)
