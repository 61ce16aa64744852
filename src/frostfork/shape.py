"""Response models: which type a route's results are written as.

`response_schema(fn, response_model)` is read once per route, at startup: the
decorator's `response_model=` when given, else the handler's return
annotation. The C writer (json/shape.c) then writes every JSON result of the
route as that type: only its fields, never its Sensitive ones, and a value
that does not fit is a 500 whose reason is logged. A result that is a
Response, str or bytes is sent as it is.

A type that constrains nothing (no annotation, `Any`, a bare `dict`/`list`)
gets no schema, so such routes pay nothing for the feature.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from frostfork import _core
from frostfork import typenode as tn
from frostfork.json import schema_of
from frostfork.schema import SchemaError, node_for

__all__ = ["for_route", "response_schema"]


def _free(node: tn.Node) -> bool:
    """True when writing a value as `node` would change nothing: Any, or
    containers of Any without constraints."""
    if node.constraints or node.sensitive:
        return False
    if node.kind == tn.ANY:
        return True
    if node.kind in (tn.DICT, tn.LIST, tn.VARTUPLE):
        return all(_free(a) for a in node.args)
    return False


def response_type(fn: Any, response_model: Any = None) -> Any:
    """The declared response type of a handler, or None."""
    if response_model is not None:
        return response_model
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:
        return None
    return hints.get("return")


def response_schema(fn: Any, response_model: Any = None) -> Any:
    """The compiled Schema results of `fn` are written as, or None."""
    tp = response_type(fn, response_model)
    if tp is None or tp is type(None) or tp is inspect.Signature.empty:
        return None
    if isinstance(tp, type) and issubclass(tp, (_core.Response, str, bytes)):
        return None  # sent as they are
    try:
        node = node_for(tp)
    except SchemaError:
        return None  # e.g. a Response subclass or an unsupported class: written as returned
    if _free(node):
        return None
    return schema_of(tp)


def for_route(route: Any) -> Any:
    """The response Schema of a route record (anything with `endpoint` and
    `response_model`, or a precomputed `response_schema`); the C route table
    asks this once per route, at startup."""
    if hasattr(route, "response_schema"):
        return route.response_schema
    endpoint = getattr(route, "endpoint", None)
    if endpoint is None:
        return None
    return response_schema(endpoint, getattr(route, "response_model", None))
