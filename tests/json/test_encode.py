"""The C JSON encoder against the standard library's output."""

import json

import pytest

from frostfork._core import json_encode

CASES = [
    {}, [], "", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\n\r\t\b\f", "héllo ✓ 😀",
    0, -1, 2**63 - 1, -(2**63), 2**100, -(2**200), 1.0, -0.5, 1e300, 5e-324, 0.1,
    True, False, None, {"a": [1, 2, {"b": None}], "c": "d"}, (1, "two"),
    [[[[[]]]]], {"k" * 1000: "v" * 10000},
]


@pytest.mark.parametrize("value", CASES, ids=range(len(CASES)))
def test_matches_stdlib(value):
    encoded = json_encode(value)
    assert json.loads(encoded) == json.loads(json.dumps(value))
    assert encoded == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("value,exc", [
    (float("nan"), ValueError), (float("inf"), ValueError), ({1: 2}, TypeError),
    (object(), TypeError), ({"x": [1, object()]}, TypeError), ("\ud800", UnicodeEncodeError),
])
def test_rejects(value, exc):
    with pytest.raises(exc):
        json_encode(value)


def test_depth_limit():
    deep: list = []
    cur = deep
    for _ in range(200):
        nxt: list = []
        cur.append(nxt)
        cur = nxt
    with pytest.raises(ValueError, match="nesting"):
        json_encode(deep)
