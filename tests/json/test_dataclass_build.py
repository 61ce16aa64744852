"""Decoding into dataclasses: the instances the decoder builds.

On CPython 3.11-3.13 the decoder stores a plain dataclass's fields straight into
the instance's inline values (the layout generic setattr writes), at indices found
once per schema. These tests hold it to what generic setattr would have made: the
same attributes, in declaration order, a working __dict__, right reference counts,
and the generic path whenever the class could make the stores differ (a data
descriptor added later, __slots__, too many attributes for the shared key table).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import sys
import weakref
from typing import Any

import pytest

import frostfork.json as fj
from frostfork import ValidationError


@dataclasses.dataclass
class Point:
    x: int
    y: str = "d"
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Inner:
    v: int


@dataclasses.dataclass
class Outer:
    name: str
    inner: Inner
    more: list[Inner] = dataclasses.field(default_factory=list)


def test_fields_and_order_as_generic_setattr() -> None:
    got = fj.decode(b'[{"x":1,"y":"a","tags":["t"]},{"tags":[],"x":2},{"x":3}]', type=list[Point])
    assert got == [Point(1, "a", ["t"]), Point(2, "d", []), Point(3, "d", [])]
    for p in got:
        assert list(vars(p)) == ["x", "y", "tags"]  # declaration order, whatever the input's
    # the instances behave as any other: their dict, new attributes, deletion
    p = got[0]
    p.extra = 5
    assert vars(p) == {"x": 1, "y": "a", "tags": ["t"], "extra": 5}
    del p.y
    assert not hasattr(p, "y") or p.y == "d"  # the class default shows through
    assert vars(p) == {"x": 1, "tags": ["t"], "extra": 5}
    p.y = "back"
    assert list(vars(p)) == ["x", "tags", "extra", "y"]
    q = got[1]
    assert copy.copy(q) == q and copy.deepcopy(q) == q
    assert pickle.loads(pickle.dumps(q)) == q
    assert dataclasses.asdict(q) == {"x": 2, "y": "d", "tags": []}
    assert fj.decode(fj.encode(got), type=list[Point]) == [p, got[1], got[2]]


def test_reference_counts() -> None:
    got = fj.decode(b'{"name":"name-x","inner":{"v":1},"more":[{"v":2},{"v":3}]}', type=Outer)
    inner = weakref.ref(got.inner)
    items = [weakref.ref(i) for i in got.more]
    counts = sys.getrefcount(got.inner), sys.getrefcount(got.more), sys.getrefcount(got.name)
    assert counts == (2, 2, 2)  # the attribute and the call's argument
    del got
    gc.collect()
    assert inner() is None and all(r() is None for r in items)


def test_key_table_in_another_order() -> None:
    """The class's shared key table was filled by an instance that set its
    attributes in another order (and more of them) before the schema existed."""

    @dataclasses.dataclass
    class Rev:
        a: int
        b: int
        c: int

    first = Rev.__new__(Rev)
    first.zz = 0
    first.c = 3
    first.b = 2
    first.a = 1
    got = fj.decode(b'[{"a":10,"b":20,"c":30},{"c":3,"a":1,"b":2}]', type=list[Rev])
    assert got == [Rev(10, 20, 30), Rev(1, 2, 3)]
    assert [vars(r) for r in got] == [{"a": 10, "b": 20, "c": 30}, {"a": 1, "b": 2, "c": 3}]
    assert [list(vars(r)) for r in got] == [["a", "b", "c"]] * 2


def test_class_changed_after_compile() -> None:
    @dataclasses.dataclass
    class C:
        x: int
        y: int

    schema_type = list[C]
    assert fj.decode(b'[{"x":1,"y":2}]', type=schema_type) == [C(1, 2)]
    C.unrelated = 1  # moves the class's version tag
    assert [vars(c) for c in fj.decode(b'[{"x":1,"y":2},{"x":3,"y":4}]', type=schema_type)] == [
        {"x": 1, "y": 2}, {"x": 3, "y": 4}]
    seen = []

    def set_y(self: Any, value: int) -> None:
        seen.append(value)
        self.__dict__["_y"] = value

    C.y = property(lambda self: self.__dict__["_y"] * 10, set_y)  # a data descriptor now
    got = fj.decode(b'[{"x":1,"y":2},{"x":3,"y":4}]', type=schema_type)
    assert seen == [2, 4]  # generic setattr went through the property
    assert [vars(c) for c in got] == [{"x": 1, "_y": 2}, {"x": 3, "_y": 4}]
    assert [c.y for c in got] == [20, 40]
    del C.y
    got = fj.decode(b'[{"x":5,"y":6}]', type=schema_type)
    assert vars(got[0]) == {"x": 5, "y": 6} and seen == [2, 4]


def test_frozen_and_slots_and_inheritance() -> None:
    @dataclasses.dataclass(frozen=True)
    class F:
        a: int
        b: str = "b"

    @dataclasses.dataclass(slots=True)
    class S:
        a: int
        b: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass
    class Base:
        a: int
        b: int = 0

    @dataclasses.dataclass
    class Child(Base):
        c: str = "c"

    f = fj.decode(b'{"a":1}', type=F)
    assert f == F(1) and vars(f) == {"a": 1, "b": "b"} and hash(f) == hash(F(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.a = 2
    s = fj.decode(b'[{"a":1,"b":[2]},{"a":3}]', type=list[S])
    assert s == [S(1, [2]), S(3, [])] and not hasattr(s[0], "__dict__")
    got = fj.decode(b'[{"a":1,"c":"x"},{"a":2,"b":3}]', type=list[Base | Child])
    assert got == [Base(1), Base(2, 3)]
    kids = fj.decode(b'[{"a":1,"c":"x"},{"b":3,"a":2}]', type=list[Child])
    assert kids == [Child(1, 0, "x"), Child(2, 3, "c")]
    assert [list(vars(k)) for k in kids] == [["a", "b", "c"]] * 2
    bases = fj.decode(b'[{"a":1}]', type=list[Base])
    assert type(bases[0]) is Base and vars(bases[0]) == {"a": 1, "b": 0}


def test_post_init_class() -> None:
    """A class with __post_init__: its fields are stored as for any dataclass, then
    the decoder runs __post_init__ on each instance, as __init__ would; what it
    sets lands after the fields, as with __init__."""
    calls = []

    @dataclasses.dataclass
    class P:
        a: int
        b: int = 2

        def __post_init__(self) -> None:
            calls.append(vars(self).copy())
            self.total = self.a + self.b

    got = fj.decode(b'[{"a":1},{"a":3,"b":4}]', type=list[P])
    assert [list(vars(p).items()) for p in got] == [
        list(vars(P(1)).items()), list(vars(P(3, 4)).items())]
    assert [vars(p) for p in got] == [{"a": 1, "b": 2, "total": 3}, {"a": 3, "b": 4, "total": 7}]
    assert calls == [{"a": 1, "b": 2}, {"a": 3, "b": 4}] * 2


def test_many_fields() -> None:
    """More fields than a shared key table holds (30): the generic path."""
    for n in (29, 30, 31, 40):
        cls = dataclasses.make_dataclass(f"Wide{n}", [(f"f{i}", int) for i in range(n)])
        text = "[" + ",".join(
            "{" + ",".join(f'"f{i}":{i + k}' for i in range(n)) + "}" for k in range(3)) + "]"
        got = fj.decode(text.encode(), type=list[cls])
        assert [vars(o) for o in got] == [{f"f{i}": i + k for i in range(n)} for k in range(3)]


def test_errors_build_nothing() -> None:
    with pytest.raises(ValidationError) as ei:
        fj.decode(b'[{"x":1},{"x":"no"},{"y":"a"}]', type=list[Point])
    locs = sorted(tuple(e["loc"]) for e in ei.value.args[0])
    assert locs == [(1, "x"), (2, "x")]
    gc.collect()


def test_ascii_strings_of_every_length() -> None:
    """ASCII strings are built without PyUnicode_New and copied by fixed-size
    moves: every length around the move sizes, as values, keys and at the very
    end of the input, must be an ordinary str."""
    for n in range(0, 70):
        text = "".join(chr(33 + (i * 7) % 90) for i in range(n)).replace('"', "x").replace("\\", "y")
        for got in (fj.decode(f'"{text}"'.encode()), fj.decode(f'"{text}"'.encode(), type=str),
                    fj.decode(f'["{text}"]'.encode(), type=list[str])[0],
                    next(iter(fj.decode(f'{{"{text}":1}}'.encode()))),
                    fj.decode(f'{{"x":1,"y":"{text}"}}'.encode(), type=Point).y):
            assert type(got) is str and got == text and len(got) == n
            assert got.isascii() and got.encode() == text.encode()
            assert hash(got) == hash(text) and {got: 1}[text] == 1
            assert sys.intern(got) == text and got + "é" == text + "é"


def test_declared_keys_matched_as_words() -> None:
    """A model's next key is taken by comparing its quoted text (up to 16 bytes)
    with one or two words of input: every key length, and inputs that differ from
    it in any one byte, or are its prefix or extension, must not be taken for it."""
    for n in range(1, 19):
        name_a = "".join("abcdefghijklmnopqrs"[i] for i in range(n))
        name_b = "z" * n
        cls = dataclasses.make_dataclass(f"K{n}", [(name_a, int), (name_b, int, 0)])
        for tail in ("", " " * 20):  # the object at the very end of the input, or not
            got = fj.decode(f'{{"{name_a}":1,"{name_b}":2}}{tail}'.encode(), type=cls)
            assert (getattr(got, name_a), getattr(got, name_b)) == (1, 2)
            variants = [name_a[:i] + chr(ord(name_a[i]) ^ 1) + name_a[i + 1:] for i in range(n)]
            variants += [name_a[:-1], name_a + "x", name_a + '\\"', "\u00e9" + name_a[1:]]
            for other in variants:
                text = f'{{"{other}":1,"{name_b}":2}}{tail}'
                with pytest.raises(ValidationError) as ei:
                    fj.decode(text.encode(), type=cls)
                assert [e["loc"] for e in ei.value.args[0]] == [[name_a]] or \
                    [tuple(e["loc"]) for e in ei.value.args[0]] == [(name_a,)], (n, other)
