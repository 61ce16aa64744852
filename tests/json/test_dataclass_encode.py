"""Encoding dataclasses: the encoder reads a plain dataclass's fields from the
instance's inline values (or its __dict__ while that still shares the class's
key table) at indices found once per class. These tests hold it to what getattr
per field gives, in every state an instance can be in: fresh from __init__ or
from the decoder, with a __dict__ made, an attribute deleted or added, a field
set in another order, the dict replaced, the class changed after the first
encode, and the layouts it must not touch (slots, properties, many fields)."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import pytest

import frostfork.json as fj


def expected(obj: Any) -> dict[str, Any]:
    """What getattr per field gives, unset fields left out (as the encoder does)."""
    out = {}
    for f in dataclasses.fields(obj):
        try:
            v = getattr(obj, f.name)
        except AttributeError:
            continue
        out[f.name] = expected(v) if dataclasses.is_dataclass(v) else v
    return out


def check(obj: Any) -> None:
    assert json.loads(fj.encode(obj)) == expected(obj)


def make_class(name: str = "Rec") -> type:
    @dataclasses.dataclass
    class Rec:
        a: int
        b: str = "bee"
        c: list[int] = dataclasses.field(default_factory=list)

    Rec.__name__ = Rec.__qualname__ = name
    return Rec


def test_every_instance_state() -> None:
    Rec = make_class()
    fresh = Rec(1, "x", [1])
    check(fresh)
    decoded = fj.decode(b'{"a":2,"c":[3]}', type=Rec)
    check(decoded)
    with_dict = Rec(3)
    vars(with_dict)  # makes the __dict__ object
    check(with_dict)
    with_dict.b = "changed after the dict was made"
    check(with_dict)
    deleted = Rec(4, "own")
    del deleted.b  # the class default shows again
    check(deleted)
    assert b'"b":"bee"' in fj.encode(deleted)
    del deleted.a  # no class default: left out
    check(deleted)
    assert b'"a"' not in fj.encode(deleted)
    extra = Rec(5)
    extra.other = "not a field"  # type: ignore[attr-defined]
    check(extra)
    assert b"other" not in fj.encode(extra)
    reordered = Rec.__new__(Rec)
    reordered.c = [9]
    reordered.b = "b first"
    reordered.a = 6
    check(reordered)
    assert fj.encode(reordered) == b'{"a":6,"b":"b first","c":[9]}'  # declaration order
    replaced = Rec(7)
    replaced.__dict__ = {"a": 70, "b": "new dict", "c": []}
    check(replaced)
    many = Rec(8)
    for i in range(40):  # more attributes than the shared key table holds
        setattr(many, f"x{i}", i)
    many.a = 80
    check(many)


def test_values_change_between_encodes() -> None:
    Rec = make_class()
    obj = Rec(1)
    for v in (2, "s", None, [1, 2], {"k": 1}):
        obj.a = v  # type: ignore[assignment]
        check(obj)


def test_class_changed_after_the_first_encode() -> None:
    Rec = make_class()
    obj = Rec(1, "kept")
    check(obj)
    Rec.unrelated = 1  # type: ignore[attr-defined]  (a new version tag, no descriptor)
    check(obj)
    Rec.b = property(lambda self: "from the property")  # type: ignore[assignment, method-assign]
    assert json.loads(fj.encode(obj))["b"] == "from the property"
    del Rec.b
    check(obj)


def test_layouts_left_to_getattr() -> None:
    @dataclasses.dataclass(slots=True)
    class Slotted:
        a: int
        b: int = 2

    @dataclasses.dataclass
    class WithProperty:
        a: int

        @property
        def b(self) -> int:
            return self.a * 10

    check(Slotted(1))
    assert json.loads(fj.encode(WithProperty(3))) == {"a": 3}
    wide = dataclasses.make_dataclass("Wide", [(f"f{i}", int) for i in range(35)])
    check(wide(*range(35)))


def test_nested_and_subclassed() -> None:
    @dataclasses.dataclass
    class Inner:
        x: int

    @dataclasses.dataclass
    class Outer:
        inner: Inner
        items: list[Inner]

    @dataclasses.dataclass
    class Child(Inner):
        y: int = 0

    obj = Outer(Inner(1), [Inner(2), Child(3, 4)])
    assert json.loads(fj.encode(obj)) == {"inner": {"x": 1},
                                          "items": [{"x": 2}, {"x": 3, "y": 4}]}


def test_reference_counts_unchanged() -> None:
    Rec = make_class()
    value = "a value only this test holds"
    objs = [Rec(i, value) for i in range(50)]
    fj.encode(objs)
    before = sys.getrefcount(value)
    for _ in range(20):
        fj.encode(objs)
    assert sys.getrefcount(value) == before


@pytest.mark.parametrize("n", [1, 29, 30, 31])
def test_field_counts_at_the_table_limits(n: int) -> None:
    cls = dataclasses.make_dataclass(f"F{n}", [(f"f{i}", int) for i in range(n)])
    check(cls(*range(n)))
    check(fj.decode(json.dumps({f"f{i}": i for i in range(n)}).encode(), type=cls))


def test_a_value_that_changes_its_instance_mid_encode() -> None:
    """Writing one field may run Python code (a set subclass's __iter__) that turns
    the instance's __dict__ from split to combined, which frees the values array the
    fields were being read from: the next field must be read from where it is now."""
    @dataclasses.dataclass
    class P:
        a: object
        b: object

    class Meddling(set):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            target.__dict__[0] = "a non-str key makes the dict combined"
            target.__dict__["b"] = ["replaced"]
            return super().__iter__()

    fj.encode(P(1, [2]))  # the class's field table, read in place
    for with_dict in (False, True):
        target = P(Meddling({1}), ["original " * 3])
        if with_dict:
            vars(target)
        assert json.loads(fj.encode(target)) == {"a": [1], "b": ["replaced"]}
