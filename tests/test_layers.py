"""The C core's layers call only downwards (src/frostfork/_core/README.md).

Each #include "..." in src/frostfork/_core is checked against the layer map
below: a file may include its own layer or a lower one, never a higher one or
a sibling at the same height; the pure-C layers never include Python. The
map is the one in the README; a new folder must be added to both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "src" / "frostfork" / "_core"

# (layer, height): lower heights are lower layers. Paths are matched longest first.
LAYERS = {
    "util/": ("util", 0),
    "http/": ("http", 1),
    "loop/": ("loop", 1),
    "json/scan.": ("json/scan", 1),
    "ws/": ("ws", 2),  # the WebSocket protocol: over http/ and util/, under everything Python
    "compat.h": ("compat", 2),
    "module.h": ("compat", 2),
    "schema/": ("schema", 3),
    "json/": ("json", 4),
    "life/": ("life", 5),
    "obj/": ("obj", 6),
    "bind/": ("bind", 7),
    "dispatch/": ("dispatch", 8),
    "server/": ("server", 9),
    "module.c": ("module", 10),
}
PURE_C = {"util", "http", "loop", "json/scan", "ws"}
PYTHON_HEADERS = {"Python.h", "structmember.h", "module.h", "compat.h"}
# A pure-C file outside a pure-C folder (it includes nothing of Python).
PURE_FILES = {"life/spool.c", "life/spool.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def layer_of(rel: str) -> tuple[str, int]:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if rel == prefix or rel.startswith(prefix):
            return LAYERS[prefix]
    raise AssertionError(f"{rel}: not in the layer map (tests/test_layers.py, _core/README.md)")


def violations(files: dict[str, str]) -> list[str]:
    """Every include in `files` (path relative to _core -> text) that breaks
    the rule, as 'file: includes target (why)'."""
    found = []
    for rel, text in sorted(files.items()):
        name, height = layer_of(rel)
        pure = name in PURE_C or rel in PURE_FILES
        for kind, target in INCLUDE.findall(text):
            if kind == "<":
                if pure and target in PYTHON_HEADERS:
                    found.append(f"{rel}: includes <{target}> (a pure-C layer)")
                continue
            resolved = target
            if "/" not in target:  # "parse.h" next to the file
                resolved = str(Path(rel).parent / target) if "/" in rel else target
            if pure and Path(resolved).name in PYTHON_HEADERS:
                found.append(f"{rel}: includes {target} (a pure-C layer)")
                continue
            tname, theight = layer_of(resolved)
            if tname == name:
                continue
            if theight >= height:
                found.append(f"{rel}: includes {target} ({name} may not use {tname})")
    return found


def core_files() -> dict[str, str]:
    return {str(p.relative_to(CORE)): p.read_text()
            for p in CORE.rglob("*") if p.suffix in (".c", ".h")}


def test_every_file_is_in_the_layer_map():
    for rel in core_files():
        layer_of(rel)


def test_no_layer_includes_a_higher_one():
    assert violations(core_files()) == []


@pytest.mark.parametrize("files, why", [
    ({"bind/plan.c": '#include "server/conn.h"\n'}, "bind may not use server"),
    ({"life/logs.h": '#include "obj/request.h"\n'}, "life may not use obj"),
    ({"http/parse.c": '#include "loop/loop.h"\n'}, "http may not use loop"),
    ({"http/parse.c": '#include <Python.h>\n'}, "pure-C"),
    ({"json/scan.c": '#include "module.h"\n'}, "pure-C"),
    ({"util/buf.h": '#include "json/scan.h"\n'}, "util may not use json/scan"),
    ({"http/parse.c": '#include "ws/ws.h"\n'}, "http may not use ws"),
    ({"ws/read.c": '#include <Python.h>\n'}, "pure-C"),
    ({"ws/ws.h": '#include "obj/request.h"\n'}, "ws may not use obj"),
])
def test_the_check_catches_an_upward_include(files, why):
    found = violations(files)
    assert len(found) == 1 and why in found[0], found


def test_downward_and_local_includes_pass():
    assert violations({"server/conn.c": '#include "dispatch/dispatch.h"\n#include "server/conn.h"\n',
                       "http/chunked.c": '#include "parse.h"\n#include <string.h>\n',
                       "json/decode.h": '#include "json/scan.h"\n#include "schema/type.h"\n',
                       "ws/read.c": '#include "ws/internal.h"\n#include "util/fault.h"\n',
                       "ws/ws.h": '#include "http/parse.h"\n#include "util/buf.h"\n',
                       "server/conn.c": '#include "ws/ws.h"\n'}) == []
