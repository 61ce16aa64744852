"""JSON codec benchmark (issue 13): frostfork.json beside msgspec, orjson, pydantic, json.

    python bench/json_codec.py run [--results RESULTS.md --command CMD] [--repeats N]
    python bench/json_codec.py profile ROW [--loops N]   # frostfork only, for callgrind/perf

One input, built once: 1,000 objects of 7 fields (id, name, email, score, active,
address {street, city, zip}, tags [str]), serialised once to bytes that every library
reads. Before any timing, every library's result is checked to be the same data
(decoded values compare equal as plain Python; encoded bytes parse to the same value).

Timing: all functions of all rows run in one process, interleaved (each repeat runs
every function once, in turn), each measurement a batch of calls long enough to be
~10 ms of this thread's CPU time (time.thread_time: a batch preempted by other jobs
does not count their time); gc is off while a batch runs. That is done in several
processes (--processes), each with its own order of the functions: in any one process
one function or another runs ~1.5x slow in every batch, whichever library it is
(which one changes from process to process even with ASLR and hash randomisation off:
where the kernel puts the process's pages), so one process's best batch can be a
layout's figure rather than the library's. A row reports best and median per call
over all processes and each library's ratio to the fastest peer (msgspec / orjson) on
that row, from the best times, and the bars list each process's own ratio beside it. The notes file (bench/json_codec_notes.md) holds the profile and the effect
of each change and is copied under the table.
"""

import argparse
import dataclasses
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import frostfork
import frostfork.json as ffjson

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wrkparse  # noqa: E402

N_OBJECTS = 1000

# CPU time of this thread, not wall time: on a shared machine a batch preempted
# halfway would otherwise count the other jobs' time. Every library is timed the
# same way; memory and cache contention from other jobs still shows.
CLOCK = time.thread_time


# ---- the data, one definition per library ----

class FFAddress(frostfork.Model):
    street: str
    city: str
    zip: str


class FFUser(frostfork.Model):
    id: int
    name: str
    email: str
    score: float
    active: bool
    address: FFAddress
    tags: list[str]


@dataclasses.dataclass
class DCAddress:
    street: str
    city: str
    zip: str


@dataclasses.dataclass
class DCUser:
    id: int
    name: str
    email: str
    score: float
    active: bool
    address: DCAddress
    tags: list[str]


def make_plain() -> list[dict[str, Any]]:
    """The 1,000 objects as dicts; deterministic."""
    rng = random.Random(13)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
             "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
    cities = ["Amsterdam", "Berlin", "Lisbon", "Oslo", "Prague", "Vienna", "Zurich"]
    out = []
    for i in range(N_OBJECTS):
        first, last = rng.choice(words), rng.choice(words)
        out.append({
            "id": 100000 + i * 7,
            "name": f"{first.title()} {last.title()}",
            "email": f"{first}.{last}{i}@example.com",
            "score": round(rng.uniform(0, 1000), 3),
            "active": rng.random() < 0.7,
            "address": {"street": f"{rng.randint(1, 999)} {rng.choice(words).title()} Street",
                        "city": rng.choice(cities), "zip": f"{rng.randint(1000, 99999):05d}"},
            "tags": rng.sample(words, rng.randint(0, 4)),
        })
    return out


def plain(x: Any) -> Any:
    """Any library's decoded value as dicts/lists/scalars, for comparing results."""
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if hasattr(x, "model_dump"):  # pydantic
        return plain(x.model_dump())
    if hasattr(x, "__struct_fields__"):  # msgspec.Struct
        return {f: plain(getattr(x, f)) for f in x.__struct_fields__}
    if dataclasses.is_dataclass(x):
        return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if getattr(type(x), "__frostfork_model__", False):
        return {f: plain(getattr(x, f)) for f in type(x).__frostfork_fields__}
    raise TypeError(f"cannot compare {type(x).__name__}")


def peers() -> dict[str, Any]:
    """The peer libraries, or {name: None} where one is not installed."""
    mods: dict[str, Any] = {}
    for name in ("msgspec", "orjson", "pydantic"):
        try:
            mods[name] = __import__(name)
        except ImportError:
            mods[name] = None
    return mods


_PEER_MODELS: dict[str, Any] = {}


def peer_models() -> dict[str, Any]:
    """The record as a msgspec Struct and a pydantic model (each library installed),
    defined once: {"msgspec": MUser, "pydantic": PUser}."""
    if _PEER_MODELS:
        return _PEER_MODELS
    m = peers()
    msgspec, pydantic = m["msgspec"], m["pydantic"]
    if msgspec:
        class MAddress(msgspec.Struct):
            street: str
            city: str
            zip: str

        class MUser(msgspec.Struct):
            id: int
            name: str
            email: str
            score: float
            active: bool
            address: MAddress
            tags: list[str]

        _PEER_MODELS["msgspec"] = MUser
    if pydantic:
        class PAddress(pydantic.BaseModel):
            street: str
            city: str
            zip: str

        class PUser(pydantic.BaseModel):
            id: int
            name: str
            email: str
            score: float
            active: bool
            address: PAddress
            tags: list[str]

        _PEER_MODELS["pydantic"] = PUser
    return _PEER_MODELS


def build_rows() -> tuple[list[tuple[str, list[tuple[str, Any, Any]]]], list[str]]:
    """[(row title, [(label, fn, expected-check), ...])], plus notes on missing peers.

    A check is ('decode', plain value) or ('encode', plain value): the result of fn(),
    made plain or parsed, must equal it."""
    data = make_plain()
    buf = json.dumps(data, separators=(",", ":")).encode()
    missing = []
    m = peers()
    msgspec, orjson, pydantic = m["msgspec"], m["orjson"], m["pydantic"]
    for k, v in m.items():
        if v is None:
            missing.append(f"{k} is not installed: its rows are left out")

    typed: list[tuple[str, Any, Any]] = []
    ff_model = ffjson.schema_of(list[FFUser])  # compile once, outside the timing
    ff_dc = ffjson.schema_of(list[DCUser])
    typed.append(("frostfork Model", lambda: ffjson.decode(buf, type=list[FFUser]), None))
    typed.append(("frostfork dataclass", lambda: ffjson.decode(buf, type=list[DCUser]), None))
    del ff_model, ff_dc
    if msgspec:
        MUser = peer_models()["msgspec"]
        mdec = msgspec.json.Decoder(list[MUser])
        mdec_dc = msgspec.json.Decoder(list[DCUser])
        typed.append(("msgspec Struct", lambda: mdec.decode(buf), None))
        typed.append(("msgspec dataclass", lambda: mdec_dc.decode(buf), None))
    if pydantic:
        PUser = peer_models()["pydantic"]
        adapter = pydantic.TypeAdapter(list[PUser])
        typed.append(("pydantic TypeAdapter", lambda: adapter.validate_json(buf), None))

    untyped = [("frostfork", lambda: ffjson.decode(buf), None)]
    if msgspec:
        untyped.append(("msgspec", lambda: msgspec.json.decode(buf), None))
    if orjson:
        untyped.append(("orjson", lambda: orjson.loads(buf), None))
    untyped.append(("json (stdlib)", lambda: json.loads(buf), None))

    ff_objs = ffjson.decode(buf, type=list[FFUser])
    dc_objs = ffjson.decode(buf, type=list[DCUser])
    enc_models = [("frostfork Model", lambda: ffjson.encode(ff_objs), None),
                  ("frostfork dataclass", lambda: ffjson.encode(dc_objs), None)]
    if msgspec:
        m_objs = mdec.decode(buf)
        menc = msgspec.json.Encoder()
        enc_models.append(("msgspec Struct", lambda: menc.encode(m_objs), None))
        enc_models.append(("msgspec dataclass", lambda: menc.encode(dc_objs), None))
    if orjson:
        enc_models.append(("orjson dataclass", lambda: orjson.dumps(dc_objs), None))

    enc_dicts = [("frostfork", lambda: ffjson.encode(data), None)]
    if msgspec:
        enc_dicts.append(("msgspec", lambda: menc.encode(data), None))
    if orjson:
        enc_dicts.append(("orjson", lambda: orjson.dumps(data), None))
    enc_dicts.append(("json (stdlib)",
                      lambda: json.dumps(data, separators=(",", ":")).encode(), None))

    rows = [("decode + validate into models", [(a, f, ("decode", data)) for a, f, _ in typed]),
            ("decode, no type", [(a, f, ("decode", data)) for a, f, _ in untyped]),
            ("encode models / dataclasses", [(a, f, ("encode", data)) for a, f, _ in enc_models]),
            ("encode dicts", [(a, f, ("encode", data)) for a, f, _ in enc_dicts])]
    return rows + one_record_rows(data, missing), missing


def one_record_rows(data: list[dict[str, Any]], missing: list[str]
                    ) -> list[tuple[str, list[tuple[str, Any, Any]]]]:
    """The same work on one record (~200 bytes, a typical request body), where a
    call's fixed cost (arguments, finding the type's validator, the output
    buffer) is most of it. Not a bar; beside the bars to show that cost."""
    rec = data[0]
    buf = json.dumps(rec, separators=(",", ":")).encode()
    m = peers()
    msgspec, orjson, pydantic = m["msgspec"], m["orjson"], m["pydantic"]
    typed = [("frostfork Model", lambda: ffjson.decode(buf, type=FFUser)),
             ("frostfork dataclass", lambda: ffjson.decode(buf, type=DCUser))]
    untyped = [("frostfork", lambda: ffjson.decode(buf))]
    ff_obj = ffjson.decode(buf, type=FFUser)
    dc_obj = ffjson.decode(buf, type=DCUser)
    enc = [("frostfork Model", lambda: ffjson.encode(ff_obj)),
           ("frostfork dataclass", lambda: ffjson.encode(dc_obj)),
           ("frostfork dict", lambda: ffjson.encode(rec))]
    if msgspec:
        MUser = peer_models()["msgspec"]
        mdec = msgspec.json.Decoder(MUser)
        m_obj = mdec.decode(buf)
        typed.append(("msgspec Struct", lambda: mdec.decode(buf)))
        typed.append(("msgspec decode(type=Struct)", lambda: msgspec.json.decode(buf, type=MUser)))
        untyped.append(("msgspec", lambda: msgspec.json.decode(buf)))
        enc.append(("msgspec Struct", lambda: msgspec.json.encode(m_obj)))
        enc.append(("msgspec dict", lambda: msgspec.json.encode(rec)))
    if orjson:
        untyped.append(("orjson", lambda: orjson.loads(buf)))
        enc.append(("orjson dataclass", lambda: orjson.dumps(dc_obj)))
        enc.append(("orjson dict", lambda: orjson.dumps(rec)))
    if pydantic:
        PUser = peer_models()["pydantic"]
        typed.append(("pydantic model_validate_json", lambda: PUser.model_validate_json(buf)))
    untyped.append(("json (stdlib)", lambda: json.loads(buf)))
    return [("one record: decode + validate", [(a, f, ("decode", rec)) for a, f in typed]),
            ("one record: decode, no type", [(a, f, ("decode", rec)) for a, f in untyped]),
            ("one record: encode", [(a, f, ("encode", rec)) for a, f in enc])]


def check(rows: list[tuple[str, list[tuple[str, Any, Any]]]]) -> None:
    """Every library must produce the same data before anything is timed."""
    for title, fns in rows:
        for label, fn, (kind, want) in fns:
            got = fn()
            got = plain(json.loads(got)) if kind == "encode" else plain(got)
            if got != want:
                sys.exit(f"{title}: {label} produced different data; nothing timed")


def calibrate(fn: Any, target: float = 0.010) -> int:
    """Calls per batch so one batch takes about `target` seconds."""
    n = 1
    while True:
        t0 = CLOCK()
        for _ in range(n):
            fn()
        dt = CLOCK() - t0
        if dt >= target / 4 or n >= 1 << 16:
            return max(1, int(n * target / max(dt, 1e-9)))
        n *= 2


def measure(rows: list[tuple[str, list[tuple[str, Any, Any]]]], repeats: int, seed: int = 0
            ) -> dict[tuple[str, str], list[float]]:
    """Per-call seconds of each (row, label), `repeats` batches each, interleaved in an
    order shuffled by `seed` (0: the rows' own order)."""
    fns = [(title, label, fn) for title, r in rows for label, fn, _ in r]
    if seed:
        random.Random(seed).shuffle(fns)
    loops = {(t, lb): calibrate(fn) for t, lb, fn in fns}
    times: dict[tuple[str, str], list[float]] = {(t, lb): [] for t, lb, _ in fns}
    for rep in range(repeats):
        order = fns if rep % 2 == 0 else fns[::-1]  # no library always goes first
        for title, label, fn in order:
            n = loops[(title, label)]
            gc.collect()
            gc.disable()
            t0 = CLOCK()
            for _ in range(n):
                fn()
            dt = CLOCK() - t0
            gc.enable()
            times[(title, label)].append(dt / n)
    return times


PEERS = ("msgspec", "orjson")


def per_call(t: float) -> str:
    """Seconds per call as ms, or as µs for the one-record rows."""
    return f"{t * 1e3:.3f} ms" if t >= 1e-4 else f"{t * 1e6:.2f} µs"


def table(rows: list[tuple[str, list[tuple[str, Any, Any]]]],
          times: dict[tuple[str, str], list[float]]) -> tuple[list[str], dict[str, float]]:
    """Markdown table lines, and {row/label: ratio to fastest peer} for frostfork rows."""
    lines = ["| work | library | best | median | × fastest peer |",
             "| --- | --- | ---: | ---: | ---: |"]
    ratios = {}
    for title, fns in rows:
        best = {label: min(times[(title, label)]) for label, _, _ in fns}
        peer = [v for label, v in best.items() if label.split()[0] in PEERS]
        fastest = min(peer) if peer else None
        for label, _, _ in fns:
            ts = times[(title, label)]
            ratio = f"{best[label] / fastest:.2f}" if fastest else "—"
            if fastest and label.startswith("frostfork"):
                ratios[f"{title} / {label}"] = best[label] / fastest
            lines.append(f"| {title} | {label} | {per_call(min(ts))} | "
                         f"{per_call(statistics.median(ts))} | {ratio} |")
    return lines, ratios


D, U = "decode + validate into models", "decode, no type"
EM, ED = "encode models / dataclasses", "encode dicts"
# Issue 13's codec bars: (text, row, frostfork's label, peers, limit); limit None: a
# figure reported beside the bars.
BARS = [
    ("decode+validate into `frostfork.Model` ≤ 1.0× msgspec `Decoder(list[Struct])`",
     D, "frostfork Model", ("msgspec Struct",), 1.0),
    ("decode+validate into dataclasses ≤ 1.1× msgspec `Decoder(list[Struct])`",
     D, "frostfork dataclass", ("msgspec Struct",), 1.1),
    ("untyped decode ≤ 1.0× orjson.loads and msgspec.json.decode",
     U, "frostfork", ("orjson", "msgspec"), 1.0),
    ("encode models ≤ 1.0× msgspec (Structs) and orjson (dataclasses)",
     EM, "frostfork Model", ("msgspec Struct", "orjson dataclass"), 1.0),
    ("encode dataclasses ≤ 1.0× the row's fastest peer (msgspec encoding Structs)",
     EM, "frostfork dataclass", ("msgspec Struct", "orjson dataclass"), 1.0),
    ("encode dicts ≤ 1.0× orjson.dumps and msgspec's encoder",
     ED, "frostfork", ("orjson", "msgspec"), 1.0),
    ("(same input) decode into dataclasses, over msgspec decoding the same dataclasses",
     D, "frostfork dataclass", ("msgspec dataclass",), None),
    ("(same input) encode dataclasses, over orjson / msgspec encoding the same dataclasses",
     EM, "frostfork dataclass", ("orjson dataclass", "msgspec dataclass"), None),
]


def bar_ratio(times: dict[tuple[str, str], list[float]], row: str, mine: str,
              peers: tuple[str, ...]) -> tuple[float, str] | None:
    """frostfork's best over the fastest peer's best on a row, and that peer."""
    have = [(min(times[(row, p)]), p) for p in peers if (row, p) in times]
    if (row, mine) not in times or not have:
        return None
    t, who = min(have)
    return min(times[(row, mine)]) / t, who


def bar_lines(times: dict[tuple[str, str], list[float]],
              each: list[dict[tuple[str, str], list[float]]]) -> list[str]:
    """Each bar met or missed from the best batches of all processes, with every
    process's own ratio (`each`: one process's times each) after it."""
    out = []
    for text, row, mine, peers, limit in BARS:
        got = bar_ratio(times, row, mine, peers)
        if got is None:
            if limit is not None:
                out.append(f"- {text}: not measured (a peer is missing)")
            continue
        x, who = got
        per = [bar_ratio(t, row, mine, peers) for t in each]
        per_s = ", ".join(f"{p[0]:.2f}" for p in per if p)
        verdict = "" if limit is None else f" — **{'met' if x <= limit else 'missed'}**"
        out.append(f"- {text}: {x:.2f}× ({who}){verdict}; each process: {per_s}")
    return out


def versions() -> str:
    m = peers()
    parts = [f"CPython {sys.version.split()[0]}"]
    for name, mod in m.items():
        if mod is not None:
            parts.append(f"{name} {getattr(mod, '__version__', '?')}")
    return ", ".join(parts)


def child(a: argparse.Namespace) -> None:
    """One process's share of a run: its batches, written as JSON for the parent."""
    rows, _ = build_rows()
    rows = [r for r in rows if not a.rows or any(w in r[0] for w in a.rows)]
    check(rows)
    times = measure(rows, a.repeats, a.seed)
    with open(a.child, "w") as f:
        json.dump([[t, lb, v] for (t, lb), v in times.items()], f)


def run(a: argparse.Namespace) -> None:
    rows, missing = build_rows()
    if a.rows:  # a quick look at some rows (never written to RESULTS.md)
        rows = [r for r in rows if any(w in r[0] for w in a.rows)]
        a.results = None
    if a.child:
        return child(a)
    each = []  # one process after another: never two timing at once
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.processes):
            out = os.path.join(tmp, f"{i}.json")
            cmd = [sys.executable, os.path.abspath(__file__), "run", "--child", out,
                   "--seed", str(i), "--repeats", str(a.repeats)]
            if a.rows:
                cmd += ["--rows", *a.rows]
            subprocess.run(cmd, check=True)
            with open(out) as f:
                each.append({(t, lb): v for t, lb, v in json.load(f)})
    times = {k: [x for t in each for x in t[k]] for k in each[0]}
    lines, ratios = table(rows, times)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(ratios, f, indent=1)
    body = wrkparse.header("JSON codec", a.command)[:-1]
    body += [f"- Versions: {versions()}; frostfork: {a.frostfork}",
             f"- Input: {N_OBJECTS:,} objects of 7 fields (nested object + list of str), "
             f"{len(json.dumps(make_plain(), separators=(',', ':'))):,} bytes, the same bytes "
             "for every library; every library's result checked equal before timing",
             f"- Every row side by side in each of {a.processes} processes run one after "
             f"another (each its own order of the functions), {a.repeats} interleaved batches "
             "of ~10 ms of thread CPU time per library in each; best and median over all "
             "batches; ratios from the best batch, to the fastest of msgspec / orjson",
             wrkparse.load_line() + " Medians swing far more than best batches.",
             *[f"- {m}" for m in missing], ""]
    body += lines
    body += ["", "Bars (issue 13), from the best batches above, then each process's own ratio:",
             "", *bar_lines(times, each)]
    notes = os.path.join(HERE, "json_codec_notes.md")
    if os.path.exists(notes):
        body += ["", open(notes).read().rstrip()]
    text = "\n".join(body)
    if a.results:
        wrkparse.replace_section(a.results, "json codec", text)
    print(text)


def profile(a: argparse.Namespace) -> None:
    """Runs one frostfork function in a loop: a driver for valgrind/perf."""
    rows, _ = build_rows()
    for title, fns in rows:
        for label, fn, _ in fns:
            if label == a.row or f"{title} / {label}" == a.row:
                if not a.gc:  # as measure() runs a batch
                    gc.collect()
                    gc.disable()
                for _ in range(a.loops):
                    fn()
                return
    sys.exit(f"no row {a.row!r}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--results")
    r.add_argument("--command", default="python bench/json_codec.py run")
    r.add_argument("--frostfork", default="as installed")
    r.add_argument("--repeats", type=int, default=int(os.environ.get("REPEATS", 30)))
    r.add_argument("--json", help="also write frostfork's ratios here")
    r.add_argument("--rows", nargs="*", help="only the rows whose title holds one of these words")
    r.add_argument("--processes", type=int, default=int(os.environ.get("PROCESSES", 5)),
                   help="processes run one after another, each timing every row")
    r.add_argument("--child", help=argparse.SUPPRESS)  # internal: one process's share
    r.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    pr = sub.add_parser("profile")
    pr.add_argument("row", help="e.g. 'decode, no type / frostfork'")
    pr.add_argument("--loops", type=int, default=50)
    pr.add_argument("--gc", action="store_true", help="leave gc on (the timed batches turn it off)")
    a = p.parse_args()
    run(a) if a.cmd == "run" else profile(a)


if __name__ == "__main__":
    main()
