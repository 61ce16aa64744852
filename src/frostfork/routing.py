"""Routes, route options and routers.

    users = frostfork.Router(prefix="/users", tags=["users"], dependencies=[require_key])

    @users.post("", status_code=201, summary="Create a user")
    def create(user: NewUser) -> User: ...

    app.include(users, prefix="/v1")          # POST /v1/users

A Router holds routes and other routers; nothing is copied or compiled until
the app starts, when every route, whichever router it came from, is flattened
into one list (prefixes joined, tags and dependencies accumulated outermost
first) and compiled into the one C route trie. Two routes that would match the
same requests are an error at startup that names both handlers.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RouteError(ValueError):
    """A route or handler that cannot be served, found at registration."""


@dataclass(eq=False)
class Route:
    """One method + path and everything its decorator said about it.

    `response_model` is kept here for the response writer (the return
    annotation is used when it is None); the other options are documentation
    (OpenAPI) except status_code (the status of a plain return value) and
    dependencies (run before the handler, for their side effects)."""

    method: str
    path: str
    endpoint: Callable[..., Any]
    status_code: int | None = None
    tags: list[str] = field(default_factory=list)
    summary: str | None = None
    description: str | None = None
    deprecated: bool = False
    include_in_schema: bool = True
    responses: dict[int | str, Any] = field(default_factory=dict)
    operation_id: str | None = None
    response_model: Any = None
    dependencies: list[Any] = field(default_factory=list)
    websocket: bool = False  # an @app.websocket route: GET with Upgrade: websocket

    @property
    def name(self) -> str:
        """The handler as module.qualname, for error messages."""
        fn = self.endpoint
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


@dataclass
class _Mount:
    router: Router
    prefix: str
    tags: list[str]
    dependencies: list[Any]


def _check_prefix(prefix: str) -> str:
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise RouteError(f"prefix {prefix!r} must start with '/' and not end with '/'")
    return prefix


class Routes:
    """The route decorators, shared by App and Router."""

    def __init__(self, prefix: str = "", tags: Iterable[str] | None = None,
                 dependencies: Iterable[Any] | None = None) -> None:
        self.prefix = _check_prefix(prefix)
        self.tags = list(tags or ())
        self.dependencies = list(dependencies or ())
        # Route, _Mount, or a legacy (method, path, handler) tuple, in registration order
        self._routes: list[Any] = []

    def route(self, path: str, methods: Iterable[str] = ("GET",), *,
              status_code: int | None = None, tags: Iterable[str] | None = None,
              summary: str | None = None, description: str | None = None,
              deprecated: bool = False, include_in_schema: bool = True,
              responses: Mapping[int | str, Any] | None = None,
              operation_id: str | None = None, response_model: Any = None,
              dependencies: Iterable[Any] | None = None) -> Callable[[F], F]:
        """Registers the decorated function for `path` and each of `methods`.

        status_code: the status of a plain return value (a Response chooses its
        own); responses: {status: Model | {"description": ..., "model": Model}}
        for OpenAPI; dependencies: callables, provided types or security schemes
        run before the handler for their side effects (their values are dropped)."""
        if status_code is not None and not (isinstance(status_code, int)
                                            and 100 <= status_code <= 999):
            raise RouteError(f"{path}: status_code must be a 3-digit int, not {status_code!r}")
        if isinstance(methods, str):
            methods = (methods,)
        methods = tuple(m.upper() for m in methods)
        for method in methods:
            if method not in METHODS:
                raise RouteError(f"{method} {path}: unsupported method")
        if path and not path.startswith("/"):
            raise RouteError(f"{methods[0] if methods else 'GET'} {path}: path must start "
                             f"with '/'")
        options = dict(status_code=status_code, tags=list(tags or ()), summary=summary,
                       description=description, deprecated=deprecated,
                       include_in_schema=include_in_schema, responses=dict(responses or {}),
                       operation_id=operation_id, response_model=response_model,
                       dependencies=list(dependencies or ()))

        def register(fn: F) -> F:
            for method in methods:
                self._routes.append(Route(method, path, fn, **options))
            return fn

        return register

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("GET",), **options)

    def head(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("HEAD",), **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("PATCH",), **options)

    def websocket(self, path: str, *,
                  dependencies: Iterable[Any] | None = None) -> Callable[[F], F]:
        """Registers an `async def` WebSocket handler for `path`.

            @app.websocket("/ws/{room}")
            async def chat(ws: frostfork.WebSocket, room: str, token: str = ""):
                await ws.accept()
                async for message in ws:
                    await ws.send_text(message)

        Its parameters bind like an HTTP route's (path, query, headers, cookies,
        dependencies), plus the frostfork.WebSocket. A binding error refuses
        the handshake with the usual 4xx; a plain GET gets 426."""
        if path and not path.startswith("/"):
            raise RouteError(f"WEBSOCKET {path}: path must start with '/'")

        def register(fn: F) -> F:
            if not inspect.iscoroutinefunction(fn):
                raise RouteError(f"WEBSOCKET {path}: {getattr(fn, '__qualname__', fn)!r} must be "
                                 f"an async def")
            self._routes.append(Route("GET", path, fn, include_in_schema=False,
                                      dependencies=list(dependencies or ()), websocket=True))
            return fn

        return register

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("DELETE",), **options)

    def options(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route(path, ("OPTIONS",), **options)

    def include(self, router: Router, *, prefix: str = "", tags: Iterable[str] | None = None,
                dependencies: Iterable[Any] | None = None) -> None:
        """Mounts `router`'s routes (and the routers it includes) under `prefix`.
        Routes added to it later are included too: flattening happens at startup."""
        if not isinstance(router, Router):
            raise TypeError(f"include() takes a frostfork.Router, not {type(router).__name__}")
        if router is self:
            raise RouteError("a router cannot include itself")
        self._routes.append(_Mount(router, _check_prefix(prefix), list(tags or ()),
                                   list(dependencies or ())))

    def iter_routes(self) -> Iterator[Route]:
        """Every route with its full path, tags and dependencies (outermost first)."""
        yield from self._flatten(self.prefix, self.tags, self.dependencies, ())

    def _flatten(self, prefix: str, tags: list[str], deps: list[Any],
                 seen: tuple[int, ...]) -> Iterator[Route]:
        if id(self) in seen:
            raise RouteError("routers include each other in a cycle")
        seen = seen + (id(self),)
        for entry in self._routes:
            if isinstance(entry, tuple):  # (method, path, fn), the pre-Router form
                entry = Route(entry[0], entry[1], entry[2])
            if isinstance(entry, Route):
                yield replace(entry, path=prefix + entry.path,
                              tags=_unique(tags + entry.tags),
                              dependencies=deps + entry.dependencies)
            else:
                sub = entry.router
                yield from sub._flatten(prefix + entry.prefix + sub.prefix,
                                        _unique(tags + entry.tags + sub.tags),
                                        deps + entry.dependencies + sub.dependencies, seen)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


class Router(Routes):
    """A group of routes with a common prefix, tags and dependencies; mount it
    with app.include(router) (or router.include(other) to nest)."""

    def __init__(self, prefix: str = "", *, tags: Iterable[str] | None = None,
                 dependencies: Iterable[Any] | None = None) -> None:
        super().__init__(prefix, tags, dependencies)


def check_conflicts(routes: list[Route]) -> None:
    """Two routes conflict when they have the same method and the same path
    once parameter names are ignored (/a/{x} and /a/{y}): the trie could only
    keep one. The error names both handlers."""
    seen: dict[tuple[str, str], Route] = {}
    for r in routes:
        key = (r.method, _PARAM.sub("{}", r.path))
        if key in seen:
            other = seen[key]
            raise RouteError(f"{r.method} {r.path}: conflicts with {other.method} {other.path}; "
                             f"both {other.name} and {r.name} would answer it")
        seen[key] = r
