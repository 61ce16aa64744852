"""Decoding into dataclasses does what their __init__ would beyond taking the
fields: init=False fields that have a default get it, __post_init__ runs, and a
ValueError / AssertionError raised there is a validation error at the object's loc
(a 422 over HTTP, every failing object listed) while any other exception goes on."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest

import frostfork.json as fj
from typing import Annotated

from frostfork import Title, ValidationError
from frostfork.schema import SchemaError


@dataclasses.dataclass
class Span:
    lo: int
    hi: int
    width: int = dataclasses.field(init=False, default=-1)
    seen: list[str] = dataclasses.field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.lo == -999:
            raise RuntimeError("a bug in __post_init__, not bad input")
        if self.lo > self.hi:
            raise ValueError(f"lo {self.lo} is above hi {self.hi}")
        if self.hi - self.lo >= 100:  # not `assert`: pytest rewrites those in this file
            raise AssertionError("too wide")
        self.width = self.hi - self.lo


@dataclasses.dataclass
class Unset:
    a: int
    note: str = dataclasses.field(init=False)  # no default: __init__ leaves it unset


@dataclasses.dataclass(frozen=True)
class Frozen:
    name: str
    key: str = dataclasses.field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.name.lower())


@dataclasses.dataclass
class Holder:
    spans: list[Span]
    frozen: Frozen


def test_same_object_as_init() -> None:
    got = fj.decode(b'{"lo":1,"hi":5}', type=Span)
    want = Span(1, 5)
    assert got == want and got.width == 4 and got.seen == [] and vars(got) == vars(want)
    unset = fj.decode(b'{"a":1}', type=Unset)
    assert vars(unset) == vars(Unset(1)) == {"a": 1}
    assert fj.encode(unset) == b'{"a":1}'
    unset.note = "n"
    assert json.loads(fj.encode(unset)) == {"a": 1, "note": "n"}


def test_factory_called_per_instance() -> None:
    a, b = fj.decode(b'[{"lo":1,"hi":2},{"lo":3,"hi":4}]', type=list[Span])
    a.seen.append("x")
    assert b.seen == [] and a.seen is not b.seen


def test_frozen_and_nested() -> None:
    got = fj.decode(b'{"spans":[{"lo":0,"hi":1}],"frozen":{"name":"AbC"}}', type=Holder)
    assert got.frozen.key == "abc" and got.spans[0].width == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.frozen.key = "x"  # type: ignore[misc]


def test_value_and_assertion_errors_are_validation_errors_with_their_loc() -> None:
    body = b'{"spans":[{"lo":1,"hi":2},{"lo":9,"hi":2},{"lo":0,"hi":500}],"frozen":{"name":"n"}}'
    with pytest.raises(ValidationError) as ei:
        fj.decode(body, type=Holder)
    errors = ei.value.args[0]
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("value_error", ["spans", 1]), ("assertion_error", ["spans", 2])]
    assert errors[0]["msg"] == "Value error, lo 9 is above hi 2"
    assert errors[1]["msg"] == "Assertion failed, too wide"


def test_field_errors_come_first_and_skip_post_init() -> None:
    """__post_init__ runs only on an object whose fields all validated."""
    with pytest.raises(ValidationError) as ei:
        fj.decode(b'[{"lo":"x","hi":2},{"lo":5,"hi":1}]', type=list[Span])
    assert [(e["type"], e["loc"]) for e in ei.value.args[0]] == [
        ("int_type", [0, "lo"]), ("value_error", [1])]


def test_other_exceptions_propagate_and_leak_nothing() -> None:
    body = b'[{"lo":1,"hi":2},{"lo":-999,"hi":0}]'
    for _ in range(3):
        with pytest.raises(RuntimeError, match="a bug"):
            fj.decode(body, type=list[Span])
    if hasattr(sys, "gettotalrefcount"):  # debug builds only
        return
    before = sys.getrefcount(Span)
    for _ in range(50):
        with pytest.raises(RuntimeError):
            fj.decode(body, type=list[Span])
    assert sys.getrefcount(Span) == before


def test_initvar_refused_at_compile() -> None:
    @dataclasses.dataclass
    class WithInitVar:
        a: int
        scale: dataclasses.InitVar[int] = 1

        def __post_init__(self, scale: int) -> None:
            self.a *= scale

    with pytest.raises(SchemaError, match="InitVar"):
        fj.schema_of(WithInitVar)


def test_encode_after_decode_keeps_late_fields() -> None:
    got = fj.decode(b'{"lo":2,"hi":7}', type=Span)
    assert json.loads(fj.encode(got)) == {"lo": 2, "hi": 7, "width": 5, "seen": []}


def test_plain_init_false_default_stays_on_the_class_unless_slots() -> None:
    """__init__ leaves an init=False field with a plain default to the class
    attribute (so vars() does not show it), except on a slots class."""
    @dataclasses.dataclass
    class Plain:
        a: int
        kind: str = dataclasses.field(init=False, default="plain")

    @dataclasses.dataclass(slots=True)
    class Slotted:
        a: int
        kind: str = dataclasses.field(init=False, default="slotted")

    got = fj.decode(b'{"a":1}', type=Plain)
    assert vars(got) == vars(Plain(1)) == {"a": 1} and got.kind == "plain"
    s = fj.decode(b'{"a":1}', type=Slotted)
    assert (s.a, s.kind) == (1, "slotted")


@dataclasses.dataclass
class Tree:
    """A recursive dataclass reached through Annotated: the copy of its node the
    schema makes must carry __post_init__ and the init=False fields too."""
    value: int
    children: list[Annotated[Tree, Title("child")]] = dataclasses.field(default_factory=list)
    size: int = dataclasses.field(init=False, default_factory=lambda: -1)

    def __post_init__(self) -> None:
        self.size = 1 + sum(c.size for c in self.children)


def test_recursive_dataclass_through_annotated() -> None:
    got = fj.decode(b'{"value":1,"children":[{"value":2,"children":[{"value":3}]}]}', type=Tree)
    assert got.size == 3 and got.children[0].size == 2 and got.children[0].children[0].size == 1
