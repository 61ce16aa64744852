"""The Python half of fuzz/fuzz_json.c: the types the fuzzer decodes into, and
the checks run on every input.

fuzz_json.c embeds CPython, links the instrumented frostfork._core into the
fuzzer binary as a built-in module, imports this module once and then calls
`one(data)` per input. The first byte picks the target type; the rest is the
JSON text. `one` returns normally when the decoder behaved; anything it raises
is a finding (the C side prints it and aborts). A crash inside the C decoder
is caught by ASan/UBSan directly.

Behaviour that is allowed:
  - a value, or frostfork.ValidationError (the list of {type, loc, msg[, input]}
    dicts), or frostfork.JSONDecodeError ("invalid JSON at byte N: ...").
Checked beyond "no other exception":
  - every ValidationError entry has the FastAPI shape, a str msg and a list loc;
  - a Sensitive field's value is never echoed back (no "input" under "password");
  - a JSONDecodeError names a byte offset inside the input;
  - what decodes also encodes (with Sensitive fields) and decodes again to an
    equal value: decode(encode(decode(x))) == decode(x). Values holding a
    non-finite float are exempt: 1e400 decodes to inf (as Python's json does)
    and JSON has no way to write inf back.

Differential oracle (every input, `differential`): the bytes decoded untyped by
frostfork and by the standard library's json, which must agree: the same value
(same types all the way down, keys in the same order) when frostfork decodes,
and a refusal by json too when frostfork refuses, except where frostfork is
stricter on purpose: NaN/Infinity literals, \\u escapes of lone surrogates,
nesting deeper than 64, a byte order mark or text that is not UTF-8 (json.loads
guesses UTF-16/32 for bytes). tests/json/test_stdlib_oracle.py runs the same
oracle over generated documents in the ordinary test run.

Known findings (fuzz/findings/, fuzz/README.md) abort like any other, so that
`make fuzz-smoke` keeps failing until they are fixed. To fuzz past them, set
FUZZ_JSON_TOLERATE_KNOWN=1: the exceptions listed in KNOWN are then accepted.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import os
import re
import uuid
from typing import Annotated, Any, Literal, Optional, TypedDict, Union

import frostfork
from frostfork import (
    Ge, Gt, JSONDecodeError, Le, Len, Lt, MaxLen, MinLen, Model, MultipleOf, Pattern, Sensitive,
    ValidationError,
)
from frostfork import _core
from frostfork.json import schema_of


class Color(enum.Enum):
    RED = "red"
    ONE = 1


@dataclasses.dataclass
class Point:
    x: Annotated[int, Ge(-1000), Le(1000)]
    y: float = 0.0


class Tag(TypedDict, total=False):
    name: Annotated[str, MinLen(1), MaxLen(16), Pattern(r"^[a-z][a-z0-9_]*$")]
    weight: Annotated[float, Gt(0), Lt(1e6)]


class Tree(Model):
    value: int
    children: list["Tree"] = frostfork.field(default_factory=list)


class Order(Model, forbid_extra=True):
    id: Annotated[int, Ge(1), MultipleOf(3)]
    user: Annotated[str, MinLen(3), MaxLen(32)]
    password: Annotated[str, MinLen(4), Sensitive()]
    items: Annotated[list[Union[Point, Tag, int, str, None]], MaxLen(64)]
    matrix: list[list[Annotated[float, Ge(-1e9)]]] = frostfork.field(default_factory=list)
    meta: dict[str, Union[int, float, str, bool, None, list[Any]]] = frostfork.field(
        default_factory=dict)
    color: Optional[Color] = None
    kind: Literal["a", "b", 3] = "a"
    when: Optional[datetime.datetime] = None
    day: Optional[datetime.date] = None
    at: Optional[datetime.time] = None
    ref: Optional[uuid.UUID] = None
    price: Optional[Annotated[decimal.Decimal, Ge(0)]] = None
    blob: Optional[bytes] = None
    pair: Optional[tuple[int, str]] = None
    many: Optional[tuple[int, ...]] = None
    uniq: Optional[frozenset[str]] = None
    tree: Optional[Tree] = None


TYPES: list[Any] = [
    Any,
    Order,
    list[Order],
    Tree,
    Union[list[int], dict[str, Point], str],
    dict[str, list[Union[int, str, float]]],
    Annotated[list[Annotated[int, Gt(0)]], Len(0, 8)],
    set[Union[int, str]],
]
SCHEMAS = [schema_of(t) for t in TYPES]

# Exception types the decoder is known to leak instead of ValidationError.
# (empty: the Decimal InvalidOperation leak of fuzz/findings/fuzz_json-decimal-* is fixed)
KNOWN: tuple[type[BaseException], ...] = ()
_TOLERATE = os.environ.get("FUZZ_JSON_TOLERATE_KNOWN") == "1"

_BYTE_POS = re.compile(r"^invalid JSON at byte (\d+): \S")


def _finite(v: Any, depth: int = 0) -> bool:
    """False if v holds a non-finite float anywhere (models included)."""
    if depth > 200:
        return True
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, decimal.Decimal):
        return v.is_finite()
    if isinstance(v, dict):
        return all(_finite(x, depth + 1) for x in v.values())
    if isinstance(v, (list, tuple, set, frozenset)):
        return all(_finite(x, depth + 1) for x in v)
    if isinstance(v, Model) or dataclasses.is_dataclass(v):
        names = getattr(type(v), "__frostfork_fields__", None) or [
            f.name for f in dataclasses.fields(v)]
        return all(_finite(getattr(v, n), depth + 1) for n in names)
    return True


# Where a Sensitive value sits in the loc of each schema that has one:
# Order.password (TYPES[1]) and [i].password (TYPES[2]).
_SENSITIVE_LOC = {1: lambda loc: loc[:1] == ["password"],
                  2: lambda loc: len(loc) >= 2 and isinstance(loc[0], int)
                  and loc[1] == "password"}


def _check_validation_error(exc: ValidationError, which: int) -> None:
    errors = exc.args[0]
    assert isinstance(errors, list) and errors, f"ValidationError without errors: {exc.args!r}"
    for e in errors:
        assert isinstance(e, dict), e
        assert {"type", "loc", "msg"} <= e.keys() <= {"type", "loc", "msg", "input", "ctx"}, e
        assert isinstance(e["type"], str) and e["type"], e
        assert isinstance(e["msg"], str) and e["msg"], e
        assert isinstance(e["loc"], list), e
        assert all(isinstance(x, (str, int)) for x in e["loc"]), e
        sensitive = _SENSITIVE_LOC.get(which)
        if sensitive and sensitive(e["loc"]):
            assert "input" not in e, f"Sensitive value echoed: {e!r}"
    str(exc)  # the message is built from the list: must not raise


def _same(a: Any, b: Any) -> bool:
    """Equal with equal types throughout (1, 1.0 and True differ) and dict keys in order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def _stricter_here(text: bytes) -> bool:
    """True when json's acceptance of `text` is one frostfork refuses by design."""
    if text.startswith(b"\xef\xbb\xbf"):
        return True
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        return True

    def no_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        # every key and value of every object, as a list: a value that a later
        # duplicate key replaces in json's dict (a lone surrogate, say) is still looked at
        v = json.loads(s, parse_constant=no_constant,
                       object_pairs_hook=lambda pairs: [x for pair in pairs for x in pair])
    except (ValueError, RecursionError):
        return True  # NaN/Infinity, or json itself refuses the str form

    def odd(x: Any, depth: int) -> bool:
        if depth > 64:
            return True
        if isinstance(x, str):
            return any(0xD800 <= ord(c) <= 0xDFFF for c in x)
        if isinstance(x, dict):
            return any(odd(k, depth) or odd(y, depth + 1) for k, y in x.items())
        if isinstance(x, list):
            return any(odd(y, depth + 1) for y in x)
        return False

    return odd(v, 1)


def differential(text: bytes) -> None:
    """Untyped frostfork decode against json.loads on the same bytes (see the docstring)."""
    try:
        mine = _core.decode(text, SCHEMAS[0])
    except JSONDecodeError:
        mine = JSONDecodeError
    try:
        theirs = json.loads(text)
    except (ValueError, RecursionError):  # json.JSONDecodeError, UnicodeDecodeError, int digits
        theirs = ValueError
    if mine is JSONDecodeError:
        assert theirs is ValueError or _stricter_here(text), \
            f"frostfork refused what json reads the same way: {text!r} -> {theirs!r}"
        return
    assert theirs is not ValueError, f"frostfork read what json refuses: {text!r} -> {mine!r}"
    assert _same(mine, theirs), f"frostfork and json differ on {text!r}: {mine!r} != {theirs!r}"


def one(data: bytes) -> None:
    if not data:
        return
    differential(data[1:])
    which = data[0] % len(SCHEMAS)
    schema = SCHEMAS[which]
    text = data[1:]
    try:
        value = _core.decode(text, schema)
    except ValidationError as exc:
        _check_validation_error(exc, which)
        return
    except KNOWN:
        if _TOLERATE:
            return
        raise
    except JSONDecodeError as exc:
        msg = str(exc)
        m = _BYTE_POS.match(msg)
        assert m, f"JSONDecodeError message without a byte offset: {msg!r}"
        assert int(m.group(1)) <= len(text), f"offset past the input ({len(text)}): {msg!r}"
        return
    if not _finite(value):
        return
    encoded = _core.json_encode(value, include_sensitive=True)
    again = _core.decode(encoded, schema)
    assert again == value, f"round trip changed the value: {value!r} -> {encoded!r} -> {again!r}"
