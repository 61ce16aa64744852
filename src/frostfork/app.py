"""The App: route decorators, dependency providers and startup hooks.

Everything here runs once, in the master, before the heap is frozen: each
handler's signature is compiled into a binding plan (frostfork.binding) that
the C dispatcher follows for every request.
"""

from __future__ import annotations

import inspect
import os
import re
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from frostfork import _core
from frostfork.binding import BindingError, Bound, Provider, plan_for
from frostfork.openapi import RouteDoc, openapi_document
from frostfork.schema import SchemaError, node_for

F = TypeVar("F", bound=Callable[..., Any])

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RouteError(ValueError):
    """A route or handler that cannot be served, found at registration."""


class App:
    """A set of routes plus the hooks that run in the master before forking."""

    def __init__(self, *, title: str = "frostfork app", version: str = "0.1.0",
                 openapi_url: str | None = "/openapi.json", access_log: Any = None,
                 access_format: str = "json", audit: Any = None,
                 mask: typing.Iterable[str] = ()) -> None:
        """access_log / audit: DataSinks (see frostfork.sinks); access_format: "json" lines or
        "common" (CLF); mask: more header/query names to mask in logs, on top of Authorization,
        Cookie, Set-Cookie and names containing password, token, secret or api-key."""
        self.state = types.SimpleNamespace()
        if access_format not in ("json", "common"):
            raise ValueError(f"access_format must be 'json' or 'common', not {access_format!r}")
        self.access_log = _core.check_sink(access_log, "access_log") if access_log else None
        self.access_format = access_format
        self.audit = _core.check_sink(audit, "audit") if audit else None
        self.mask = tuple(m.lower() for m in mask)
        self.title = title
        self.version = version
        self.openapi_url = openapi_url
        self._routes: list[tuple[str, str, Callable[..., Any]]] = []
        self._startup: list[Callable[[], Any]] = []
        self._providers: dict[Any, Provider] = {}
        self._statics: list[tuple[str, str, bytes, bool]] = []

    # -- registration ------------------------------------------------------

    def route(self, path: str, methods: typing.Iterable[str] = ("GET",)) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):
                raise RouteError(f"{path}: {fn.__qualname__} is async; frostfork handlers are "
                                 f"plain functions (each worker runs one request at a time)")
            for method in methods:
                method = method.upper()
                if method not in METHODS:
                    raise RouteError(f"{method} {path}: unsupported method")
                if not path.startswith("/"):
                    raise RouteError(f"{method} {path}: path must start with '/'")
                self._routes.append((method, path, fn))
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

    def provide(self, tp: Any, factory: Callable[..., Any] | None = None, *,
                scope: str = "request") -> None:
        """Make `tp` injectable: a handler parameter annotated `tp` gets factory()'s result.

        scope="request": made once per request, closed (if it has close()) after the
        response is written, also when the handler raised. scope="app": made once per
        worker, on first use. The factory may itself ask for parameters and dependencies.
        """
        if scope not in ("request", "app"):
            raise ValueError(f"scope must be 'request' or 'app', not {scope!r}")
        self._providers[tp] = Provider(factory or tp, scope)

    def static(self, prefix: str, directory: str | os.PathLike[str], *,
               precompressed: bool = True) -> None:
        """Serve the files below `directory` under the URL `prefix`, from C: GET and
        HEAD, ETag/Last-Modified (304), Range (206/416), sendfile. A path with a "."
        or ".." segment, a hidden name, a backslash or a NUL is a 404, and the file
        is opened with openat2(RESOLVE_BENEATH), so no symlink leads out of the
        folder. precompressed: a client that accepts gzip gets `name.gz` when it
        exists (Content-Encoding: gzip, Vary: Accept-Encoding)."""
        if not prefix.startswith("/") or prefix.rstrip("/") == "":
            raise RouteError(f"static {prefix!r}: the prefix must start with '/' and not be '/'")
        path = os.fsencode(os.path.abspath(directory))
        if not os.path.isdir(path):
            raise RouteError(f"static {prefix!r}: {os.fsdecode(path)} is not a directory")
        self._statics.append(("STATIC", prefix.rstrip("/"), path, precompressed))

    def on_startup(self, fn: F) -> F:
        """Run fn in the master after import and before gc.freeze() and fork."""
        self._startup.append(fn)
        return fn

    # -- used by the CLI ----------------------------------------------------

    def run_startup(self) -> None:
        for fn in self._startup:
            fn()

    def _compile(self) -> list[tuple[Any, ...]]:
        """The route table for the C core: (method, pattern, plan, param_names) per route."""
        for prov in self._providers.values():
            prov.plans.clear()  # re-plan: providers may have been added since
        table: list[tuple[Any, ...]] = []
        docs: list[RouteDoc] = []
        for method, path, fn in self._routes:
            names = tuple(_PARAM.findall(path))
            label = f"{method} {path}"
            if len(set(names)) != len(names):
                raise RouteError(f"{label}: duplicate path parameter")
            try:
                bound = plan_for(fn, label=label, path_names=names, providers=self._providers)
            except (BindingError, SchemaError) as e:
                raise RouteError(str(e)) from None
            read = {d.name for d in bound.params if d.location == "path"}
            missing = [n for n in names if n not in read]
            if missing:
                raise RouteError(f"{label}: neither the handler nor its dependencies take path "
                                 f"parameter {missing[0]!r}")
            table.append((method, path, bound.plan, names))
            docs.append(_doc(method, path, fn, bound))
        if self.openapi_url and not any(p == self.openapi_url for _, p, _ in self._routes):
            document = _core.json_encode(openapi_document(self.title, self.version, docs))
            serve_doc = _constant(_core.Response(200, document,
                                                 {"Content-Type": "application/json"}))
            plan = plan_for(serve_doc, label=f"GET {self.openapi_url}").plan
            table.append(("GET", self.openapi_url, plan, ()))
        table.extend(self._statics)
        return table

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this app (what GET /openapi.json serves)."""
        docs = []
        for prov in self._providers.values():
            prov.plans.clear()
        for method, path, fn in self._routes:
            names = tuple(_PARAM.findall(path))
            label = f"{method} {path}"
            try:
                bound = plan_for(fn, label=label, path_names=names, providers=self._providers)
            except (BindingError, SchemaError) as e:
                raise RouteError(str(e)) from None
            docs.append(_doc(method, path, fn, bound))
        return openapi_document(self.title, self.version, docs)


def _constant(value: Any) -> Callable[[], Any]:
    def openapi_json() -> Any:
        return value
    return openapi_json


def _doc(method: str, path: str, fn: Callable[..., Any], bound: Bound) -> RouteDoc:
    doc = inspect.getdoc(fn) or ""
    summary, _, description = doc.partition("\n\n")
    hints = typing.get_type_hints(fn, include_extras=True)
    ret = hints.get("return")
    response = None
    if ret is not None and ret is not type(None):
        try:
            response = node_for(ret)
        except SchemaError:
            response = None  # e.g. -> Response: nothing to document
    name = getattr(fn, "__name__", "handler")
    return RouteDoc(method=method, path=path, operation_id=f"{name}_{method.lower()}",
                    summary=summary or None, description=description or None,
                    params=bound.params, body=bound.body, body_required=bound.body_required,
                    response=response)
