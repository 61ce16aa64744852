"""docs/configuration.md is generated from the CLI's argparse definitions and
must match a fresh generation, so it cannot go stale."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys

import pytest

from conftest import ROOT

from frostfork.cli import build_parser


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_config", ROOT / "docs" / "gen_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def subparser(name: str) -> argparse.ArgumentParser:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise AssertionError("no subcommands")


def test_committed_page_is_what_the_generator_writes_now():
    fresh = load_generator().render()
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == fresh, (
        "docs/configuration.md is out of date with frostfork.cli.build_parser(): "
        "run `.venv/bin/python docs/gen_config.py` and commit the result")


def commands() -> list[str]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    raise AssertionError("no subcommands")


@pytest.mark.parametrize("command", commands())
def test_every_option_and_its_default_appear(command):
    """Each option the parser defines for the command has a row in its table,
    with every spelling and the default."""
    page = (ROOT / "docs" / "configuration.md").read_text()
    section = page.split(f"## frostfork {command}\n", 1)[1].split("\n## ", 1)[0]
    options = [a for a in subparser(command)._actions
               if a.option_strings and not isinstance(a, argparse._HelpAction)]
    if command == "serve":
        assert len(options) >= 25
    rows = [line for line in section.splitlines() if line.startswith("| `-")]
    assert len(rows) == len(options), (command, rows)
    for action in options:
        row = next((r for r in rows
                    if all(f"`{flag}`" in r.split(" | ")[0] for flag in action.option_strings)), None)
        assert row is not None, f"{action.option_strings} missing from the {command} table"
        if action.default not in (None, False, [], ()):
            assert f"`{action.default}`" in row, (action.option_strings, row)


def test_every_subcommand_has_a_section():
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert "serve" in commands()
    for name in commands():
        assert f"## frostfork {name}\n" in page


def test_check_mode_of_the_generator_agrees():
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_config.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_the_limits_section_lists_every_compiled_limit_with_its_number():
    from frostfork import _core

    page = (ROOT / "docs" / "configuration.md").read_text()
    section = page.split("\n## Limits\n", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    # every key of _core.LIMITS is read by the generator, so its number is in a row
    source = (ROOT / "docs" / "gen_config.py").read_text()
    for key, value in _core.LIMITS.items():
        assert f"lim['{key}']" in source, f"_core.LIMITS[{key!r}] is not documented"
        assert any(str(value) in row for row in rows), (key, value)
