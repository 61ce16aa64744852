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


def test_escapes_at_every_offset_of_a_word():
    # the encoder and the lexer look at strings eight bytes at a time: put each kind of
    # byte at every offset of strings of 0-24 bytes, both ways through the codec
    from frostfork.json import decode
    for n in range(1, 25):
        for pos in range(n):
            for ch in ['"', "\\", "\n", "\x00", "\x1f", "\x7f", "é", "😀"]:
                s = "a" * pos + ch + "b" * (n - pos - 1)
                encoded = json_encode([s, {s: s}])
                assert encoded == json.dumps([s, {s: s}], ensure_ascii=False,
                                             separators=(",", ":")).encode()
                assert decode(encoded) == [s, {s: s}]
                assert decode(json.dumps(s).encode()) == s  # \u escapes


def test_floats_are_written_as_repr_and_read_back_exactly():
    import random
    import struct

    from frostfork.json import decode
    rng = random.Random(13)
    values = [0.0, -0.0, 0.0001, 0.00009999, 1e15, 999999999999999.9, 123.456, 1 / 3, 0.1 + 0.2]
    for _ in range(20000):
        values.append(round(rng.uniform(-1e6, 1e6), rng.randint(0, 12)))
        values.append(rng.uniform(-1, 1) * 10 ** rng.randint(-8, 18))
        bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if bits == bits and abs(bits) != float("inf"):
            values.append(bits)
        # halfway cases for the encoder's own rounding of a * 10**k (ties to even)
        values.append(rng.randint(0, 10**14) + 0.5)
        values.append((rng.randint(0, 10**12) * 2 + 1) / 2 / 10 ** rng.randint(0, 3))
    for v in values:
        encoded = json_encode(v)
        assert encoded == repr(v).encode()
        back = decode(encoded)
        assert back == v and repr(back) == repr(v)


# ---- dataclass fields read from the instance __dict__, dict keys from a per-call cache ----

import dataclasses  # noqa: E402


@dataclasses.dataclass
class _Pt:
    x: int
    y: int = 5


def test_dataclass_fields_in_declaration_order_whatever_the_dict_order():
    p = _Pt.__new__(_Pt)
    p.y = 2
    p.x = 1
    assert json_encode(p) == b'{"x":1,"y":2}'
    assert json_encode([_Pt(3, 4), p, _Pt(5)]) == b'[{"x":3,"y":4},{"x":1,"y":2},{"x":5,"y":5}]'


def test_dataclass_attribute_not_on_the_instance_falls_back_to_getattr():
    p = _Pt.__new__(_Pt)
    p.x = 1  # y never set: getattr finds the class default
    assert json_encode(p) == b'{"x":1,"y":5}'
    q = _Pt.__new__(_Pt)  # x never set and no default: left out, as before
    q.y = 3
    assert json_encode(q) == b'{"y":3}'


def test_a_data_descriptor_added_to_the_class_later_is_honoured():
    @dataclasses.dataclass
    class Late:
        a: int
        b: int

    assert json_encode(Late(1, 2)) == b'{"a":1,"b":2}'
    Late.b = property(lambda self: 42)  # the class changes: its fields are read by getattr again
    obj = Late.__new__(Late)
    obj.__dict__.update(a=1, b=2)
    assert json_encode(obj) == b'{"a":1,"b":42}'


def test_many_distinct_dict_keys_and_keys_that_come_and_go():
    # more keys than the per-call cache has slots, long keys, keys needing escapes, and
    # key objects freed and reallocated during one call (made by a generator-built list)
    keys = [f"k{i}" for i in range(300)] + ["x" * 40, 'q"uote', "tab\t", "\u00e9t\u00e9"]
    doc = [{k: i for i, k in enumerate(keys)} for _ in range(3)]
    doc.append([{str(i) * (i % 7 + 1): i} for i in range(200)])
    assert json.loads(json_encode(doc)) == doc
    assert json_encode(doc) == json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def test_depth_limit_counts_the_innermost_scalar():
    # 128 lists around a 0 encode; 129 do not (the scalar inside is level 129)
    def nest(n):
        v = 0
        for _ in range(n):
            v = [v]
        return v

    assert json_encode(nest(128)) == b"[" * 128 + b"0" + b"]" * 128
    with pytest.raises(ValueError, match="nesting"):
        json_encode(nest(129))


def test_other_mappings_are_written_as_objects():
    """request.headers, a mappingproxy, a user's Mapping: written as dict(o) is."""
    import types
    from collections.abc import Mapping

    from frostfork.datastructures import Headers

    class Pairs(Mapping):
        def __init__(self, pairs):
            self.d = dict(pairs)

        def __getitem__(self, k):
            return self.d[k]

        def __iter__(self):
            return iter(self.d)

        def __len__(self):
            return len(self.d)

    assert json.loads(json_encode(Pairs([("a", 1), ("b", [2])]))) == {"a": 1, "b": [2]}
    assert json.loads(json_encode(types.MappingProxyType({"x": None}))) == {"x": None}
    h = Headers([("X-Forwarded-For", "127.0.0.1"), ("Accept", "*/*")])
    assert json.loads(json_encode({"headers": h})) == {"headers": {"x-forwarded-for": "127.0.0.1",
                                                                   "accept": "*/*"}}
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_encode(object())


def test_output_sizes_across_the_size_hint_and_through_growth():
    # json_encode writes into the bytes object it returns, sized from the last
    # call's output: outputs smaller and larger than that (growing several
    # times in one call), and errors halfway, must all come out whole.
    sizes = [0, 1, 5, 1000, 1023, 1024, 1025, 5000, 300_000, 10, 2_000_000, 3, 70_000]
    for n in sizes:
        value = ["x" * 7] * (n // 10) + ["y" * (n % 10)]
        got = json_encode(value)
        assert type(got) is bytes
        assert got == json.dumps(value, separators=(",", ":")).encode()
        assert json.loads(got) == value
    with pytest.raises(TypeError):
        json_encode(["a" * 100] * 50_000 + [object()])
    assert json_encode({"after": "error"}) == b'{"after":"error"}'
