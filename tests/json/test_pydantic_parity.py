"""frostfork.json.decode against pydantic on generated inputs.

frostfork's JSON bodies are strict (docs/migration.md), so the reference is
pydantic's strict JSON mode: `TypeAdapter(T).validate_json(text, strict=True)`.
For every type family below, a seeded generator makes valid and nearly-valid
JSON texts (a bounded number per family, the same every run) and both
decoders must agree: both refuse, or both accept with equal values of the
same types. A disagreement passes only when one of KNOWN_DIFFERENCES
recognizes it; each of those says why frostfork differs on purpose, and
test_each_known_difference_still_holds shows it on one example, so the list
cannot outlive the behaviour it describes.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import random
import typing
import uuid
from typing import Any, Callable, Literal, Optional, Union

import pydantic  # pinned in requirements-dev.txt: a missing reference is an error, not a skip
import pytest

from frostfork.json import decode

EXAMPLES_PER_FAMILY = 1000
SEED = 20261130


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mixed(enum.Enum):
    ONE = 1
    HALF = 0.5
    NAME = "name"


# ---------------------------------------------------------------------------
# outcomes and their comparison
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    ok: bool
    value: Any = None


def run_frostfork(tp, text: str) -> Outcome:
    try:
        return Outcome(True, decode(text.encode(), type=tp))
    except ValueError:  # ValidationError and JSONDecodeError
        return Outcome(False)


_ADAPTERS: dict[Any, Any] = {}


def run_pydantic(tp, text: str) -> Outcome:
    key = (tp, repr(tp))  # Union[int, float] == Union[float, int]: keep them apart
    adapter = _ADAPTERS.get(key)
    if adapter is None:
        adapter = _ADAPTERS[key] = pydantic.TypeAdapter(tp)
    try:
        return Outcome(True, adapter.validate_json(text, strict=True))
    except pydantic.ValidationError:
        return Outcome(False)


def same_value(a, b) -> bool:
    """Equal and of the same types all the way down; an aware datetime or time
    also keeps its offset (pydantic's TzInfo and datetime.timezone are two
    classes for the same thing)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (datetime.datetime, datetime.time)):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None) and a.utcoffset() == b.utcoffset()
    if isinstance(a, decimal.Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return a == b


def agree(ff: Outcome, pd: Outcome) -> bool:
    return ff.ok == pd.ok and (not ff.ok or same_value(ff.value, pd.value))


# ---------------------------------------------------------------------------
# intended differences
# ---------------------------------------------------------------------------

def _args(tp) -> tuple:
    return typing.get_args(tp)


def _is_union(tp) -> bool:
    return typing.get_origin(tp) is Union


def _json_scalar(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _first_option_that_accepts(tp, text: str) -> Outcome:
    for option in _args(tp):
        got = run_frostfork(option, text)
        if got.ok:
            return got
    return Outcome(False)


def _union_first_match(tp, text, ff, pd) -> bool:
    # Both accept, with different options: frostfork's is the first in
    # declaration order that accepts the input.
    return (_is_union(tp) and ff.ok and pd.ok
            and same_value(ff.value, _first_option_that_accepts(tp, text).value))


def _choices(tp) -> list:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [m.value for m in tp]
    if typing.get_origin(tp) is Literal:
        return list(_args(tp))
    if _is_union(tp):
        return [c for option in _args(tp) for c in _choices(option)]
    return []


def _loose_choice_match(tp, text, ff, pd) -> bool:
    # pydantic matches a JSON value to a Literal / Enum choice by Python
    # equality, under which true == 1 == 1.0; frostfork wants the JSON type
    # to be the choice's type too.
    value = _json_scalar(text)
    return (not ff.ok and pd.ok and value is not None
            and any(value == c and type(value) is not type(c) for c in _choices(tp)))


def _unix_time_string(tp, text, ff, pd) -> bool:
    # pydantic reads a string of digits as Unix time; frostfork reads RFC 3339
    # text only, so "1700000000" is not a datetime ("00000000" not a date).
    value = _json_scalar(text)
    return ({datetime.datetime, datetime.date} & {tp, *_args(tp)} and not ff.ok and pd.ok
            and isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit())


def _decimal_from_exact_digits(tp, text, ff, pd) -> bool:
    # A JSON number for a Decimal: pydantic parses it as a float first (so
    # long numbers are rounded to 17 digits and 1e400 overflows and is
    # refused); frostfork takes the number's exact digits.
    value = _json_scalar(text)
    return (decimal.Decimal in (tp, *_args(tp)) and ff.ok
            and isinstance(value, (int, float)) and not isinstance(value, bool)
            and ff.value.as_tuple() == decimal.Decimal(text).as_tuple()
            and (not pd.ok or math.isclose(pd.value, float(text), rel_tol=1e-15)))


@dataclasses.dataclass(frozen=True)
class Difference:
    name: str
    reason: str
    applies: Callable[[Any, str, Outcome, Outcome], bool]
    example: tuple[Any, str]  # a (type, JSON text) that shows it


KNOWN_DIFFERENCES = [
    Difference(
        "union-in-declaration-order",
        "a union takes the first option, in declaration order, that accepts the value "
        "(Union[float, int] makes 1 a float); pydantic's smart mode prefers an option whose "
        "type matches exactly. Declaration order is predictable from the annotation alone.",
        _union_first_match, (Union[float, int], "1")),
    Difference(
        "choices-match-type-and-value",
        "Literal and Enum choices match a JSON value of the same type only: true is not 1 and "
        "1.0 is not 1 (pydantic compares with Python's ==, under which they are equal).",
        _loose_choice_match, (Literal[1], "true")),
    Difference(
        "no-unix-time-strings",
        "a datetime or date is RFC 3339 text; pydantic also reads a string of digits as Unix "
        "time (and \"00000000\" as 1970-01-01), which a strict API does not guess at.",
        _unix_time_string, (datetime.datetime, '"1700000000"')),
    Difference(
        "decimal-from-exact-digits",
        "a JSON number for a Decimal keeps its exact digits (and exponent); pydantic converts "
        "it to a float first, so long numbers are rounded and those beyond the float range "
        "refused. Exact digits are what a Decimal is for.",
        _decimal_from_exact_digits, (decimal.Decimal, "0.10000000000000000001")),
]


# ---------------------------------------------------------------------------
# generators: one per family, each yielding (type, JSON text)
# ---------------------------------------------------------------------------

def _pick(rnd: random.Random, *options):
    return options[rnd.randrange(len(options))]


def _date_text(rnd: random.Random) -> str:
    y = _pick(rnd, rnd.randint(1, 9999), 2024, 2026, 1900, 2000, 0)
    m = _pick(rnd, rnd.randint(1, 12), 2, 0, 13)
    d = _pick(rnd, rnd.randint(1, 28), 29, 30, 31, 0, 32)
    form = rnd.randrange(10)
    if form == 0:
        return f"{y:04d}{m:02d}{d:02d}"                    # basic form
    if form == 1:
        return f"{y:04d}-W{rnd.randint(1, 53):02d}-{rnd.randint(1, 7)}"  # week date
    if form == 2:
        return f"{y}-{m}-{d}"                               # unpadded
    return f"{y:04d}-{m:02d}-{d:02d}"


def _time_text(rnd: random.Random) -> str:
    h = _pick(rnd, rnd.randint(0, 23), 23, 24, 0)
    mi = _pick(rnd, rnd.randint(0, 59), 59, 60)
    s = _pick(rnd, rnd.randint(0, 59), 59, 60)
    text = f"{h:02d}:{mi:02d}"
    form = rnd.randrange(12)
    if form == 0:
        return f"{h:02d}{mi:02d}{s:02d}"                    # basic form
    if form == 1:
        return f"{h:02d}"
    if form == 2:
        text += f".{rnd.randint(0, 9)}"                     # fraction without seconds
    elif form != 3:
        text += f":{s:02d}"
        if rnd.random() < 0.5:
            text += _pick(rnd, ".", ",") + "".join(
                str(rnd.randrange(10)) for _ in range(_pick(rnd, 0, 1, 3, 6, 7, 9, 12)))
    zone = rnd.randrange(12)
    if zone < 5:
        return text
    if zone == 5:
        return text + _pick(rnd, "Z", "z", "UTC", " Z")
    oh, om = _pick(rnd, rnd.randint(0, 23), 24, 99), _pick(rnd, rnd.randint(0, 59), 60)
    sign = _pick(rnd, "+", "-", "\u2212")
    return text + _pick(rnd, f"{sign}{oh:02d}:{om:02d}", f"{sign}{oh:02d}{om:02d}",
                        f"{sign}{oh:02d}", f"{sign}{oh:02d}:{om:02d}:00")


def _datetime_text(rnd: random.Random) -> str:
    form = rnd.randrange(14)
    if form == 0:
        return _date_text(rnd)                              # a date alone
    if form == 1:
        return str(_pick(rnd, rnd.randint(0, 2_000_000_000), "1700000000.5", "-1", "1e9"))
    if form == 2:
        return f" {_date_text(rnd)}T{_time_text(rnd)} "
    sep = _pick(rnd, "T", "T", "t", " ", "_", "x", "")
    return f"{_date_text(rnd)}{sep}{_time_text(rnd)}"


def _uuid_text(rnd: random.Random) -> str:
    u = uuid.UUID(int=rnd.getrandbits(128))
    form = rnd.randrange(12)
    s = str(u)
    if form == 0:
        return u.hex
    if form == 1:
        return s.upper()
    if form == 2:
        return "{" + s + "}"
    if form == 3:
        return "urn:uuid:" + s
    if form == 4:
        return "{" + u.hex + "}"
    if form == 5:
        i = rnd.randrange(len(u.hex))
        return u.hex[:i] + "-" + u.hex[i:]                  # a hyphen out of place
    if form == 6:
        return s[:-1]
    if form == 7:
        return s + _pick(rnd, "0", " ", "}")
    if form == 8:
        return s.replace(s[rnd.randrange(len(s))], "g", 1)
    return s


def _string(text: str) -> str:
    return json.dumps(text)


def gen_datetime(rnd):
    if rnd.random() < 0.05:
        return datetime.datetime, str(rnd.randint(0, 2_000_000_000))   # a JSON number
    return datetime.datetime, _string(_datetime_text(rnd))


def gen_date(rnd):
    form = rnd.randrange(10)
    if form == 0:
        return datetime.date, _string(_datetime_text(rnd))
    if form == 1:
        return datetime.date, str(rnd.randint(0, 2_000_000_000))
    return datetime.date, _string(_date_text(rnd))


def gen_time(rnd):
    return datetime.time, _string(_time_text(rnd))


def gen_uuid(rnd):
    return uuid.UUID, _string(_uuid_text(rnd))


def _number_text(rnd: random.Random) -> str:
    sign = _pick(rnd, "", "", "-")
    digits = str(rnd.randint(0, 10 ** rnd.randint(1, 30)))
    frac = _pick(rnd, "", "", f".{rnd.randint(0, 10 ** rnd.randint(1, 20))}")
    exp = _pick(rnd, "", "", "", f"e{rnd.randint(-400, 400)}", f"E+{rnd.randint(0, 30)}")
    return sign + digits + frac + exp


def gen_decimal(rnd):
    form = rnd.randrange(8)
    if form < 4:
        return decimal.Decimal, _number_text(rnd)
    text = _pick(rnd, _number_text(rnd), "NaN", "Infinity", "-Infinity", "sNaN", "inf", "1_000",
                 " 1", "1 ", "+1", ".5", "5.", "0x10", "", "1e", "--1", "\u0661")
    return decimal.Decimal, _string(text)


def _scalar_json(rnd: random.Random) -> str:
    return _pick(rnd, "null", "true", "false", "0", "1", "2", "-1", "1.0", "0.5", "1.5", "1e2",
                 '"red"', '"RED"', '"green"', '"blue"', '"name"', '"1"', '""', '"a"', '"x"',
                 "[]", "{}", '"2026-11-30"', '"2026-11-30T12:00:00"',
                 '"12345678-1234-5678-1234-567812345678"')


def gen_enum(rnd):
    return _pick(rnd, Color, Level, Mixed), _scalar_json(rnd)


LITERALS = [Literal["red", "green"], Literal[1, 2], Literal[True], Literal[False, "no"],
            Literal[None, 0], Literal["a", 1]]


def gen_literal(rnd):
    return _pick(rnd, *LITERALS), _scalar_json(rnd)


UNIONS = [Union[int, str], Union[str, int], Union[int, float], Union[float, int],
          Union[bool, int], Union[int, bool], Optional[int], Union[str, None, int],
          Union[Color, str], Union[str, Color], Union[datetime.date, datetime.datetime],
          Union[datetime.datetime, datetime.date], Union[uuid.UUID, str],
          Union[decimal.Decimal, int], Union[list[int], dict[str, int]],
          Union[list[str], list[int]], Union[Literal["a"], int]]


def gen_union(rnd):
    tp = _pick(rnd, *UNIONS)
    if rnd.random() < 0.7:
        return tp, _scalar_json(rnd)
    return tp, json.dumps(_pick(rnd, [1, 2], ["a"], [], {"k": 1}, {"k": "v"}, [1, "a"]))


TUPLES = [tuple[int, str], tuple[int, ...], tuple[()], tuple[str, ...],
          tuple[int, Optional[str], float], tuple[tuple[int, int], ...]]


def _array(rnd: random.Random) -> str:
    items = [_scalar_json(rnd) for _ in range(rnd.randrange(5))]
    if rnd.random() < 0.2:
        items.append("[" + ",".join(_scalar_json(rnd) for _ in range(2)) + "]")
    return "[" + ",".join(items) + "]"


def gen_tuple(rnd):
    tp = _pick(rnd, *TUPLES)
    if rnd.random() < 0.1:
        return tp, _scalar_json(rnd)
    return tp, _array(rnd)


DICTS = [dict[str, int], dict[str, str], dict[str, Optional[float]], dict[str, list[int]],
         dict[str, Any], dict[str, dict[str, int]]]


def gen_dict(rnd):
    tp = _pick(rnd, *DICTS)
    if rnd.random() < 0.1:
        return tp, _pick(rnd, _scalar_json(rnd), _array(rnd))
    keys = [_pick(rnd, "a", "b", "k", "", "\u00e9") for _ in range(rnd.randrange(5))]
    values = [_pick(rnd, _scalar_json(rnd), _array(rnd), '{"x": 1}', '{"x": "1"}') for _ in keys]
    return tp, "{" + ",".join(f"{json.dumps(k)}: {v}" for k, v in zip(keys, values)) + "}"


FAMILIES = {"datetime": gen_datetime, "date": gen_date, "time": gen_time, "uuid": gen_uuid,
            "decimal": gen_decimal, "enum": gen_enum, "literal": gen_literal,
            "union": gen_union, "tuple": gen_tuple, "dict": gen_dict}


# ---------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------

def explain(tp, text: str, ff: Outcome, pd: Outcome) -> str | None:
    """The name of the known difference that covers this disagreement, or None."""
    for diff in KNOWN_DIFFERENCES:
        if diff.applies(tp, text, ff, pd):
            return diff.name
    return None


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_decode_agrees_with_pydantic(family):
    rnd = random.Random(f"{SEED}-{family}")
    unexplained, accepted, refused = [], 0, 0
    for _ in range(EXAMPLES_PER_FAMILY):
        tp, text = FAMILIES[family](rnd)
        ff, pd = run_frostfork(tp, text), run_pydantic(tp, text)
        accepted += pd.ok
        refused += not pd.ok
        if not agree(ff, pd) and explain(tp, text, ff, pd) is None:
            unexplained.append(f"{tp} {text}: frostfork {ff}, pydantic {pd}")
    assert not unexplained, "\n".join(unexplained[:20])
    # the generator reaches both sides of the line
    assert accepted >= EXAMPLES_PER_FAMILY // 20 and refused >= EXAMPLES_PER_FAMILY // 20, \
        (accepted, refused)


@pytest.mark.parametrize("diff", KNOWN_DIFFERENCES, ids=lambda d: d.name)
def test_each_known_difference_still_holds(diff):
    tp, text = diff.example
    ff, pd = run_frostfork(tp, text), run_pydantic(tp, text)
    assert not agree(ff, pd), f"{diff.name} no longer differs: {ff} / {pd}"
    assert explain(tp, text, ff, pd) == diff.name


@pytest.mark.parametrize("tp,text", [
    # RFC 3339 5.6: T and Z in either case, a space for T
    (datetime.datetime, '"2026-11-30t12:00:00z"'),
    (datetime.datetime, '"2026-11-30 12:00:00Z"'),
    (datetime.datetime, '"2026-11-30T12:00:00.123456789+01:00"'),
    (datetime.time, '"12:00:00z"'),
    # refused by both: ISO 8601 shapes that are not RFC 3339
    (datetime.datetime, '"20261130T120000"'),
    (datetime.datetime, '"2026-11-30"'),
    (datetime.datetime, '"2026-W48-1T12:00:00"'),
    (datetime.date, '"20261130"'),
    (datetime.time, '"1200"'),
    (uuid.UUID, '"123456781234-5678-1234-567812345678"'),
])
def test_rfc3339_examples_agree(tp, text):
    ff, pd = run_frostfork(tp, text), run_pydantic(tp, text)
    assert agree(ff, pd), (ff, pd)
