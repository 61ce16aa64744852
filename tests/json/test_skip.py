"""A field a model does not declare is skipped by the C lexer (ff_json_skip)
without building it. Skipped or decoded, the same text must get the same
verdict: accepted, or refused with the same message at the same byte. Each
input below goes once into a model that skips it and once into `Any`, which
builds it, and Python's own decoders are the reference for what is valid."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import frostfork
from frostfork.json import decode


class Known(frostfork.Model):
    known: int


class Holder(frostfork.Model):
    known: int
    extra: Any


FRAGMENTS = [
    b"0", b"-0", b"1.5e3", b"12345678901234567890123", b"true", b"false", b"null",
    b'""', b'"plain"', b'"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t"', b'"\\u00e9\\ud83d\\ude00"',
    b'[]', b'{}', b'[1, [2, [3, {"a": [null]}]]]', b'{"k": {"k": {"k": "v"}}}',
    b" [ 1 ,\n 2 ]\t",
    # refused
    b"", b"01", b"1.", b"-", b".5", b"+1", b"NaN", b"Infinity", b"tru", b"nulll",
    b'"open', b'"\\x"', b'"\\u12"', b'"\\ud800"', b'"\\udc00x"', b'"a\x01"',
    b"[1,]", b"[1 2]", b'{"a":1,}', b'{"a" 1}', b"{1:2}", b"[", b"{", b'{"a":', b"]",
    b"[" * 70 + b"]" * 70, b"[" * 60 + b"]" * 60,
]


def verdict(text: bytes, typ: type) -> tuple[str, Any]:
    try:
        return "ok", decode(text, type=typ)
    except frostfork.JSONDecodeError as e:
        return "syntax", str(e)
    except frostfork.ValidationError as e:
        return "invalid", e.errors()


def compare(fragment: bytes) -> None:
    text = b'{"known": 1, "extra": ' + fragment + b'}'
    skipped = verdict(text, Known)
    built = verdict(text, Holder)
    assert skipped[0] == built[0], (fragment, skipped, built)
    if skipped[0] == "syntax":
        assert skipped[1] == built[1], fragment
    elif skipped[0] == "ok":
        assert skipped[1].known == 1
        try:
            alone = json.loads(fragment.decode("utf-8"))
        except ValueError:
            return  # a mutation that became `value, "other": value`: both took it
        assert built[1].extra == alone  # and Python agrees the value is valid


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=range(len(FRAGMENTS)))
def test_skipped_and_decoded_fields_get_the_same_verdict(fragment):
    compare(fragment)


def test_utf8_edges_get_the_same_verdict():
    """Every lead byte, with continuation bytes at the edges of its ranges."""
    for lead in range(0x80, 0x100):
        for cont in (b"\x80", b"\x8f", b"\x90", b"\x9f", b"\xa0", b"\xbf", b"\xc0", b"A"):
            compare(b'"' + bytes([lead]) + cont + b'\x80\x80"')
            compare(b'"' + bytes([lead]) + cont + b'"')


def test_utf8_verdict_matches_python():
    """The lexer's UTF-8 check (used when skipping) against Python's strict
    decoder, on every two-byte and a sample of three- and four-byte strings."""
    rng = random.Random(5)
    samples = [bytes([a, b]) for a in range(0x80, 0x100) for b in range(0x70, 0x100)]
    samples += [bytes(rng.randrange(0x80, 0x100) for _ in range(n)) for n in (3, 4) for _ in range(4000)]
    samples += [bytes([0xE0 | rng.randrange(16), rng.randrange(0x80, 0xC0), rng.randrange(0x80, 0xC0)])
                for _ in range(3000)]
    samples += [bytes([0xF0 | rng.randrange(5), rng.randrange(0x80, 0xC0), rng.randrange(0x80, 0xC0),
                       rng.randrange(0x80, 0xC0)]) for _ in range(3000)]
    wrong = []
    for raw in samples:
        try:
            raw.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        ok, _ = verdict(b'{"known": 1, "extra": "' + raw + b'"}', Known)
        if (ok == "ok") != valid:
            wrong.append(raw)
    assert not wrong, f"{len(wrong)} judged unlike Python, e.g. {wrong[:5]}"


def test_random_mutations_get_the_same_verdict():
    """Seeded byte-level mutations of valid documents: bounded, reproducible."""
    rng = random.Random(11)
    seeds = [f for f in FRAGMENTS[:16] if f]
    alphabet = b'[]{}",:\\ u0123456789eE.+-tfnrlasx\x01\x7f\xc3\xa9\xed\xa0\xf4\x90'
    for _ in range(3000):
        b = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(3)
            i = rng.randrange(len(b) + 1)
            if op == 0:
                b[i:i] = bytes([rng.choice(alphabet)])
            elif op == 1 and b:
                del b[min(i, len(b) - 1)]
            elif b:
                b[min(i, len(b) - 1)] = rng.choice(alphabet)
        compare(bytes(b))
