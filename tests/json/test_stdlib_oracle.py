"""Untyped decode against the standard library's json, on generated documents.

The oracle is fuzz/fuzz_json_types.py's `differential` (the fuzz target runs it on
every input too): same value with the same types and key order when frostfork
decodes, a refusal by json too when frostfork refuses, except where frostfork is
stricter by design (NaN/Infinity, lone surrogates, nesting past 64, non-UTF-8).
Documents: random values written by json.dumps in several styles, then each of
them cut, spliced and byte-flipped; plus the fuzz corpus seeds. Deterministic
(fixed seeds) and bounded in count.
"""

import importlib.util
import json
import math
import pathlib
import random
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fuzz_json_types", ROOT / "fuzz" / "fuzz_json_types.py")
oracle = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("fuzz_json_types", oracle)  # its dataclasses look their module up
_spec.loader.exec_module(oracle)

TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"\\ud800", b"\\udc00", b"\\ud83d\\ude00", b"\\u0000",
          b"\xef\xbb\xbf", b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"1e400",
          b"-0", b"0.0e0", b"01", b"1.", b".5", b"1e", b"+1", b"tru", b"nul", b",", b":", b"]",
          b"}", b"[", b"{", b'"', b"\\", b"\t", b"\x1f", b" ", b"\xc3\xa9", b"\xe2\x82\xac"]


def rand_str(rng: random.Random) -> str:
    alphabet = "abcXYZ 09_-\"\\/\b\f\n\r\t\x00\x1f\x7f\u00e9\u20ac\u2028\U0001f600"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def rand_value(rng: random.Random, depth: int = 0):
    k = rng.randint(0, 9 if depth < 4 else 5)
    if k == 0:
        return None
    if k == 1:
        return rng.random() < 0.5
    if k == 2:
        return rng.choice([0, -1, 7, 2**31, -(2**63), 2**64 + 1, 10**30, rng.randint(-10**6, 10**6)])
    if k == 3:
        return rng.choice([0.0, -0.0, 0.1, 1e-7, 1e22, 1e300, 5e-324, 1.7976931348623157e308,
                           rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-30, 30)])
    if k in (4, 5):
        return rand_str(rng)
    if k in (6, 7):
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {rand_str(rng): rand_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def documents(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        v = rand_value(rng)
        style = rng.randint(0, 2)
        text = json.dumps(v, ensure_ascii=style == 0,
                          indent=2 if style == 2 else None).encode()
        yield text
        for _ in range(3):  # a broken variant of it
            b = bytearray(text)
            op = rng.randint(0, 3)
            at = rng.randint(0, len(b))
            if op == 0:
                b = b[:at]
            elif op == 1:
                b[at:at] = rng.choice(TOKENS)
            elif op == 2 and b:
                b[min(at, len(b) - 1)] = rng.randint(0, 255)
            else:
                b[at:at + rng.randint(1, 3)] = b""
            yield bytes(b)


@pytest.mark.parametrize("seed", range(8))
def test_untyped_decode_agrees_with_stdlib_json(seed):
    n = 0
    for text in documents(seed, 250):
        oracle.differential(text)
        n += 1
    assert n == 1000


def test_corpus_seeds_agree_with_stdlib_json():
    seeds = sorted((ROOT / "fuzz" / "corpus" / "fuzz_json").iterdir())
    assert seeds
    for path in seeds:
        data = path.read_bytes()
        if data:
            oracle.differential(data[1:])


@pytest.mark.parametrize("text", [
    b"NaN", b"[Infinity]", b'"\\ud800"', b"[" * 65 + b"]" * 65, b"\xef\xbb\xbf1", b'"\xff"',
])
def test_stricter_than_json_on_purpose(text):
    # json reads these (or its str form does); frostfork refuses them by design and the
    # oracle knows it
    oracle.differential(text)


def test_oracle_tells_types_order_and_sign_apart():
    assert oracle._same({"a": [1, 2.0, None]}, {"a": [1, 2.0, None]})
    assert not oracle._same(1, 1.0)
    assert not oracle._same(1, True)
    assert not oracle._same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not oracle._same(0.0, -0.0)


def test_floats_round_trip_exactly():
    rng = random.Random(13)
    from frostfork.json import decode, encode
    for _ in range(20000):
        x = rng.choice([rng.random() * 10 ** rng.randint(-320, 308),
                        struct_float(rng.getrandbits(64))])
        if not math.isfinite(x):
            continue
        assert decode(encode(x)) == x
        assert encode(x) == repr(x).encode()


def struct_float(bits: int) -> float:
    import struct
    return struct.unpack("<d", bits.to_bytes(8, "little"))[0]
