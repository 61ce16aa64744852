"""WSGI applications served by tests/wsgi/test_wsgi.py (`serve("wsgi_apps:NAME", "--wsgi")`).

Every plain PEP 3333 app is wrapped in `wsgiref.validate.validator`, which
checks both sides of the interface: a server that hands the app a bad environ
or misuses the iterable makes the validator raise AssertionError, which the
server turns into a 500, so a test that asserts 200 also asserts "the
validator was happy". The apps that deliberately break the rules (response
splitting attempts, non-bytes bodies) are left unwrapped: the validator
would reject them itself before the server got to.

Apps that have to leave evidence behind (close() was called) write marker
files into the directory named by the FROSTFORK_TEST_MARKER_DIR environment
variable; the query string names the file.
"""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import parse_qs
from wsgiref.validate import validator

from flask import Flask, abort, jsonify, redirect, request, url_for

MARKER_DIR_ENV = "FROSTFORK_TEST_MARKER_DIR"


def _marker(environ, event: str) -> None:
    """Appends `event` to the marker file named by ?marker=NAME, if any."""
    directory = os.environ.get(MARKER_DIR_ENV)
    name = parse_qs(environ.get("QUERY_STRING", "")).get("marker", [""])[0]
    if not directory or not name or "/" in name or name.startswith("."):
        return
    with open(os.path.join(directory, name), "a", encoding="utf-8") as f:
        f.write(event + "\n")


def _read_body(environ) -> bytes:
    # The validator allows read() with exactly one argument: the server must
    # give a CONTENT_LENGTH for every body it hands over (also for chunked).
    n = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(n) if n > 0 else b""


# ---------------------------------------------------------------------------
# Plain, validated PEP 3333 apps
# ---------------------------------------------------------------------------

def _hello(environ, start_response):
    body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("X-App", "hello")])
    return [body]


hello = validator(_hello)


ECHO_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
             "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
             "REMOTE_PORT", "wsgi.url_scheme", "wsgi.multithread", "wsgi.multiprocess",
             "wsgi.run_once", "wsgi.input_terminated")


def _echo(environ, start_response):
    body = _read_body(environ)
    out = {k: environ[k] for k in ECHO_KEYS if k in environ}
    out["wsgi.version"] = list(environ["wsgi.version"])
    out["http"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    out["body"] = body.decode("latin-1")
    out["body_len"] = len(body)
    out["pid"] = os.getpid()
    # Non-dotted keys must be str (PEP 3333); report any that is not.
    out["non_str_keys"] = sorted(k for k, v in environ.items()
                                 if "." not in k and type(v) is not str)
    data = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]


echo = validator(_echo)


class _ClosingBody:
    """An iterable with close(), as PEP 3333 allows; records both events."""

    def __init__(self, environ, parts, fail_after=None):
        self.environ = environ
        self.parts = parts
        self.fail_after = fail_after

    def __iter__(self):
        for i, part in enumerate(self.parts):
            if self.fail_after is not None and i == self.fail_after:
                _marker(self.environ, "raising")
                raise RuntimeError("iterable exploded on purpose")
            yield part
        _marker(self.environ, "exhausted")

    def close(self):
        _marker(self.environ, "closed")


def _closing(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _ClosingBody(environ, [b"one ", b"two ", b"three"])


closing = validator(_closing)


def _generator(environ, start_response):
    """A generator app: start_response runs on the first next()."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        for i in range(5):
            yield b"chunk%d;" % i
    except GeneratorExit:
        _marker(environ, "generator-exit")
        raise
    finally:
        _marker(environ, "generator-finally")


generator = validator(_generator)


def _iter_raises(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _ClosingBody(environ, [b"first ", b"second ", b"never"], fail_after=2)


iter_raises = validator(_iter_raises)


def _legacy_write(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written-1 ")
    write(b"written-2 ")
    return [b"returned"]


legacy_write = validator(_legacy_write)


def _raises(environ, start_response):
    if "after_start" in environ.get("QUERY_STRING", ""):
        start_response("200 OK", [("Content-Type", "text/plain")])
    raise RuntimeError("wsgi app exploded on purpose")


raises = validator(_raises)


def _exc_info(environ, start_response):
    """The PEP 3333 error path: replace the status with exc_info before sending."""
    first = "first" in environ.get("QUERY_STRING", "")
    if not first:
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Stage", "first")])
    try:
        raise ValueError("something went wrong while rendering")
    except ValueError:
        start_response("500 Internal Server Error",
                       [("Content-Type", "text/plain"), ("X-Stage", "error")],
                       sys.exc_info())
    return [b"error page from the app"]


exc_info = validator(_exc_info)


def _head_aware(environ, start_response):
    """Returns no body for HEAD but declares the GET body's length."""
    body = b"x" * 1234
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


head_aware = validator(_head_aware)


def _wrong_length(environ, start_response):
    """Declares a Content-Length that disagrees with the body."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "999")])
    return [b"only eleven"]


wrong_length = validator(_wrong_length)


def _status(environ, start_response):
    code = int(environ["PATH_INFO"].strip("/") or "200")
    reasons = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified",
               404: "Not Found", 418: "I'm a teapot", 599: "Custom Reason"}
    headers = [] if code in (204, 304) else [("Content-Type", "text/plain")]
    start_response(f"{code} {reasons.get(code, 'Whatever')}", headers)
    return [] if code in (204, 304) else [b"status %d" % code]


status = validator(_status)


def _latin1_header(environ, start_response):
    # PEP 3333: header values are str holding only U+0000..U+00FF and are
    # sent as ISO-8859-1, one byte per character.
    value = "snow \u2603" if "snowman" in environ.get("QUERY_STRING", "") else "caf\xe9"
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Latin", value)])
    return [b"ok"]


latin1_header = validator(_latin1_header)


def _many_headers(environ, start_response):
    headers = [("Content-Type", "text/plain")]
    headers += [("Set-Cookie", f"c{i}={i}") for i in range(3)]
    start_response("200 OK", headers)
    return [b"cookies"]


many_headers = validator(_many_headers)


def _big(environ, start_response):
    n = int(parse_qs(environ.get("QUERY_STRING", "")).get("n", ["1000000"])[0])
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    # Many small pieces and one big one.
    return iter([b"a" * 1000] * (n // 2000) + [b"b" * (n - 1000 * (n // 2000))])


big = validator(_big)


# ---------------------------------------------------------------------------
# Apps that break the rules on purpose (not validated: the validator would
# reject them before the server could show what it does)
# ---------------------------------------------------------------------------

def header_injection(environ, start_response):
    """Tries to split the response through a header value, name or status."""
    how = environ.get("QUERY_STRING", "")
    status = "200 OK"
    headers = [("Content-Type", "text/plain")]
    if how == "crlf-value":
        headers.append(("X-Evil", "a\r\nInjected: yes"))
    elif how == "lf-value":
        headers.append(("X-Evil", "a\nInjected: yes"))
    elif how == "cr-value":
        headers.append(("X-Evil", "a\rInjected: yes"))
    elif how == "nul-value":
        headers.append(("X-Evil", "a\x00b"))
    elif how == "crlf-name":
        headers.append(("X-Evil\r\nInjected", "yes"))
    elif how == "colon-name":
        headers.append(("Injected: yes\r\nX", "1"))
    elif how == "crlf-status":
        status = "200 OK\r\nInjected: yes"
    elif how == "lf-status":
        status = "200 OK\nInjected: yes"
    elif how == "body-split":
        headers.append(("X-Evil", "a\r\n\r\nHTTP/1.1 200 OK\r\nInjected: yes\r\n\r\n"))
    start_response(status, headers)
    return [b"safe body"]


def non_bytes_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["a str is not a bytestring"]


def no_start_response(environ, start_response):
    return [b"forgot to call start_response"]


def double_start(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("201 Created", [("Content-Type", "text/plain")])  # no exc_info: an error
    return [b"twice"]


def bad_status(environ, start_response):
    start_response("OK 200", [("Content-Type", "text/plain")])
    return [b"bad"]


# ---------------------------------------------------------------------------
# A real Flask application
# ---------------------------------------------------------------------------

flask_app = Flask("frostfork_test_flask")


@flask_app.get("/api/hello")
def flask_hello():
    return jsonify(message="Hello from Flask", unicode="h\u00e9llo \u2603")


@flask_app.get("/api/items/<int:item_id>")
def flask_item(item_id: int):
    return {"id": item_id, "type": type(item_id).__name__}


@flask_app.post("/api/echo")
def flask_echo():
    data = request.get_json()
    return jsonify(received=data, content_type=request.content_type), 201


@flask_app.get("/api/forbidden")
def flask_forbidden():
    abort(403)


@flask_app.get("/api/redirect")
def flask_redirect():
    return redirect(url_for("flask_hello"))


@flask_app.get("/api/search")
def flask_search():
    return {"q": request.args.get("q"), "tags": request.args.getlist("tag"),
            "path": request.path, "ua": request.headers.get("User-Agent")}


@flask_app.get("/api/crash")
def flask_crash():
    raise RuntimeError("flask view exploded on purpose")


@flask_app.get("/api/created")
def flask_created():
    return "", 204
