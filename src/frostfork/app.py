"""The App: route decorators and startup hooks.

Everything here runs once, in the master, before the heap is frozen: a
handler's signature is read at registration and compiled into a binding plan
the C dispatcher follows for every request.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from frostfork._core import Request

F = TypeVar("F", bound=Callable[..., Any])

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

# Binding kinds, mirrored by enum ff_arg_kind in server/worker.h.
ARG_PATH_STR, ARG_PATH_INT, ARG_PATH_FLOAT, ARG_REQUEST = range(4)

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RouteError(ValueError):
    """A route or handler that cannot be served, found at registration."""


class App:
    """A set of routes plus the hooks that run in the master before forking."""

    def __init__(self) -> None:
        self.state = types.SimpleNamespace()
        self._routes: list[tuple[str, str, Callable[..., Any]]] = []
        self._startup: list[Callable[[], Any]] = []

    # -- registration ------------------------------------------------------

    def route(self, path: str, methods: typing.Iterable[str] = ("GET",)) -> Callable[[F], F]:
        def register(fn: F) -> F:
            for method in methods:
                method = method.upper()
                if method not in METHODS:
                    raise RouteError(f"{method} {path}: unsupported method")
                self._routes.append((method, path, fn))
                _plan(method, path, fn)  # fail at import time, naming the handler
            return fn

        return register

    def get(self, path: str) -> Callable[[F], F]:
        return self.route(path, ("GET",))

    def post(self, path: str) -> Callable[[F], F]:
        return self.route(path, ("POST",))

    def put(self, path: str) -> Callable[[F], F]:
        return self.route(path, ("PUT",))

    def delete(self, path: str) -> Callable[[F], F]:
        return self.route(path, ("DELETE",))

    def patch(self, path: str) -> Callable[[F], F]:
        return self.route(path, ("PATCH",))

    def on_startup(self, fn: F) -> F:
        """Run fn in the master after import and before gc.freeze() and fork."""
        self._startup.append(fn)
        return fn

    # -- used by the CLI ----------------------------------------------------

    def run_startup(self) -> None:
        for fn in self._startup:
            fn()

    def _compile(self) -> list[tuple[Any, ...]]:
        """The route table for the C core: one tuple per (method, path)."""
        return [(m, p, fn, *_plan(m, p, fn)) for m, p, fn in self._routes]


def _plan(method: str, path: str, fn: Callable[..., Any]) -> tuple[tuple[str, ...], ...]:
    """Read a handler's signature once and decide where each argument comes from."""
    label = f"{method} {path} -> {getattr(fn, '__qualname__', fn)!r}"
    if not path.startswith("/"):
        raise RouteError(f"{label}: path must start with '/'")
    names = tuple(_PARAM.findall(path))
    if len(set(names)) != len(names):
        raise RouteError(f"{label}: duplicate path parameter")
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    arg_names: list[str] = []
    kinds: list[int] = []
    capture: list[int] = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = hints.get(p.name, p.annotation)
        if p.name in names:
            kind = {str: ARG_PATH_STR, int: ARG_PATH_INT, float: ARG_PATH_FLOAT,
                    inspect.Parameter.empty: ARG_PATH_STR}.get(ann)
            if kind is None:
                raise RouteError(f"{label}: path parameter {p.name!r} must be str, int or float")
            where = names.index(p.name)
        elif ann is Request or (p.name == "request" and ann is inspect.Parameter.empty):
            kind, where = ARG_REQUEST, -1
        elif p.default is not p.empty:
            continue
        else:
            raise RouteError(
                f"{label}: parameter {p.name!r} has no source "
                f"(path parameters are {list(names)}; or annotate it as frostfork.Request)")
        if p.kind is p.POSITIONAL_ONLY:
            raise RouteError(f"{label}: parameter {p.name!r} is positional-only")
        arg_names.append(p.name)
        kinds.append(kind)
        capture.append(where)
    return names, tuple(arg_names), tuple(kinds), tuple(capture)
