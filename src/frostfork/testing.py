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

In an `async def` test: `AsyncClient(app)` is an `httpx.AsyncClient` over the same
engine (`async with AsyncClient(app) as client: r = await client.get("/")`). A
request is answered on a helper thread, so `async def` handlers that suspend run
to their end there (on the engine's own loop) while the test's loop goes on. A
`Client` used from inside a running loop takes the same thread (and blocks that
loop until the answer is back, as Starlette's TestClient does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import datetime
import time
import urllib.parse
import zlib
from typing import Any

import httpx

from frostfork import _core
from frostfork.cors import middleware_config

__all__ = ["AsyncClient", "Client", "Transport"]

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
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None

    # -- the engine ----------------------------------------------------------

    def _build(self) -> Any:
        """The C engine for the app's routes as they are now (after startup hooks)."""
        app = self.app
        middleware = middleware_config(app, self._forwarded)
        if hasattr(app, "_compile"):
            routes = app._compile()
            runtime = app.runtime() if hasattr(app, "runtime") else None
            engine = _core.Engine(routes, runtime=runtime, middleware=middleware)
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
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._entered:
            self._entered = False
            self._engine = None
            for name in _HOOKS_EXIT:
                hook = getattr(self.app, name, None)
                if hook is not None:
                    hook()

    # -- requests ------------------------------------------------------------

    def _answer(self, raw: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The engine's answer to one request's bytes. From inside a running event
        loop the engine cannot run its own (a loop cannot be nested), so the call
        goes to this transport's helper thread, with the caller's context."""
        engine = self._engine or self._build()
        answer: tuple[int, list[tuple[bytes, bytes]], bytes]
        if asyncio._get_running_loop() is None:
            answer = engine.handle(raw, client=self.client,
                                   raise_errors=self.raise_server_exceptions)
        else:
            answer = self._in_thread(engine, raw).result()
        return answer

    def _in_thread(self, engine: Any, raw: bytes) -> concurrent.futures.Future[Any]:
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="frostfork-testclient")
        return self._thread.submit(contextvars.copy_context().run, engine.handle, raw,
                                   client=self.client, raise_errors=self.raise_server_exceptions)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        status, headers, content = self._answer(_request_bytes(request, request.read()))
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content),
                              request=request, extensions={"http_version": b"HTTP/1.1"})


class AsyncTransport(httpx.AsyncBaseTransport):
    """The async face of `Transport`: each request is answered on the transport's
    helper thread while the caller's loop goes on."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.sync = Transport(app, **kwargs)

    async def __aenter__(self) -> AsyncTransport:
        self.sync.__enter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self.sync.close()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t = self.sync
        raw = _request_bytes(request, await request.aread())
        status, headers, content = await asyncio.wrap_future(
            t._in_thread(t._engine or t._build(), raw))
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content),
                              request=request, extensions={"http_version": b"HTTP/1.1"})


class AsyncClient(httpx.AsyncClient):
    """An httpx.AsyncClient whose requests are answered by `app` in process, for
    `async def` tests (see the module). Entering it runs the app's startup and
    worker-start hooks, leaving it the stop hooks, as for `Client`."""

    def __init__(self, app: Any, base_url: str = "http://testserver", *,
                 raise_server_exceptions: bool = True,
                 client: tuple[str, int] = ("testclient", 50000),
                 follow_redirects: bool = True, **kwargs: Any) -> None:
        self.app = app
        self.transport = AsyncTransport(app, raise_server_exceptions=raise_server_exceptions,
                                        client=client)
        super().__init__(transport=self.transport, base_url=base_url,
                         follow_redirects=follow_redirects, **kwargs)


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """An httpx request as the HTTP/1.1 bytes a client would send, the body whole."""
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
    return b"".join(lines)


_DEFAULT = httpx.USE_CLIENT_DEFAULT
_FAST_KEYS = frozenset(("json", "content", "params", "headers"))
_REDIRECTS = frozenset((301, 302, 303, 307, 308))


class _Response(httpx.Response):
    """An httpx.Response made without httpx's per-response machinery: the body is
    already whole (and decoded); its Headers, and the request it answers, are built
    only when asked for (response.headers, response.request, .url, raise_for_status())."""

    _lazy: tuple[Any, ...] | None
    _raw_headers: list[tuple[bytes, bytes]] | None
    _headers: httpx.Headers | None = None
    # the same for every such response (instances only ever replace them)
    next_request: httpx.Request | None = None
    is_closed = True
    is_stream_consumed = True
    default_encoding = "utf-8"

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(self._raw_headers)
        return self._headers

    @headers.setter
    def headers(self, value: Any) -> None:
        self._headers = value

    @property
    def request(self) -> httpx.Request:
        if self._request is None and self._lazy is not None:
            client, method, url, kwargs = self._lazy
            self._request = client.build_request(method, url, **kwargs)
        return super().request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes, coding: bytes,
              lazy: tuple[Any, ...], elapsed: float) -> _Response:
    r = _Response.__new__(_Response)
    r.status_code = status
    r._raw_headers = headers
    r._request = None
    r._lazy = lazy
    r.extensions = {"http_version": b"HTTP/1.1"}
    r.history = []
    if coding and body:  # what httpx's decoders would have made of it
        if coding == b"gzip":
            body = zlib.decompress(body, 47)
        elif coding == b"deflate":
            body = zlib.decompress(body)
    r._content = body
    r.stream = httpx.ByteStream(body)
    r._num_bytes_downloaded = len(body)
    r._elapsed = datetime.timedelta(seconds=elapsed)
    return r


class Client(httpx.Client):
    """An httpx.Client whose requests are answered by `app` in process (see the module).

    Plain requests (a relative URL with json=, content=, params= and headers=, no
    auth, hooks or cookies in the jar) take a short path: the request bytes are
    written straight from the arguments and the client's default headers, and the
    answer becomes an httpx.Response without httpx's URL, request and stream
    objects; everything else goes through httpx as usual. Both reach the same
    engine, so the answers are the same."""

    def __init__(self, app: Any, base_url: str = "http://testserver", *,
                 raise_server_exceptions: bool = True,
                 client: tuple[str, int] = ("testclient", 50000),
                 follow_redirects: bool = True, **kwargs: Any) -> None:
        self.app = app
        self.transport = Transport(app, raise_server_exceptions=raise_server_exceptions,
                                   client=client)
        super().__init__(transport=self.transport, base_url=base_url,
                         follow_redirects=follow_redirects, **kwargs)
        self._host_line = b" HTTP/1.1\r\nHost: " + (self.base_url.netloc or b"testserver") + b"\r\n"
        self._defaults_of: list[Any] | None = None
        self._default_lines: tuple[list[tuple[bytes, bytes]], bytes] = ([], b"")
        self._prefix = self.base_url.raw_path.rstrip(b"/")

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:
        given = {}
        for k, v in kwargs.items():
            if v is not None and v is not _DEFAULT:
                if k not in _FAST_KEYS:
                    return super().request(method, url, **kwargs)
                given[k] = v
        jar = self._cookies.jar
        store: Any = getattr(jar, "_cookies", None)  # CookieJar's own dict: O(1) to test
        if (type(url) is not str or not url.startswith("/") or self._auth is not None
                or (store if store is not None else len(jar)) or self._event_hooks["request"]
                or self._event_hooks["response"] or self.transport._engine is None
                or type(given.get("content", b"")) is not bytes):
            return super().request(method, url, **kwargs)
        return self._fast(method.upper(), url, given)

    def _defaults(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The client's default headers as (lower-case name, line) pairs and as one
        block, remade only when client.headers changed."""
        items = self.headers._list
        if items != self._defaults_of:
            self._defaults_of = list(items)
            lines = [(lower, raw + b": " + value + b"\r\n") for raw, lower, value in items]
            self._default_lines = (lines, b"".join(line for _, line in lines))
        return self._default_lines

    def _fast(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        """One request written as bytes and answered by the engine (see the class)."""
        target = self._prefix + url.encode()
        params = kwargs.get("params")
        if params:
            query = urllib.parse.urlencode(params, doseq=True).encode()
            target += (b"&" if b"?" in target else b"?") + query
        body = b""
        extra: dict[bytes, bytes] = {}
        if "json" in kwargs:
            body = _core.json_encode(kwargs["json"])
            extra[b"content-type"] = b"application/json"
        elif "content" in kwargs:
            body = kwargs["content"]
        headers = kwargs.get("headers")
        if headers:
            for k, v in (headers.items() if hasattr(headers, "items") else headers):
                kb = k.encode("latin-1") if isinstance(k, str) else k
                extra[kb.lower()] = v.encode("latin-1") if isinstance(v, str) else v
        lines = [method.encode("ascii"), b" ", target, self._host_line]
        default_lines, default_block = self._defaults()
        if extra:
            lines += [line for lower, line in default_lines if lower not in extra]
            for name, value in extra.items():
                lines += (name, b": ", value, b"\r\n")
        else:
            lines.append(default_block)
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            lines.append(b"Content-Length: %d\r\n\r\n" % len(body))
        else:
            lines.append(b"\r\n")
        lines.append(body)
        start = time.perf_counter()
        status, rheaders, content = self.transport._answer(b"".join(lines))
        elapsed = time.perf_counter() - start
        coding = b""
        cookies = False
        for k, v in rheaders:
            if len(k) == 16 and k.lower() == b"content-encoding":
                coding = v.lower()
            elif len(k) == 10 and k.lower() == b"set-cookie":
                cookies = True
        response = _response(status, rheaders, content, coding, (self, method, url, kwargs),
                             elapsed)
        if cookies:
            self.cookies.extract_cookies(response)
        if status in _REDIRECTS and self.follow_redirects and "location" in response.headers:
            return self._follow(method, response, kwargs)
        return response

    def _follow(self, method: str, response: httpx.Response,
                kwargs: dict[str, Any]) -> httpx.Response:
        """httpx's redirect rules: 303 (and 301/302 after a POST) become a GET
        without a body; 307/308 repeat the request."""
        location = response.headers["location"]
        if response.status_code == 303 or (response.status_code in (301, 302)
                                           and method == "POST"):
            method, kwargs = "GET", {k: v for k, v in kwargs.items() if k == "headers"}
        if len(response.history) >= self.max_redirects:
            raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.",
                                         request=response.request)
        following = self.request(method, location, **kwargs)
        following.history = [response] + response.history + following.history
        return following
