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
from typing import TYPE_CHECKING, Any

from frostfork import _core
from frostfork.schema import node_for

__all__ = ["decode", "encode", "schema_of"]

if TYPE_CHECKING:
    def decode(buf: bytes | bytearray | memoryview | str, /, *, type: Any = Any) -> Any:
        """Strict JSON → validated objects of `type`; raises ValidationError or JSONDecodeError."""

    def encode(obj: Any, /, *, type: Any = ..., include_sensitive: bool = False) -> bytes:
        """Objects → JSON bytes; Sensitive model fields are left out unless asked for.

        With `type`, obj is written as that type (what a response model does): a model's
        declared fields only, read from attributes, slots or mapping keys, Sensitive ones
        never; a value that does not fit raises ValueError naming where and why."""

    def schema_of(tp: Any, /) -> _core.Schema:
        """The compiled validator for a type (compiled on first use)."""
else:
    # In C (json/api.c): argument parsing and the per-type schema cache cost a
    # small document's call more than its decoding does.
    decode = _core.json_decode
    encode = _core.json_encode
    schema_of = _core.schema_of


def _compile(tp: Any) -> Any:
    """A type hint compiled; called by the C schema cache once per hint."""
    return _core.compile(node_for(tp))


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
