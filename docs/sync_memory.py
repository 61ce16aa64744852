"""Copy the "Memory" and "Read the heap" sections of bench/RESULTS.md into
docs/frozen-heap.md.

    python3 docs/sync_memory.py

bench/run-memory and bench/run-read-heap rewrite those sections of bench/RESULTS.md;
run this afterwards so the page shows the same numbers. Only the parts between the
memory:start / memory:end and read-heap:start / read-heap:end markers in
docs/frozen-heap.md are replaced. Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
PAGE = ROOT / "docs" / "frozen-heap.md"


def memory_block(results: str) -> str:
    start, end = results.find("<!-- memory:start -->"), results.find("<!-- memory:end -->")
    if start < 0 or end < 0:
        raise SystemExit(f"no Memory section in {RESULTS}: run bench/run-memory first")
    section = results[start:end]

    def field(name: str) -> str:
        m = re.search(rf"^- {name}: (.*)$", section, re.M)
        return m.group(1) if m else "?"

    lines = [
        "<!-- memory:start (copied from bench/RESULTS.md by docs/sync_memory.py) -->",
        f"From `bench/RESULTS.md` (\"Memory\", {field('Date')}; {field('Machine')}; command",
        f"{field('Command')}). Total PSS in MiB of master + all workers, read after every",
        "worker has run full collections. `mem_live` builds 600,000 small dicts at import and",
        "keeps them; `mem_cyclic` also drops 300,000 objects in reference cycles at the end of",
        "its import (garbage only a collection reclaims).",
        "",
    ]
    for app in ("mem_live", "mem_cyclic"):
        m = re.search(rf"### {app}\n\n(\|.*?\n)\n(?:Per process \(MiB\):\n\n(\|.*?\n)\n)?",
                      section, re.S)
        if not m:
            continue
        lines.append(f"`{app}`:\n\n{m.group(1)}")
        if m.group(2):
            lines.append(f"`{app}`, per process (MiB):\n\n{m.group(2)}")
    lines += [
        "With the heap frozen, total PSS stays about the size of *one* process however many",
        "workers run; without it (`--freeze off`, or gunicorn `--preload` without a freeze)",
        "each worker's first full collection copies the whole startup heap. Reproduce with",
        "`bench/run-memory` (a few minutes; `WORKERS=\"4 8\" APPS=\"mem_live mem_cyclic\"`",
        "narrows a run); it rewrites the \"Memory\" section of `bench/RESULTS.md`, and",
        "`python3 docs/sync_memory.py` copies it here.",
        "<!-- memory:end -->",
    ]
    return "\n".join(lines)


def read_heap_block(results: str) -> str:
    m = re.search(r"<!-- read the heap:start -->\n## Read the heap\n\n(.*?)<!-- read the heap:end -->",
                  results, re.S)
    if not m:
        raise SystemExit(f"no Read the heap section in {RESULTS}: run bench/run-read-heap first")
    return ("<!-- read-heap:start (copied from bench/RESULTS.md by docs/sync_memory.py) -->\n"
            "Measured (`bench/RESULTS.md`, \"Read the heap\"):\n\n" + m.group(1).rstrip() +
            "\n<!-- read-heap:end -->")


def main() -> int:
    results = RESULTS.read_text()
    page = PAGE.read_text()
    for name, block in (("memory", memory_block(results)),
                        ("read-heap", read_heap_block(results))):
        page, n = re.subn(rf"<!-- {name}:start.*?<!-- {name}:end -->", lambda _: block, page,
                          flags=re.S)
        if n != 1:
            print(f"{PAGE}: expected one {name}:start ... {name}:end block", file=sys.stderr)
            return 1
    PAGE.write_text(page)
    print(f"copied the Memory and Read the heap sections of {RESULTS.name} into {PAGE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
