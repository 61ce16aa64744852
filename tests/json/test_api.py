"""frostfork.json's entry points (json/api.c): their arguments, and the schema
cache that finds a type hint's compiled validator without formatting the hint.
The cache must tell apart hints that typing calls equal but that validate
differently: unions in another order, Literal[1] and Literal[True],
Annotated with other metadata."""

from __future__ import annotations

import dataclasses
import sys
import typing
from typing import Annotated, Any, Literal, Optional, Union

import pytest

import frostfork.json as fj
from frostfork import Ge, JSONDecodeError, MaxLen, ValidationError


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


def test_union_order_is_kept_for_every_spelling() -> None:
    assert Union[int, float] == Union[float, int]  # typing's equality ignores the order
    assert type(fj.decode(b"1", type=Union[int, float])) is int
    assert type(fj.decode(b"1", type=Union[float, int])) is float
    assert type(fj.decode(b"1", type=int | float)) is int
    assert type(fj.decode(b"1", type=float | int)) is float
    assert [type(v) for v in fj.decode(b"[1]", type=list[Union[int, float]])] == [int]
    assert [type(v) for v in fj.decode(b"[1]", type=list[Union[float, int]])] == [float]
    assert type(fj.decode(b"1", type=Optional[Union[int, float]])) is int
    # (Optional[Union[float, int]] is not tested: typing's own cache may hand back the
    # Union[int, float, None] made first, which is what any decoder then sees)


def test_literals_of_equal_values_are_different_hints() -> None:
    assert fj.decode(b"1", type=Literal[1]) == 1
    with pytest.raises(ValidationError):
        fj.decode(b"1", type=Literal[True])
    assert fj.decode(b"true", type=Literal[True]) is True
    with pytest.raises(ValidationError):
        fj.decode(b"true", type=Literal[1])


def test_annotated_metadata_is_part_of_the_key() -> None:
    assert fj.decode(b"5", type=Annotated[int, Ge(5)]) == 5
    with pytest.raises(ValidationError):
        fj.decode(b"5", type=Annotated[int, Ge(6)])
    assert fj.decode(b'"ab"', type=Annotated[str, MaxLen(2)]) == "ab"
    with pytest.raises(ValidationError):
        fj.decode(b'"ab"', type=Annotated[str, MaxLen(1)])
    nested = list[Annotated[int, Ge(0)]]
    assert fj.decode(b"[0]", type=nested) == [0]
    with pytest.raises(ValidationError):
        fj.decode(b"[0]", type=list[Annotated[int, Ge(1)]])


def test_one_schema_per_hint_spelled_again() -> None:
    assert fj.schema_of(list[Point]) is fj.schema_of(list[Point])
    assert fj.schema_of(dict[str, Optional[Point]]) is fj.schema_of(dict[str, Optional[Point]])
    assert fj.schema_of(Point) is fj.schema_of(Point)
    assert fj.schema_of(Union[int, str]) is not fj.schema_of(Union[str, int])


def test_metadata_equal_by_value_but_of_other_types_are_other_hints() -> None:
    """Gt(5) == Gt(5.0) as objects, but they make different messages, and a
    Decimal bound on a float is a different validator."""
    from decimal import Decimal

    from frostfork import Gt, MultipleOf

    def annotated(tp: Any, *meta: Any) -> Any:
        """A new Annotated object each call: typing's own cache would hand back the
        first of two hints whose metadata compare equal (that is typing's doing)."""
        return typing._AnnotatedAlias(tp, meta)  # type: ignore[attr-defined]

    a, b = annotated(float, Gt(5)), annotated(float, Gt(5.0))
    assert a == b and fj.schema_of(a) is not fj.schema_of(b)
    assert fj.schema_of(a) is fj.schema_of(annotated(float, Gt(5)))
    c = annotated(Decimal, MultipleOf(Decimal("0.5")))
    d = annotated(Decimal, MultipleOf(0.5))
    assert c == d and fj.schema_of(c) is not fj.schema_of(d)
    assert fj.decode(b'"1.5"', type=c) == Decimal("1.5")
    unhashable = Annotated[int, [1]]  # metadata a dict cannot hold: ignored, as unknown metadata is
    assert fj.decode(b"7", type=unhashable) == 7
    assert fj.schema_of(unhashable) is fj.schema_of(Annotated[int, [1]])


def test_a_hint_too_deep_for_a_key_is_compiled_every_call() -> None:
    hint: Any = int
    for _ in range(40):
        hint = list[hint]
    text = b"[" * 40 + b"1" + b"]" * 40
    assert fj.decode(text, type=hint) is not None
    assert fj.schema_of(hint) is not fj.schema_of(hint)


def test_no_type_is_any() -> None:
    assert fj.decode(b'{"a":[1,2.5,null,true,"s"]}') == {"a": [1, 2.5, None, True, "s"]}
    assert fj.decode(b"[1]", type=Any) == [1]
    assert fj.decode('"text"') == "text"
    assert fj.decode(bytearray(b"[]")) == [] and fj.decode(memoryview(b"{}")) == {}


def test_arguments() -> None:
    with pytest.raises(TypeError, match="positional"):
        fj.decode(b"1", int)  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'typ'"):
        fj.decode(b"1", typ=int)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        fj.decode()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'sensitive'"):
        fj.encode(1, sensitive=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="include_sensitive"):
        fj.encode(Point(1), type=Point, include_sensitive=True)
    with pytest.raises(TypeError):
        fj.decode(123)  # type: ignore[arg-type]
    with pytest.raises(JSONDecodeError):
        fj.decode(b"[1,")


def test_encode_sizes_back_to_back() -> None:
    """The output starts where the last call ended: tiny after huge after tiny."""
    big = {"k": "x" * 100_000}
    for doc in (1, big, "s", [big, big], {}, Point(3, 4)):
        for _ in range(2):
            got = fj.encode(doc)
            assert fj.decode(got) == fj.decode(fj.encode(fj.decode(got)))
    assert fj.encode(Point(3, 4)) == b'{"x":3,"y":4}'
    assert fj.encode(Point(3, 4), type=Point) == b'{"x":3,"y":4}'
    assert len(fj.encode(big)) == 100_000 + 8


def test_cached_schemas_leak_no_references() -> None:
    hint = list[Point]
    fj.decode(b"[]", type=hint)
    before = sys.getrefcount(Point)
    for _ in range(100):
        fj.decode(b'[{"x":1}]', type=list[Point])
        fj.encode([Point(1)], type=list[Point])
    assert sys.getrefcount(Point) == before
