"""Testing an app in process: an httpx transport over the C request path.

    from frostfork.testing import Client

    def test_create():
        with Client(app) as client:              # startup and worker hooks run here
            r = client.post("/users", json={"name": "ann", "age": 3})
            assert r.status_code == 201 and r.json()["name"] == "ann"

`Client(app)` is an `httpx.Client`: get/post/put/..., json=, headers=, cookies=,
`.status_code`, `.json()` work as in httpx. Existing httpx-based tests can keep
their own client and take the transport alone:

    httpx.Client(transport=frostfork.testing.Transport(app), base_url="http://testserver")

Each request is serialized to HTTP/1.1 bytes and answered by
`frostfork._core.Engine`: the same C parser, router, binding plans, validation,
encoder and built-in middleware the server runs, without a socket or a fork.
The answers are the server's answers (tests/testing/ checks that).

Lifespan: entering the client (or the transport) runs the app's startup hooks,
then its worker-start hooks (as a worker does after fork); leaving it runs the
worker-stop and shutdown hooks. Used without `with`, no hooks run.

`raise_server_exceptions=True` (the default, as Starlette's TestClient): an
exception a handler raised is raised in the test instead of becoming the 500
a real client would get. Set it False to see the 500.
"""

from __future__ import annotations

from typing import Any

import httpx

from frostfork import _core
from frostfork.cors import middleware_config

__all__ = ["Client", "Transport"]

_HOOKS_ENTER = ("run_startup", "run_worker_start")
_HOOKS_EXIT = ("run_worker_stop", "run_shutdown")


class Transport(httpx.BaseTransport):
    """An httpx transport that answers requests with `app` in process."""

    def __init__(self, app: Any, *, raise_server_exceptions: bool = True,
                 client: tuple[str, int] = ("testclient", 50000),
                 forwarded_allow_ips: str | None = None) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.client = client
        self._forwarded = forwarded_allow_ips
        self._engine: Any = None
        self._entered = False

    # -- the engine ----------------------------------------------------------

    def _build(self) -> Any:
        """The C engine for the app's routes as they are now (after startup hooks)."""
        app = self.app
        middleware = middleware_config(app, self._forwarded)
        if hasattr(app, "_compile"):
            engine = _core.Engine(app._compile(), middleware=middleware)
        elif callable(app):
            engine = _core.Engine(wsgi_app=app, middleware=middleware)
        else:
            raise TypeError(f"{type(app).__name__} is neither a frostfork.App nor a WSGI app")
        self._engine = engine
        return engine

    # -- lifespan ------------------------------------------------------------

    def __enter__(self) -> Transport:
        if not self._entered:
            for name in _HOOKS_ENTER:
                hook = getattr(self.app, name, None)
                if hook is not None:
                    hook()
            self._entered = True
            self._build()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._entered:
            self._entered = False
            self._engine = None
            for name in _HOOKS_EXIT:
                hook = getattr(self.app, name, None)
                if hook is not None:
                    hook()

    # -- requests ------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        engine = self._engine or self._build()
        body = request.read()
        url = request.url
        target = url.raw_path or b"/"
        lines = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
        has_host = False
        for name, value in request.headers.raw:
            lowered = name.lower()
            if lowered in (b"content-length", b"transfer-encoding"):
                continue  # the body goes whole, with its exact length
            if lowered == b"host":
                has_host = True
            lines += (name, b": ", value, b"\r\n")
        if not has_host:
            lines += (b"Host: ", url.netloc or b"testserver", b"\r\n")
        if body or request.method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            lines += (b"Content-Length: ", str(len(body)).encode(), b"\r\n")
        lines += (b"\r\n", body)
        status, headers, content = engine.handle(
            b"".join(lines), client=self.client, raise_errors=self.raise_server_exceptions)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content),
                              request=request, extensions={"http_version": b"HTTP/1.1"})


class Client(httpx.Client):
    """An httpx.Client whose requests are answered by `app` in process (see the module)."""

    def __init__(self, app: Any, base_url: str = "http://testserver", *,
                 raise_server_exceptions: bool = True,
                 client: tuple[str, int] = ("testclient", 50000),
                 follow_redirects: bool = True, **kwargs: Any) -> None:
        self.app = app
        self.transport = Transport(app, raise_server_exceptions=raise_server_exceptions,
                                   client=client)
        super().__init__(transport=self.transport, base_url=base_url,
                         follow_redirects=follow_redirects, **kwargs)
