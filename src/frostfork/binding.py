"""Signature → binding plan: read once per handler, followed in C per request.

Each parameter gets one source, decided here from its name, its type and
its Annotated markers (see frostfork.params); dependencies registered with
App.provide are planned recursively, so cycles and missing providers are
errors at startup that name the chain.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from frostfork import _core, aio
from frostfork import typenode as tn
from frostfork.openapi import ParamDoc
from frostfork.params import Body, Cookie, File, Form, Header, Query
from frostfork.schema import SchemaError, node_for
from frostfork.security import SecurityScheme

# Sources, mirrored by enum ff_src in _core/bind/plan.h.
# the order of enum ff_src in bind/plan.h
(PATH, QUERY, HEADER, COOKIE, BODY, BODY_FIELD, REQUEST, DEP, SECURITY, FORM, FILE,
 FORM_MODEL, WEBSOCKET) = range(13)

_TEXT_KINDS = {tn.STR, tn.INT, tn.FLOAT, tn.BOOL, tn.DECIMAL, tn.UUID, tn.DATETIME, tn.DATE,
               tn.TIME, tn.ENUM, tn.LITERAL, tn.ANY}
_LIST_KINDS = {tn.LIST, tn.SET, tn.FROZENSET, tn.VARTUPLE}
_PLAIN = {str, int, float, bool, bytes, typing.Any}
_BODY_KINDS = {tn.MODEL, tn.DICT, tn.LIST, tn.SET, tn.FROZENSET, tn.VARTUPLE, tn.TUPLE}


class BindingError(TypeError):
    """A handler or dependency whose parameters cannot all be filled."""


@dataclass
class Bound:
    """A compiled plan plus what the OpenAPI writer needs to know about it."""
    plan: Any
    params: list[ParamDoc]  # the handler's own and those its dependencies read
    body: tn.Node | None
    body_required: bool
    security: list[SecurityScheme] = field(default_factory=list)  # what it and its deps read


@dataclass
class Provider:
    factory: Callable[..., Any]
    scope: str  # "request" | "app" | "worker"
    # scope="worker": returns the value App built when the worker started
    worker_value: Callable[[], Any] | None = None
    # request scope: one plan per set of route path names, since path parameters
    # are bound by their index in the route; app scope: one plan, made once per worker
    plans: dict[tuple[str, ...], Bound] = field(default_factory=dict)


_schemas: dict[int, Any] = {}


def schema_for(node: tn.Node) -> Any:
    """Compile a node once; Schema objects are shared by every plan that uses the node."""
    key = id(node)
    if key not in _schemas:
        _schemas[key] = (_core.compile(node), node)  # keep the node alive with its id
    return _schemas[key][0]


def _text_node(node: tn.Node) -> bool:
    if node.kind == tn.UNION:
        return all(a.kind == tn.NONE or _text_node(a) for a in node.args)
    return node.kind in _TEXT_KINDS


def _split(hint: Any) -> tuple[Any, list[Any]]:
    if typing.get_origin(hint) is Annotated:
        return hint.__origin__, list(hint.__metadata__)
    return hint, []


def plan_for(fn: Callable[..., Any], *, label: str, path_names: tuple[str, ...] = (),
             providers: dict[Any, Provider] | None = None, chain: tuple[str, ...] = (),
             app_scope: bool = False, side_effects: typing.Sequence[Any] = ()) -> Bound:
    """Build the C plan for `fn` (a handler, or a dependency factory when chain is set).

    side_effects: the route's dependencies=[...] (callables, provided types,
    security schemes), run first and not passed to fn. A generator function
    (fn or a factory) is a dependency with teardown: C takes the value it
    yields and finishes it after the response is written."""
    providers = providers or {}
    is_factory = bool(chain)
    target = getattr(fn, "__init__") if isinstance(fn, type) else fn  # a class: its __init__
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as e:
        raise BindingError(f"{label}: cannot resolve type hints: {e}") from None
    args: list[tuple[Any, ...] | None] = []  # None: a body slot, filled at the end
    docs: list[ParamDoc] = []
    dep_docs: list[ParamDoc] = []  # what the dependencies read, documented unless fn reads it too
    bodies: list[tuple[inspect.Parameter, tn.Node, bool]] = []
    security: list[SecurityScheme] = []
    embed = False
    async_deps: list[str] = []  # parameters given an async dependency (frostfork.aio)
    for i, dep in enumerate(side_effects):
        where = f"{label}: dependencies[{i}]"
        if isinstance(dep, SecurityScheme):
            args.append(_security_arg("", dep, required=True, default=None))
            _add_scheme(security, dep)
        elif isinstance(dep, type) and dep in providers:
            bound = _dependency(dep, providers, chain + (label,), path_names)
            args.append(("", DEP, _name(dep), -1, None, False, None, False, bound.plan))
            dep_docs.extend(bound.params)
            for s in bound.security:
                _add_scheme(security, s)
        elif callable(dep):
            bound = plan_for(dep, label=f"{_name(dep)} (in {where})", path_names=path_names,
                             providers=providers, chain=chain + (label,))
            args.append(("", DEP, _name(dep), -1, None, False, None, False, bound.plan))
            dep_docs.extend(bound.params)
            for s in bound.security:
                _add_scheme(security, s)
        else:
            raise BindingError(f"{where}: {dep!r} is neither a callable, a provided type nor "
                               f"a security scheme")
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind is p.POSITIONAL_ONLY:
            raise BindingError(f"{label}: parameter {p.name!r} is positional-only")
        where = f"{label}: parameter {p.name!r}"
        hint = hints.get(p.name, str if p.name in path_names else Any)
        base, meta = _split(hint)
        marker = next((m for m in meta if isinstance(m, (Header, Cookie, Query, Body, Form, File))),
                      None)
        required = p.default is p.empty
        default = None if required else p.default
        scheme = base if isinstance(base, SecurityScheme) else next(
            (m for m in meta if isinstance(m, SecurityScheme)), None)
        if scheme is not None:
            args.append(_security_arg(p.name, scheme, required=required and scheme.auto_error,
                                      default=default))
            _add_scheme(security, scheme)
            continue
        upload = _upload_param(base)
        if upload is not None or isinstance(marker, File):
            if upload is None:
                raise BindingError(f"{where}: File() needs the type frostfork.UploadFile "
                                   f"or list[frostfork.UploadFile]")
            name = marker.name if isinstance(marker, File) and marker.name else p.name
            args.append((p.name, FILE, name, -1, None, required, default, upload, None))
            docs.append(ParamDoc(name, "form", None, required, kind="file", is_list=upload))
            continue
        if base is _core.Request or (p.name == "request" and p.annotation is p.empty):
            args.append((p.name, REQUEST, p.name, -1, None, False, None, False, None))
            continue
        if isinstance(base, type) and issubclass(base, _core.WebSocket):
            args.append((p.name, WEBSOCKET, p.name, -1, None, False, None, False, None))
            continue
        if _hashable(base) and base in providers:
            dep = _dependency(base, providers, chain + (label,), path_names)
            args.append((p.name, DEP, p.name, -1, None, False, None, False, dep.plan))
            if aio.is_async_factory(providers[base].factory):
                async_deps.append(p.name)
            dep_docs.extend(dep.params)
            for s in dep.security:
                _add_scheme(security, s)
            continue
        if is_factory and marker is None and isinstance(base, type) and base not in _PLAIN:
            raise BindingError(f"no provider for {_name(base)} "
                               f"(needed by {' <- '.join((label,) + tuple(reversed(chain)))})")
        try:
            node = node_for(hint, where=where)
        except SchemaError as e:
            raise BindingError(str(e)) from None
        if isinstance(marker, Form):
            name = marker.name or p.name
            if node.kind == tn.MODEL:
                args.append((p.name, FORM_MODEL, name, -1, schema_for(node), required, default,
                             False, None))
                docs.append(ParamDoc(name, "form", node, required, kind="model"))
                continue
            is_list = _is_text_list(node)
            item = node.args[0] if is_list else node
            if not _text_node(item):
                raise BindingError(f"{where}: form values must be scalars, lists of scalars, "
                                   f"or a model of them")
            args.append((p.name, FORM, name, -1, schema_for(item), required, default, is_list,
                         None))
            docs.append(ParamDoc(name, "form", node, required))
            continue
        if p.name in path_names:
            if not _text_node(node):
                raise BindingError(f"{where}: a path parameter must be a scalar, not {node.kind}")
            args.append((p.name, PATH, p.name, path_names.index(p.name), schema_for(node),
                         True, None, False, None))
            docs.append(ParamDoc(p.name, "path", node, True))
            continue
        if isinstance(marker, (Header, Cookie)) or (
                isinstance(marker, Query) or (marker is None and not is_factory and
                                              (_text_node(node) or _is_text_list(node)))):
            src, where_name = _pair_source(p.name, marker)
            is_list = _is_text_list(node)
            item = node.args[0] if is_list else node
            if not _text_node(item):
                raise BindingError(f"{where}: {('query', 'header', 'cookie')[src - QUERY]} "
                                   f"values must be scalars or lists of scalars")
            args.append((p.name, src, where_name, -1, schema_for(item), required, default,
                         is_list, None))
            docs.append(ParamDoc(where_name, ("query", "header", "cookie")[src - QUERY], node,
                                 required))
            continue
        if is_factory and marker is None:
            raise BindingError(f"{where}: no source (a dependency factory gets Request, other "
                               f"dependencies, the route's path parameters, or values marked "
                               f"Query/Header/Cookie/Body)")
        if isinstance(marker, Body) or node.kind in _BODY_KINDS:
            embed = embed or (isinstance(marker, Body) and marker.embed)
            bodies.append((p, node, required))
            args.append(None)  # filled below, once we know whether the body is embedded
            continue
        raise BindingError(f"{where}: no source for type {_name(base)} (not a path parameter, "
                           f"query scalar, model body, Request, or a provided dependency)")
    body_schema = None
    body_node = None
    body_required = any(r for _, _, r in bodies)
    if len(bodies) == 1 and not embed:
        p, node, required = bodies[0]
        args[args.index(None)] = (p.name, BODY, p.name, -1, schema_for(node), required,
                                  None if required else p.default, False, None)
        body_node = node
    elif bodies:
        fields = tuple(tn.Field(p.name, node, tn.MISSING if req else p.default,
                                optional_key=False) for p, node, req in bodies)
        body_node = tn.Node(tn.MODEL, cls=dict, fields=fields, model_kind=tn.MODEL_TYPEDDICT,
                            title=f"Body_{getattr(fn, '__name__', 'handler')}")
        body_schema = schema_for(body_node)
        it = iter(bodies)
        for i, a in enumerate(args):
            if a is None:
                p, node, req = next(it)
                args[i] = (p.name, BODY_FIELD, p.name, -1, None, req,
                           None if req else p.default, False, None)
    assert None not in args, "every body slot is filled above"
    try:
        call = aio.plan_callable(fn, tuple(async_deps), factory=is_factory, app_scope=app_scope,
                                 label=label)
    except TypeError as e:
        raise BindingError(str(e)) from None
    kw = {"generator": True} if is_factory and inspect.isgeneratorfunction(fn) else {}
    plan = _core.Plan(call, typing.cast(list[tuple[Any, ...]], args), body_schema, app_scope, label,
                      **kw)
    for d in dep_docs:
        if all((d.name, d.location) != (o.name, o.location) for o in docs):
            docs.append(d)
    return Bound(plan, docs, body_node, body_required, security)


def _hashable(tp: Any) -> bool:
    try:
        hash(tp)
    except TypeError:
        return False
    return True


def _add_scheme(schemes: list[SecurityScheme], scheme: SecurityScheme) -> None:
    if all(s is not scheme for s in schemes):
        schemes.append(scheme)


def _security_arg(name: str, scheme: SecurityScheme, *, required: bool,
                  default: Any) -> tuple[Any, ...]:
    """A credential read in C: (kind, WWW-Authenticate challenge, value class)."""
    extra = (scheme.kind, scheme.challenge, scheme.value_type)
    return (name, SECURITY, scheme.key, -1, None, required, default, False, None, extra)


def _upload_param(base: Any) -> bool | None:
    """False for UploadFile, True for list[UploadFile], None for anything else."""
    if base is _core.UploadFile:
        return False
    if typing.get_origin(base) is list and typing.get_args(base) == (_core.UploadFile,):
        return True
    return None


def _is_text_list(node: tn.Node) -> bool:
    return node.kind in _LIST_KINDS and _text_node(node.args[0])


def _pair_source(name: str, marker: Any) -> tuple[int, str]:
    if isinstance(marker, Header):
        return HEADER, (marker.name or name.replace("_", "-")).lower()
    if isinstance(marker, Cookie):
        return COOKIE, marker.name or name
    return QUERY, (marker.name if isinstance(marker, Query) and marker.name else name)


def _dependency(tp: Any, providers: dict[Any, Provider], chain: tuple[str, ...],
                path_names: tuple[str, ...]) -> Bound:
    """The plan of tp's factory for a route with these path names. An app-scoped
    value outlives every route, so its factory sees no path parameters."""
    prov = providers[tp]
    key = () if prov.scope != "request" else path_names
    if key in prov.plans:
        return prov.plans[key]
    name = _name(tp)
    if name in chain:
        raise BindingError(f"dependency cycle: {' -> '.join(chain[chain.index(name):] + (name,))}")
    if prov.worker_value is not None:  # built at worker start; C keeps it after first use
        bound = Bound(_core.Plan(prov.worker_value, [], None, True, name), [], None, False)
        prov.plans[key] = bound
        return bound
    bound = plan_for(prov.factory, label=name, path_names=key, providers=providers, chain=chain,
                     app_scope=prov.scope == "app")
    prov.plans[key] = bound
    return bound


def _name(tp: Any) -> str:
    return getattr(tp, "__qualname__", None) or repr(tp)
