"""ASGI 3 hosting over sockets: the http scope and messages from the spec, bad app behaviour,
disconnects, backpressure, lifespan; Starlette and FastAPI apps against uvicorn."""

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import ROOT, SLOW, free_port, read_response, rss_kib, wait_until


def get(srv, path, **kw):
    return httpx.request(kw.pop("method", "GET"), srv.url(path), timeout=10, **kw)


@pytest.fixture
def raw_app(serve):
    return serve("asgi_apps:raw", "--workers", "1", "--root-path", "/api")


def test_scope_per_spec(raw_app):
    r = get(raw_app, "/echo?a=1&b=%20", headers={"X-Custom": "Value"})
    assert r.status_code == 200
    s = r.json()
    assert (s["method"], s["path"], s["raw_path"], s["query"]) == ("GET", "/echo", "/echo",
                                                                  "a=1&b=%20")
    assert (s["root_path"], s["http_version"], s["scheme"], s["asgi"]) == ("/api", "1.1", "http",
                                                                          "3.0")
    assert s["client"][0] == "127.0.0.1" and s["server"] == ["127.0.0.1", raw_app.port]
    assert ["x-custom", "Value"] in s["headers"] and s["types"] == ["bytes"]
    assert s["state"] == "resource"  # set by lifespan startup, copied into each scope


def test_request_body_streams_in_chunks(raw_app):
    body = b"x" * 200_000
    s = get(raw_app, "/echo", method="POST", content=body).json()
    assert s["body_len"] == 200_000 and s["chunks"] == 4  # 64 KiB each, more_body until the last
    # chunked transfer-encoding from the client too
    s = get(raw_app, "/echo", method="POST", content=iter([b"ab", b"cd"])).json()
    assert s["body_len"] == 4


def test_streamed_and_measured_responses(raw_app):
    r = get(raw_app, "/stream")
    assert r.headers["transfer-encoding"] == "chunked"
    assert r.text == "".join(f"part{i}\n" for i in range(5))
    r = get(raw_app, "/inline")
    assert (r.status_code, r.content, r.headers["content-length"], r.headers["x-inline"]) == \
        (201, b"made", "4", "yes")
    r = get(raw_app, "/inline", method="HEAD")
    assert r.status_code == 201 and r.content == b"" and r.headers["content-length"] == "4"


def test_http10_streaming_is_close_delimited(raw_app):
    with socket.create_connection(("127.0.0.1", raw_app.port), timeout=10) as s:
        s.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and body == b"".join(b"part%d\n" % i for i in range(5))


@pytest.mark.parametrize("path,why", [
    ("/twice", "http.response.start sent twice"),
    ("/body-first", "http.response.body before http.response.start"),
    ("/bad-header", "invalid ASGI header value"),
    ("/wrong-type", "needs an int status"),
    ("/nothing", "returned without sending"),
    ("/raise", "raw app boom"),
])
def test_bad_app_behaviour_is_500_and_the_worker_lives(raw_app, path, why):
    pid = get(raw_app, "/echo").json()["pid"]
    r = get(raw_app, path)
    assert r.status_code == 500
    assert "set-cookie" not in r.headers
    raw_app.wait_output(why)
    assert get(raw_app, "/echo").json()["pid"] == pid


def test_failure_mid_stream_ends_the_connection(raw_app):
    with socket.create_connection(("127.0.0.1", raw_app.port), timeout=10) as s:
        s.sendall(b"GET /raise-mid-stream HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b"partial" in data
    assert not data.endswith(b"0\r\n\r\n")  # no last chunk: the client sees it was cut off
    raw_app.wait_output("mid-stream boom")


def test_disconnect_reaches_the_app(raw_app):
    s = socket.create_connection(("127.0.0.1", raw_app.port), timeout=10)
    s.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: t\r\n\r\n")
    assert b"waiting" in s.recv(4096) or b"waiting" in s.recv(4096)
    s.close()
    raw_app.wait_output("[raw app] got http.disconnect")
    raw_app.wait_output("send after disconnect raised")
    assert get(raw_app, "/events").json() == ["http.disconnect"]


def test_backpressure_bounds_the_worker_memory(raw_app):
    """A 128 MiB response read slowly: send() waits for the socket, the worker's RSS does
    not grow by the response's size."""
    pid = get(raw_app, "/echo").json()["pid"]
    base = rss_kib(pid)
    with socket.create_connection(("127.0.0.1", raw_app.port), timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET /big?2048 HTTP/1.1\r\nHost: t\r\n\r\n")
        got, peak = 0, 0
        deadline = time.monotonic() + 120 * SLOW
        while got < 2048 * 65536 and time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
            if got % (16 << 20) < len(chunk):
                peak = max(peak, rss_kib(pid))
    assert got >= 2048 * 65536
    assert peak - base < 64 * 1024, (base, peak)  # KiB: far below the 128 MiB sent


def test_timeout_answers_504(serve):
    srv = serve("asgi_apps:raw", "--workers", "1", "--timeout", "2")
    t0 = time.monotonic()
    assert get(srv, "/sleep").status_code == 504
    assert time.monotonic() - t0 < 10 * SLOW
    assert get(srv, "/sleep?0.01").text == "slept"
    assert "killing" not in srv.output()


def test_max_concurrency(serve):
    srv = serve("asgi_apps:raw", "--workers", "1", "--max-concurrency", "1")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /sleep?5 HTTP/1.1\r\nHost: t\r\n\r\n")
    try:
        r = wait_until(lambda: (lambda r: r if r.status_code == 503 else None)(
            get(srv, "/echo")), what="503 at the cap")
        assert r.headers["retry-after"] == "1"
        assert read_response(s, timeout=20).body == b"slept"
    finally:
        s.close()
    assert get(srv, "/echo").status_code == 200


def test_lifespan_shutdown_runs_on_drain(serve):
    srv = serve("asgi_apps:raw", "--workers", "1")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /sleep?3 HTTP/1.1\r\nHost: t\r\n\r\n")
    srv.wait_output("[raw app] sleeping")  # the request is in flight (a drain lets it finish)
    srv.signal(15)
    assert read_response(s, timeout=20).body == b"slept"
    s.close()
    assert srv.wait_exit() == 0
    assert "[raw app] lifespan shutdown" in srv.output()


def test_lifespan_startup_failed_stops_the_server(serve):
    srv = serve("asgi_apps:failing_startup", "--workers", "2", wait=False)
    assert srv.wait_exit() == 1
    out = srv.output()
    assert "ASGI lifespan startup failed: database unreachable" in out
    assert "stopping" in out


def test_websocket_scope_the_app_fails_on_is_a_500(raw_app):
    """An app that does not speak the websocket scope raises on it: the
    handshake is answered 500 (not 101), and the worker lives on."""
    with socket.create_connection(("127.0.0.1", raw_app.port), timeout=10) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        r = read_response(s)
    assert r.status == 500
    assert get(raw_app, "/echo").status_code == 200


# ---- real apps, differential against uvicorn ----------------------------------------------

class Uvicorn:
    def __init__(self, target: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", target, "--port", str(self.port), "--host",
             "127.0.0.1", "--log-level", "warning", "--lifespan", "on"],
            cwd=ROOT / "tests" / "apps", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._up, timeout=60, what="uvicorn up")  # importing the app is slow

    def _up(self) -> bool:
        try:
            httpx.get(self.url("/"), timeout=1)
            return True
        except httpx.HTTPError:
            return False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


REQUESTS = {
    "asgi_starlette:starlette_app": [("GET", "/items/3?q=x", None), ("GET", "/items/abc", None),
                      ("POST", "/items", {"name": "a", "qty": 2}), ("GET", "/stream", None),
                      ("GET", "/fail", None), ("GET", "/nope", None), ("HEAD", "/items/3", None)],
    "asgi_fastapi:fastapi_app": [("GET", "/items/3?q=x", None), ("GET", "/items/abc", None),
                    ("POST", "/items", {"name": "a", "qty": 2}), ("POST", "/items", {"name": 1}),
                    ("GET", "/stream", None), ("GET", "/teapot", None), ("GET", "/sync", None),
                    ("GET", "/nope", None), ("GET", "/openapi.json", None)],
    "asgi_litestar:litestar_app": [("GET", "/items/3?q=x", None), ("GET", "/items/abc", None),
                     ("POST", "/items", {"name": "a", "qty": 2}), ("POST", "/items", {"name": 1}),
                     ("GET", "/stream", None), ("GET", "/teapot", None), ("GET", "/nope", None)],
}


@pytest.mark.parametrize("app_name", sorted(REQUESTS))
def test_same_answers_as_uvicorn(serve, app_name):
    ours = serve(app_name, "--workers", "1")
    ref = Uvicorn(app_name)
    try:
        for method, path, body in REQUESTS[app_name]:
            a = httpx.request(method, ours.url(path), json=body, timeout=10)
            b = httpx.request(method, ref.url(path), json=body, timeout=10)
            where = f"{method} {path}"
            assert a.status_code == b.status_code, where
            assert a.content == b.content, where
            for h in ("content-type", "content-length", "transfer-encoding"):
                assert a.headers.get(h) == b.headers.get(h), (where, h)
        # the background task ran after the response, on both
        for srv in (ours, ref):
            wait_until(lambda: any("background a" in e for e in
                                   httpx.get(srv.url("/events"), timeout=10).json()),
                       what=f"the background task under {srv}")
    finally:
        ref.stop()
    assert "startup" in ours.output()


def test_apps_are_imported_in_the_master(serve):
    srv = serve("asgi_apps:raw", "--workers", "2")
    seen = {get(srv, "/import-pid").json()["import_pid"] for _ in range(6)}
    assert seen == {srv.proc.pid}  # imported once, before the fork (then frozen)
