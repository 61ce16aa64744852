"""JSON in C, for use outside a request.

    frostfork.json.encode(obj) -> bytes
    frostfork.json.decode(buf, type=NewUser) -> NewUser   # validated, or ValidationError
    frostfork.json.encode(row, type=UserOut) -> bytes     # only UserOut's fields, or ValueError

decode compiles each type once (cached) into the same validator program the
server uses for request bodies; encode writes models without their Sensitive
fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from frostfork import _core
from frostfork.schema import node_for

T = TypeVar("T")

__all__ = ["decode", "encode", "schema_of"]

_compiled: dict[Any, Any] = {}


def schema_of(tp: Any) -> Any:
    """The compiled validator for a type (compiled on first use)."""
    # typing compares unions as sets (Union[int, float] == Union[float, int],
    # also inside list[...] and the like), but a union is tried in declaration
    # order, so a hint that is not a plain class is keyed with its spelling too.
    key = tp if isinstance(tp, type) else (tp, repr(tp))
    try:
        return _compiled[key]
    except KeyError:
        schema = _core.compile(node_for(tp))
        _compiled[key] = schema
        return schema
    except TypeError:  # unhashable hints: compile every time
        return _core.compile(node_for(tp))


def decode(buf: bytes | bytearray | memoryview | str, *, type: Any = Any) -> Any:
    """Strict JSON → validated objects of `type`; raises ValidationError or JSONDecodeError."""
    return _core.decode(buf, schema_of(type))


_NO_TYPE: Any = object()


def encode(obj: Any, *, type: Any = _NO_TYPE, include_sensitive: bool = False) -> bytes:
    """Objects → JSON bytes; Sensitive model fields are left out unless asked for.

    With `type`, obj is written as that type (what a response model does): a model's
    declared fields only, read from attributes, slots or mapping keys, Sensitive ones
    never; a value that does not fit raises ValueError naming where and why."""
    if type is not _NO_TYPE:
        if include_sensitive:
            raise ValueError("include_sensitive cannot be combined with type=")
        return _core.encode_as(obj, schema_of(type))
    return _core.json_encode(obj, include_sensitive=include_sensitive)


def _fields_for(cls: type) -> Any:
    """((name, sensitive), ...) for a dataclass or frostfork.Model class, else None.

    Called by the C encoder once per class it meets."""
    if getattr(cls, "__frostfork_model__", False) is True or dataclasses.is_dataclass(cls):
        try:
            node = node_for(cls)
        except TypeError:  # fields frostfork cannot validate still encode
            names = getattr(cls, "__frostfork_fields__", None) or [
                f.name for f in dataclasses.fields(cls)]
            return tuple((n, False) for n in names)
        fields = {f.name: f for f in (*node.fields, *node.late)}
        order = ([f.name for f in dataclasses.fields(cls)] if node.model_kind == "dataclass"
                 else list(fields))  # declaration order, init=False fields included
        return tuple((n, bool(fields[n].node.sensitive)) for n in order)
    return None
