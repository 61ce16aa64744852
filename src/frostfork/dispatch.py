"""frostfork.dispatch(func, payload): call a function with the keys it asks for.

The SEED article's smart_dispatch, validated and in C: the function's
signature is read once (cached per function) into a parameters type; each
call takes only those keys from the payload, validates them against the
annotations (constraints included) and calls. Bad input raises
frostfork.ValidationError listing every problem.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from frostfork import _core
from frostfork import typenode as tn
from frostfork.schema import node_for

__all__ = ["dispatch"]

_plans: dict[Any, Any] = {}


def _parameters_schema(func: Callable[..., Any]) -> Any:
    hints = typing.get_type_hints(func, include_extras=True)
    fields = []
    for p in inspect.signature(func).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            continue
        node = node_for(hints.get(p.name, Any), where=f"{func.__qualname__}.{p.name}")
        fields.append(tn.Field(p.name, node, tn.MISSING if p.default is p.empty else p.default))
    node = tn.Node(tn.MODEL, cls=dict, fields=tuple(fields), model_kind=tn.MODEL_TYPEDDICT)
    return _core.compile(node)


def dispatch(func: Callable[..., Any], payload: dict[str, Any]) -> Any:
    """func(**the payload keys it names), validated against its annotations."""
    schema = _plans.get(func)
    if schema is None:
        schema = _plans[func] = _parameters_schema(func)
    return _core._dispatch(func, schema, payload)
