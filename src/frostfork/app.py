"""The App: route decorators, dependency providers and startup hooks.

Everything here runs once, in the master, before the heap is frozen: each
handler's signature is compiled into a binding plan (frostfork.binding) that
the C dispatcher follows for every request.
"""

from __future__ import annotations

import functools
import inspect
import os
import types
import typing
from collections.abc import Callable
from typing import Any

from frostfork import _core
from frostfork.binding import BindingError, Bound, Provider, _name, plan_for
from frostfork.cors import CORS
from frostfork.docs import docs_routes
from frostfork.errors import HTTPError
from frostfork.openapi import RouteDoc, openapi_document
from frostfork.routing import (_PARAM, METHODS, F, Route, RouteError, Router, Routes,
                               check_conflicts)
from frostfork.schema import SchemaError, node_for

__all__ = ["App", "METHODS", "Route", "RouteError", "Router"]

ExceptionHandler = Callable[[Any, Any], Any]
Middleware = Callable[[Any, Callable[[Any], Any]], Any]


class App(Routes):
    """A set of routes (and routers) plus the hooks around the workers' lives."""

    def __init__(self, *, title: str = "frostfork app", version: str = "0.1.0",
                 openapi_url: str | None = "/openapi.json", docs_url: str | None = "/docs",
                 access_log: Any = None, access_format: str = "json", audit: Any = None,
                 mask: typing.Iterable[str] = (),
                 dependencies: typing.Iterable[Any] | None = None, cors: Any = None,
                 gzip: bool | int = False, forwarded_allow_ips: str | None = None) -> None:
        """access_log / audit: DataSinks (see frostfork.sinks); access_format: "json" lines or
        "common" (CLF); mask: more header/query names to mask in logs, on top of Authorization,
        Cookie, Set-Cookie and names containing password, token, secret or api-key.
        docs_url: where Swagger UI is served (needs frostfork[docs]); None turns it off.
        dependencies: run before every route's handler, for their side effects."""
        super().__init__("", None, dependencies)
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
        self.docs_url = docs_url
        # built-in middleware, done in C (frostfork.cors, dispatch/mw.c): cors=frostfork.CORS(...);
        # gzip=True (bodies of 500 bytes and more) or a minimum size; forwarded_allow_ips: the
        # trusted proxies whose X-Forwarded-For/-Proto are believed (--forwarded-allow-ips)
        if cors is not None and not isinstance(cors, CORS):
            raise TypeError(f"cors must be a frostfork.CORS, not {type(cors).__name__}")
        if isinstance(gzip, bool) or gzip is None:
            gzip = bool(gzip)
        elif not isinstance(gzip, int) or gzip < 1:
            raise ValueError(f"gzip must be True/False or a minimum body size, not {gzip!r}")
        self.cors = cors
        self.gzip = gzip
        self.forwarded_allow_ips = forwarded_allow_ips
        self._startup: list[Callable[[], Any]] = []
        self._shutdown: list[Callable[[], Any]] = []
        self._worker_start: list[Callable[[], Any]] = []
        self._worker_stop: list[Callable[[], Any]] = []
        self._providers: dict[Any, Provider] = {}
        self._worker_values: dict[Any, Any] = {}
        self._worker_gens: list[tuple[Any, Any]] = []
        self.exception_handlers: dict[type[BaseException], ExceptionHandler] = {}
        self.middleware_stack: list[Middleware] = []
        self._statics: list[tuple[str, str, bytes, bool]] = []

    # -- registration ------------------------------------------------------

    def provide(self, tp: Any, factory: Callable[..., Any] | None = None, *,
                scope: str = "request") -> None:
        """Make `tp` injectable: a handler parameter annotated `tp` gets factory()'s result.

        scope="request": made once per request, closed (if it has close()) after the
        response is written, also when the handler raised; a generator factory yields the
        value and its code after the yield runs then (and sees the handler's exception).
        scope="app": made once per worker, on first use. scope="worker": made in each
        worker when it starts (before it serves), closed (if it has close()) when the
        worker stops; its factory may ask only for other worker-scoped types, and may be a
        generator (the code after its yield runs when the worker stops). A generator
        factory is refused for scope="app", which has no end to run its teardown at.
        """
        if scope not in ("request", "app", "worker"):
            raise ValueError(f"scope must be 'request', 'app' or 'worker', not {scope!r}")
        if scope == "app" and inspect.isgeneratorfunction(factory):
            raise ValueError(f"{_name(tp)}: a generator factory needs scope='request' or "
                             f"'worker' (its teardown runs after the request / at worker stop)")
        prov = Provider(factory or tp, scope)
        if scope == "worker":
            prov.worker_value = functools.partial(self._worker_value, tp)
        self._providers[tp] = prov

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

    def on_shutdown(self, fn: F) -> F:
        """Run fn in the master once every worker has stopped."""
        self._shutdown.append(fn)
        return fn

    def on_worker_start(self, fn: F) -> F:
        """Run fn in each worker after fork, before it serves: the place to open
        database pools, threads and sockets (which must never cross a fork)."""
        self._worker_start.append(fn)
        return fn

    def on_worker_stop(self, fn: F) -> F:
        """Run fn in each worker when it stops (drained, recycled or told to quit;
        not when it is killed)."""
        self._worker_stop.append(fn)
        return fn

    def exception_handler(self, exc_type: type[BaseException]) -> Callable[[F], F]:
        """Register fn(request, exc) -> Response for exc_type and its subclasses (the
        nearest class in the exception's MRO wins). HTTPError and ValidationError (the
        422) can be given handlers too."""
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise TypeError(f"exception_handler takes an exception class, not {exc_type!r}")

        def register(fn: F) -> F:
            self.exception_handlers[exc_type] = fn
            return fn

        return register

    def middleware(self, fn: Any = None) -> Any:
        """Register fn(request, call_next) -> Response around every route; the first
        registered is the outermost. call_next(request) runs the rest of the chain and
        returns its Response. Also usable as @app.middleware("http")."""
        if isinstance(fn, str):
            if fn != "http":
                raise ValueError(f"only 'http' middleware exists, not {fn!r}")
            return self.middleware
        if not callable(fn):
            raise TypeError("middleware must be a callable (request, call_next) -> Response")
        self.middleware_stack.append(fn)
        return fn

    # -- used by the CLI ----------------------------------------------------

    def run_startup(self) -> None:
        for fn in self._startup:
            fn()

    def run_shutdown(self) -> None:
        for fn in self._shutdown:
            fn()

    def run_worker_start(self) -> None:
        """In a new worker: worker-scoped values in registration order, then the hooks."""
        self._worker_values.clear()
        self._worker_gens.clear()
        for tp, prov in self._providers.items():
            if prov.scope == "worker":
                value = self._call_worker_factory(tp, prov.factory)
                if inspect.isgenerator(value):  # yields the value; the rest runs at stop
                    self._worker_gens.append((value, tp))
                    value = next(value)
                self._worker_values[tp] = value
        for fn in self._worker_start:
            fn()

    def run_worker_stop(self) -> None:
        """In a stopping worker: the hooks, then close() on worker-scoped values
        (the last made first). Every step runs even if an earlier one raised; the
        first exception is raised at the end."""
        errors: list[BaseException] = []
        for fn in self._worker_stop:
            try:
                fn()
            except Exception as e:
                errors.append(e)
        from_gen = {tp for _, tp in self._worker_gens}  # their generator tears them down
        for gen, _ in reversed(self._worker_gens):
            try:
                next(gen)
            except StopIteration:
                pass
            except Exception as e:
                errors.append(e)
            else:
                errors.append(RuntimeError("a worker-scoped generator yielded more than once"))
        for tp, value in reversed(list(self._worker_values.items())):
            close = getattr(value, "close", None)
            if callable(close) and tp not in from_gen:
                try:
                    close()
                except Exception as e:
                    errors.append(e)
        self._worker_values.clear()
        self._worker_gens.clear()
        if errors:
            raise errors[0]

    def _call_worker_factory(self, tp: Any, factory: Callable[..., Any]) -> Any:
        target = getattr(factory, "__init__") if isinstance(factory, type) else factory
        hints = typing.get_type_hints(target)
        kwargs = {}
        for name, p in inspect.signature(factory).parameters.items():
            dep = hints.get(name)
            if dep in self._worker_values:
                kwargs[name] = self._worker_values[dep]
            elif p.default is p.empty:
                raise RouteError(f"worker-scoped {_name(tp)}: parameter {name!r} is not an "
                                 f"earlier worker-scoped type")
        return factory(**kwargs)

    def _worker_value(self, tp: Any) -> Any:
        try:
            return self._worker_values[tp]
        except KeyError:
            raise RuntimeError(f"worker-scoped {_name(tp)} asked for outside a worker "
                               f"(it is made by App.run_worker_start)") from None

    def runtime(self) -> dict[str, Any]:
        """What the C core needs besides the route table: hooks, handlers, middleware."""
        return {
            "exception_handlers": dict(self.exception_handlers),
            "middleware": tuple(self.middleware_stack),
            "worker_start": self.run_worker_start,
            "worker_stop": self.run_worker_stop,
            "http_error": HTTPError,
        }

    def routes(self) -> list[Route]:
        """Every route, routers flattened, in registration order."""
        return list(self.iter_routes())

    def _bind(self, routes: list[Route]) -> list[tuple[Route, tuple[str, ...], Bound]]:
        for prov in self._providers.values():
            prov.plans.clear()  # re-plan: providers may have been added since
        check_conflicts(routes)
        bound = []
        for route in routes:
            if not route.path.startswith("/"):
                raise RouteError(f"{route.method} {route.path!r}: path must start with '/' "
                                 f"(an empty path needs a router prefix)")
            names = tuple(_PARAM.findall(route.path))
            label = f"{route.method} {route.path}"
            if len(set(names)) != len(names):
                raise RouteError(f"{label}: duplicate path parameter")
            try:
                b = plan_for(route.endpoint, label=label, path_names=names,
                             providers=self._providers, side_effects=route.dependencies)
            except (BindingError, SchemaError) as e:
                raise RouteError(str(e)) from None
            read = {d.name for d in b.params if d.location == "path"}
            missing = [n for n in names if n not in read]
            if missing:
                raise RouteError(f"{label}: neither the handler nor its dependencies take path "
                                 f"parameter {missing[0]!r}")
            bound.append((route, names, b))
        return bound

    def _compile(self) -> list[tuple[Any, ...]]:
        """The route table for the C core: (method, pattern, plan, param_names, route)."""
        routes = self.routes()
        table: list[tuple[Any, ...]] = []
        docs: list[RouteDoc] = []
        masked = list(self.mask)
        for route, names, b in self._bind(routes):
            table.append((route.method, route.path, b.plan, names, route))
            if route.include_in_schema:
                docs.append(_doc(route, b))
            for scheme in b.security:  # credentials stay out of the access log
                if scheme.location != "header" or scheme.key != "authorization":
                    masked.append(scheme.key.lower())
        self.mask = tuple(dict.fromkeys(masked))
        taken = {(r.method, r.path) for r in routes}
        extra: list[tuple[str, Callable[[], Any]]] = []
        if self.openapi_url and ("GET", self.openapi_url) not in taken:
            document = _core.json_encode(openapi_document(self.title, self.version, docs))
            extra.append((self.openapi_url, _constant(_core.Response(
                200, document, {"Content-Type": "application/json"}))))
            if self.docs_url:
                for path, response in docs_routes(self.docs_url, self.openapi_url, self.title):
                    if ("GET", path) not in taken:
                        extra.append((path, _constant(response)))
        for path, fn in extra:
            plan = plan_for(fn, label=f"GET {path}").plan
            table.append(("GET", path, plan, (), Route("GET", path, fn, include_in_schema=False)))
        table.extend(self._statics)
        return table

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this app (what GET /openapi.json serves)."""
        docs = [_doc(route, b) for route, _, b in self._bind(self.routes())
                if route.include_in_schema]
        return openapi_document(self.title, self.version, docs)


def _constant(value: Any) -> Callable[[], Any]:
    def openapi_json() -> Any:
        return value
    return openapi_json


def _doc(route: Route, bound: Bound) -> RouteDoc:
    fn = route.endpoint
    doc = inspect.getdoc(fn) or ""
    summary, _, description = doc.partition("\n\n")
    if route.response_model is not None:
        ret = route.response_model
    else:
        try:
            ret = typing.get_type_hints(fn, include_extras=True).get("return")
        except Exception:
            ret = None
    name = getattr(fn, "__name__", "handler")
    method, path = route.method, route.path
    responses = {}
    for status, spec in route.responses.items():
        if isinstance(spec, dict):
            extra = dict(spec)
            model = extra.pop("model", None)
        else:
            extra, model = {}, spec
        if model is not None:
            extra["node"] = _node_or_none(model)
        responses[str(status)] = extra
    return RouteDoc(method=method, path=path,
                    operation_id=route.operation_id or f"{name}_{method.lower()}",
                    summary=route.summary or summary or None,
                    description=route.description or description or None,
                    params=bound.params, body=bound.body, body_required=bound.body_required,
                    response=_node_or_none(ret), status_code=route.status_code or 200,
                    tags=route.tags, deprecated=route.deprecated, responses=responses,
                    security=bound.security)


def _node_or_none(tp: Any) -> Any:
    if tp is None or tp is type(None):
        return None
    try:
        return node_for(tp)
    except SchemaError:
        return None  # e.g. -> Response: nothing to document
