"""frostfork.json.decode: strict JSON straight into validated objects (no server)."""

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any, Literal, Optional, TypedDict, Union

import pytest

import frostfork
from frostfork import Ge, Gt, Le, Lt, MaxLen, MinLen, Model, MultipleOf, Pattern, Sensitive
from frostfork import JSONDecodeError
from frostfork.json import decode, encode


class Color(enum.Enum):
    RED = "red"
    ONE = 1


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int = 0


class Tree(Model):
    value: int
    children: list["Tree"] = frostfork.field(default_factory=list)


class Opts(TypedDict, total=False):
    a: int
    b: str


@pytest.mark.parametrize("tp,text,expected", [
    (int, b"42", 42), (int, b"-0", 0), (int, b"123456789012345678901234567890",
                                        123456789012345678901234567890),
    (float, b"1.5e3", 1500.0), (float, b"2", 2.0), (bool, b"true", True), (str, b'"h\\u00e9"', "hé"),
    (str, b'"\\ud83d\\ude00"', "😀"), (Optional[int], b"null", None), (Any, b'{"a":[1,2.5]}',
                                                                      {"a": [1, 2.5]}),
    (list[int], b"[1, 2, 3]", [1, 2, 3]), (set[str], b'["a","a","b"]', {"a", "b"}),
    (tuple[int, str], b'[1,"x"]', (1, "x")), (tuple[int, ...], b"[1,2]", (1, 2)),
    (dict[str, float], b'{"a":1}', {"a": 1.0}), (Literal["a", 1], b"1", 1),
    (Color, b'"red"', Color.RED), (Color, b"1", Color.ONE),
    (datetime.date, b'"2024-02-29"', datetime.date(2024, 2, 29)),
    (datetime.time, b'"12:30:00"', datetime.time(12, 30)),
    (uuid.UUID, b'"12345678123456781234567812345678"', uuid.UUID(int=0x12345678123456781234567812345678)),
    (decimal.Decimal, b"1.10", decimal.Decimal("1.10")),
    (decimal.Decimal, b'"2.5"', decimal.Decimal("2.5")), (bytes, b'"aGk="', b"hi"),
    (Union[int, str], b'"7"', "7"), (Union[int, str], b"7", 7),
    (Point, b'{"x": 1}', Point(1, 0)), (Opts, b'{"b": "z"}', {"b": "z"}),
])
def test_decodes(tp, text, expected):
    value = decode(text, type=tp)
    assert value == expected and type(value) is type(expected)


def test_recursive_model_built_in_c():
    t = decode(b'{"value": 1, "children": [{"value": 2}, {"value": 3, "children": [{"value": 4}]}]}',
               type=Tree)
    assert isinstance(t, Tree) and not hasattr(t, "__dict__")
    assert [c.value for c in t.children] == [2, 3] and t.children[1].children[0].value == 4


@pytest.mark.parametrize("tp,text,err", [
    (int, b'"1"', "int_type"), (int, b"1.5", "int_from_float"), (str, b"1", "string_type"),
    (bool, b"0", "bool_type"), (list[int], b"{}", "list_type"),
    (Annotated[int, Gt(1)], b"1", "greater_than"), (Annotated[int, Lt(1)], b"1", "less_than"),
    (Annotated[float, Ge(0.5)], b"0.25", "greater_than_equal"),
    (Annotated[float, Le(0.5)], b"0.75", "less_than_equal"),
    (Annotated[int, MultipleOf(3)], b"4", "multiple_of"),
    (Annotated[str, MaxLen(2)], b'"abc"', "string_too_long"),
    (Annotated[list[int], MinLen(1)], b"[]", "too_short"),
    (Annotated[str, Pattern("^a")], b'"b"', "string_pattern_mismatch"),
    (Literal["a"], b'"b"', "literal_error"), (Color, b'"blue"', "enum"),
    (Color, b"true", "enum"), (datetime.datetime, b'"yesterday"', "datetime_parsing"),
    (uuid.UUID, b'"nope"', "uuid_parsing"), (bytes, b'"***"', "bytes_invalid_encoding"),
    (tuple[int, int], b"[1]", "too_short"), (Point, b"[]", "model_type"),
    (Point, b"{}", "missing"), (None, b"0", "none_required"),
])
def test_validation_errors(tp, text, err):
    with pytest.raises(frostfork.ValidationError) as e:
        decode(text, type=tp)
    assert [x["type"] for x in e.value.args[0]] == [err]


def test_errors_carry_locations_and_hide_sensitive_input():
    @dataclasses.dataclass
    class Login:
        user: Annotated[str, MinLen(3)]
        secret: Annotated[str, MinLen(8), Sensitive()]
        tags: list[Annotated[str, MaxLen(2)]]

    with pytest.raises(frostfork.ValidationError) as e:
        decode(b'{"user": "ab", "secret": "hunter2", "tags": ["ok", "long"]}', type=Login)
    errors = e.value.args[0]
    assert [x["loc"] for x in errors] == [["user"], ["secret"], ["tags", 1]]
    assert errors[0]["input"] == "ab" and errors[2]["input"] == "long"
    assert "input" not in errors[1] and "hunter2" not in repr(errors)


@pytest.mark.parametrize("text", [
    b"", b"[1,]", b'{"a":1,}', b"NaN", b"Infinity", b"-", b"01", b"1.", b".5", b"1e", b"+1",
    b'"\\x"', b'"\\ud800"', b'"\\udc00x"', b'"a\nb"', b'"\xc3"', b"[1 2]", b'{"a" 1}', b"tru",
    b"[" * 65 + b"]" * 65, b"1 2", b'{"x": 1, "x": 2}',
])
def test_strict_json_errors(text):
    tp = Point if text.startswith(b'{"x"') else Any
    with pytest.raises(frostfork.JSONDecodeError):
        decode(text, type=tp)


def test_unknown_keys_are_skipped_and_duplicates_elsewhere_are_fine():
    assert decode(b'{"x": 1, "zz": {"deep": [1, {"a": null}]}}', type=Point) == Point(1)
    assert decode(b'{"a": 1, "a": 2}', type=dict[str, int]) == {"a": 2}


def test_encode_models_enums_and_friends():
    class Secret(Model):
        name: str
        token: Annotated[str, Sensitive()]

    s = Secret(name="n", token="t0k")
    assert encode(s) == b'{"name":"n"}'
    assert encode(s, include_sensitive=True) == b'{"name":"n","token":"t0k"}'
    assert encode([Point(1, 2), Color.RED, datetime.datetime(2024, 1, 2, 3, 4, 5)]) == \
        b'[{"x":1,"y":2},"red","2024-01-02T03:04:05"]'
    assert decode(encode(Tree(1, [Tree(2)])), type=Tree) == Tree(1, [Tree(2)])


# ---- untyped objects: the keys of the previous object at the same level are tried first ----

@pytest.mark.parametrize("text, want", [
    ('[{"a":1,"b":2},{"a":3,"b":4}]', [{"a": 1, "b": 2}, {"a": 3, "b": 4}]),
    ('[{"ab":1},{"a":2},{"abc":3}]', [{"ab": 1}, {"a": 2}, {"abc": 3}]),
    ('[{"a":1},{"\\u0061":2},{"a":3}]', [{"a": 1}, {"a": 2}, {"a": 3}]),
    ('[{"a\\"b":1},{"a\\"b":2}]', [{'a"b': 1}, {'a"b': 2}]),
    ('[{"b":1,"a":2},{"a":3,"b":4},{"a":5}]', [{"b": 1, "a": 2}, {"a": 3, "b": 4}, {"a": 5}]),
    ('[{"\\u00e9":1},{"\\u00e9":2}]', [{"\u00e9": 1}, {"\u00e9": 2}]),
    ('[{"k":{"x":1}},{"k":{"y":2}},{"k":{"x":3,"y":4}}]',
     [{"k": {"x": 1}}, {"k": {"y": 2}}, {"k": {"x": 3, "y": 4}}]),
])
def test_repeated_object_keys(text, want):
    got = decode(text)
    assert got == want
    assert [list(o) for o in got] == [list(o) for o in want]  # key order kept


@pytest.mark.parametrize("text", ['[{"a":1},{"a"x:2}]', '[{"a":1},{"a":2,"a"]', '[{"a":1},{"a'])
def test_repeated_object_keys_still_checked(text):
    with pytest.raises(JSONDecodeError):
        decode(text)
