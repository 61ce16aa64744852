"""json/shape.c: a value written as its declared type (response models).

frostfork.json.encode(obj, type=T): only T's fields, read from whatever the
value is (model, dataclass, dict, mapping, plain object); Sensitive fields
never; a misfit is a ValueError naming where and why, and nothing partial.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import random
import sqlite3
import types
import uuid
from typing import Annotated, Any, Literal, Optional, TypedDict

import pydantic
import pytest

import frostfork
from frostfork import MaxLen, MinLen, Sensitive
from frostfork.json import decode, encode
from frostfork.json import encode as plain_encode


@dataclasses.dataclass
class UserOut:
    id: int
    name: str
    email: str | None = None


@dataclasses.dataclass
class UserRow:
    id: int
    name: str
    email: str
    password_hash: str


class Account(frostfork.Model):
    id: int
    name: str
    password: Annotated[str, Sensitive()]
    tags: list[str] = frostfork.field(default_factory=list)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Page:
    items: list[UserOut]
    total: int


class TD(TypedDict, total=False):
    a: int
    b: str


def loads(b: bytes) -> Any:
    return json.loads(b)


def test_db_row_loses_the_fields_the_type_omits():
    row = UserRow(1, "ann", "a@x", "bcrypt$secret")
    out = encode(row, type=UserOut)
    assert loads(out) == {"id": 1, "name": "ann", "email": "a@x"}
    assert b"password" not in out and b"secret" not in out


def test_dict_and_mapping_sources():
    d = {"id": 2, "name": "bo", "email": None, "password_hash": "x"}
    assert loads(encode(d, type=UserOut)) == {"id": 2, "name": "bo", "email": None}
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute("create table u(id integer, name text, email text, password_hash text)")
    db.execute("insert into u values (3, 'cy', 'c@x', 'h')")
    row = db.execute("select * from u").fetchone()
    assert loads(encode(row, type=UserOut)) == {"id": 3, "name": "cy", "email": "c@x"}
    ns = types.SimpleNamespace(id=4, name="di", password_hash="h")
    assert loads(encode(ns, type=UserOut)) == {"id": 4, "name": "di", "email": None}  # default


def test_sensitive_fields_are_never_written():
    a = Account(1, "ann", "hunter2hunter2", ["x"])
    out = encode(a, type=Account)
    assert loads(out) == {"id": 1, "name": "ann", "tags": ["x"]}
    assert b"hunter2" not in out
    # also when the value comes from a dict that has it
    out = encode({"id": 1, "name": "a", "password": "pw", "tags": []}, type=Account)
    assert b"pw" not in out


def test_exact_model_matches_the_plain_encoder():
    a = Account(1, "ann", "pw", ["x", "y"])
    assert encode(a, type=Account) == plain_encode(a)
    u = UserOut(1, "a\"b\\c\n", "é")
    assert encode(u, type=UserOut) == plain_encode(u)


def test_nested_list_of_models():
    rows = [UserRow(i, f"u{i}", f"{i}@x", "h") for i in range(3)]
    out = loads(encode({"items": rows, "total": 3}, type=Page))
    assert out == {"items": [{"id": i, "name": f"u{i}", "email": f"{i}@x"} for i in range(3)],
                   "total": 3}
    assert loads(encode(rows, type=list[UserOut]))[2]["name"] == "u2"


@pytest.mark.parametrize("value,tp,why,where", [
    ({"id": "1", "name": "a"}, UserOut, "expected int, got str", "$.id"),
    ({"name": "a"}, UserOut, "field required", "$.id"),
    ({"items": [{"id": 1, "name": "a"}, {"id": 2, "name": 5}], "total": 2}, Page,
     "expected str, got int", "$.items[1].name"),
    ([1, 2, "x"], list[int], "expected int, got str", "$[2]"),
    ({"k": [1, None]}, dict[str, list[int]], "expected int, got NoneType", "$.k[1]"),
    (True, int, "expected int, got bool", "$"),
    (float("nan"), float, "finite", "$"),
    ("purple", Color, "expected Color", "$"),
    ("c", Literal["a", "b"], "Literal", "$"),
    ((1, 2, 3), tuple[int, int], "tuple of 2 items", "$"),
    ("ab", Annotated[str, MinLen(3)], "minimum 3", "$"),
    ([1, 2, 3], Annotated[list[int], MaxLen(2)], "maximum 2", "$"),
    ("no", uuid.UUID, "UUID", "$"),
    (datetime.datetime(2024, 1, 1), datetime.date, "expected date, got datetime", "$"),
    ({1: 2}, dict[str, int], "key is not a str", "$"),
    (3, str | None, "union", "$"),
])
def test_misfits_name_where_and_why(value, tp, why, where):
    with pytest.raises(ValueError) as e:
        encode(value, type=tp)
    msg = str(e.value)
    assert why in msg and f"at {where}:" in msg, msg


def test_scalars_and_conversions():
    assert encode(3, type=float) == b"3.0"
    assert encode(Color.RED, type=Color) == b'"red"'
    assert encode("blue", type=Color) == b'"blue"'
    u = uuid.UUID(int=5)
    assert encode(str(u).upper(), type=uuid.UUID) == f'"{u}"'.encode()
    assert encode(2, type=decimal.Decimal) == b'"2"'
    assert encode(0.1, type=decimal.Decimal) == b'"0.1"'
    assert encode(datetime.date(2024, 2, 3), type=datetime.date) == b'"2024-02-03"'
    assert encode({1, 2}, type=set[int]) in (b"[1,2]", b"[2,1]")
    assert encode((x for x in range(3)), type=list[int]) == b"[0,1,2]"
    assert encode(None, type=Optional[UserOut]) == b"null"
    assert encode({"a": 1}, type=TD) == b'{"a":1}'
    assert encode({"x": {"y": 1}}, type=Any) == b'{"x":{"y":1}}'
    assert encode(b"\x00\xff", type=bytes) == b'"AP8="'


def test_union_drops_what_a_failed_option_wrote():
    @dataclasses.dataclass
    class A:
        x: int
        y: int

    @dataclasses.dataclass
    class B:
        x: int
        z: str

    out = encode({"x": 1, "z": "s"}, type=A | B)  # A writes {"x":1, then fails on y
    assert loads(out) == {"x": 1, "z": "s"}


def test_default_factory_and_optional_keys():
    @dataclasses.dataclass
    class D:
        a: int
        b: list[int] = dataclasses.field(default_factory=lambda: [7])

    assert loads(encode({"a": 1}, type=D)) == {"a": 1, "b": [7]}


def test_errors_raised_by_the_value_propagate():
    class Boom:
        id = 1

        @property
        def name(self):
            raise RuntimeError("db gone")

    with pytest.raises(RuntimeError, match="db gone"):
        encode(Boom(), type=UserOut)


def test_recursive_model():
    @dataclasses.dataclass
    class Node:
        v: int
        kids: list[Node]

    Node.__annotations__["kids"] = list[Node]
    t = Node(1, [Node(2, []), Node(3, [Node(4, [])])])
    assert loads(encode(t, type=Node)) == dataclasses.asdict(t)


def test_depth_limit_is_a_misfit_not_a_crash():
    @dataclasses.dataclass
    class Chain:
        next: Optional[Chain]

    Chain.__annotations__["next"] = Optional[Chain]
    c = None
    for _ in range(300):
        c = Chain(c)
    with pytest.raises(ValueError, match="deep"):
        encode(c, type=Chain)


# ---- property: random values and types against pydantic (from_attributes) ----

@dataclasses.dataclass
class Inner:
    n: int
    s: str
    f: float | None = None


@dataclasses.dataclass
class Outer:
    inner: Inner
    items: list[Inner]
    tags: dict[str, int]
    flag: bool
    when: datetime.date


class _PInner(pydantic.BaseModel):
    n: int
    s: str
    f: Optional[float] = None


class _POuter(pydantic.BaseModel):
    inner: _PInner
    items: list[_PInner]
    tags: dict[str, int]
    flag: bool
    when: datetime.date


def _rand_inner(r: random.Random, extra: bool) -> Any:
    d = {"n": r.randint(-10**12, 10**12), "s": "".join(r.choice("ab\"\\\né✓ \x01") for _ in
                                                       range(r.randint(0, 12)))}
    if r.random() < 0.5:
        d["f"] = r.choice([None, r.uniform(-1e6, 1e6), 0.1, 1e300])
    if extra:
        d["secret"] = "leak"
    kind = r.randrange(3)
    if kind == 0:
        return d
    if kind == 1:
        return types.SimpleNamespace(**d)
    return Inner(**{k: v for k, v in d.items() if k != "secret"})


def test_property_against_pydantic_from_attributes():
    r = random.Random(11)
    adapter = pydantic.TypeAdapter(_POuter)
    for _ in range(300):
        value = {
            "inner": _rand_inner(r, r.random() < 0.5),
            "items": [_rand_inner(r, r.random() < 0.5) for _ in range(r.randint(0, 4))],
            "tags": {f"k{i}": r.randint(0, 9) for i in range(r.randint(0, 3))},
            "flag": r.random() < 0.5,
            "when": datetime.date(2000 + r.randint(0, 30), r.randint(1, 12), r.randint(1, 28)),
            "junk": object(),
        }
        source = value if r.random() < 0.5 else types.SimpleNamespace(**value)
        ours = encode(source, type=Outer)
        assert b"leak" not in ours
        theirs = adapter.dump_json(adapter.validate_python(source, from_attributes=True))
        assert json.loads(ours) == json.loads(theirs)
        assert decode(ours, type=Outer) is not None  # what we write reads back as the type


def test_odd_mappings_are_misfits_not_crashes():
    class Odd(dict):
        pass

    class Weird:
        def keys(self):
            return ["a"]

        def __getitem__(self, k):
            return 1

        def __len__(self):
            return 1

        def items(self):
            return [1, 2]

    import collections.abc
    collections.abc.Mapping.register(Weird)
    assert json.loads(encode(Odd(a=1), type=dict[str, int])) == {"a": 1}
    with pytest.raises(ValueError, match="not \\(key, value\\) pairs"):
        encode(Weird(), type=dict[str, int])
