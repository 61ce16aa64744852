"""Every ```python runnable block in docs/*.md and README.md runs and exits 0.

A runnable block is a self-contained program: it may start a real server in a
subprocess (``python -m frostfork serve module:app --bind 127.0.0.1:0``) and talk
to it, or use frostfork.json / frostfork.dispatch / frostfork.sql directly. Each is
written to its own temporary directory and run there with this interpreter, so a
block that imports its own file as an app module (``Path(__file__).stem``) works.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SLOW

FENCE = re.compile(r"^```python runnable[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
TIMEOUT = 60


def runnable_blocks() -> list[tuple[str, str]]:
    """(id, source) of every runnable block, id = file:line of the opening fence."""
    pages = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
    blocks = []
    for page in pages:
        text = page.read_text()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            blocks.append((f"{page.relative_to(ROOT)}:{line}", m.group(1)))
    return blocks


BLOCKS = runnable_blocks()


def test_every_guide_has_a_runnable_block():
    pages = {"docs/quickstart.md", "docs/constraints.md", "docs/auto-wiring.md",
             "docs/frozen-heap.md", "docs/migration.md", "docs/deploy.md"}
    have = {block_id.rpartition(":")[0] for block_id, _ in BLOCKS}
    assert pages <= have, f"pages without a ```python runnable block: {sorted(pages - have)}"


def test_fence_is_not_misspelled():
    """A block meant to run but fenced as ```python-runnable or ```python  runnable
    would silently never run."""
    for page in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        for n, line in enumerate(page.read_text().splitlines(), 1):
            if "runnable" in line and line.startswith("```"):
                assert re.fullmatch(r"```python runnable\s*", line), f"{page.name}:{n}: {line!r}"


@pytest.mark.parametrize("source", [s for _, s in BLOCKS], ids=[i for i, _ in BLOCKS])
def test_runnable_block(source, tmp_path):
    name = "doc_example"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)  # the block must work with the installed package alone
    # Own process group: whatever the block started is killed with it afterwards,
    # even when the block fails or hangs before stopping its server.
    proc = subprocess.Popen([sys.executable, str(path)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT * SLOW)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"block did not finish within {TIMEOUT * SLOW:.0f} s\n"
                    f"stdout:\n{stdout}\nstderr:\n{stderr}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
