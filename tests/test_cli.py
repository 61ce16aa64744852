"""The command line: one-line errors for the common mistakes."""

import argparse
import os
import re
import socket
import subprocess
import sys

import pytest

from conftest import ROOT

from frostfork.cli import build_parser


def run(*args, timeout=30, env=None):
    return subprocess.run([sys.executable, "-m", "frostfork", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout,
                          env=dict(os.environ, **(env or {}),
                                   PYTHONPATH=f"{ROOT}:{ROOT / 'tests' / 'apps'}"))


def subcommands() -> dict[str, argparse.ArgumentParser]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def error_line(proc):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("target,msg", [
    ("no_such_module:app", "cannot import 'no_such_module': no module named 'no_such_module'"),
    ("native_basic:nope", "module 'native_basic' has no attribute 'nope'"),
    ("native_basic", "expected MODULE:APP"),
    ("broken_app:app", "importing broken_app:app raised ZeroDivisionError"),
    ("native_basic:index", "not a frostfork.App (use --wsgi"),
])
def test_bad_targets(target, msg):
    line = error_line(run("serve", target, "--bind", "127.0.0.1:0"))
    assert line.startswith("frostfork: error: ") and msg in line


def test_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        line = error_line(run("serve", "native_basic:app", "--bind", f"127.0.0.1:{port}"))
        assert f"cannot bind 127.0.0.1:{port}: Address already in use" in line


def test_bad_route_is_reported_at_startup():
    line = error_line(run("serve", "bad_route_app:app", "--bind", "127.0.0.1:0"))
    assert "GET /x: parameter 'missing': unsupported type complex" in line


@pytest.mark.parametrize("command", list(subcommands()))
def test_help_lists_every_option(command):
    """Every option the parser defines for the command, each of its spellings
    and its help text, is in `frostfork COMMAND --help` (as a whole word:
    --max-requests-jitter does not count for --max-requests)."""
    proc = run(command, "--help", env={"COLUMNS": "1000"})  # no wrapped help lines
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    actions = [a for a in subcommands()[command]._actions
               if a.option_strings and not isinstance(a, argparse._HelpAction)]
    if command == "serve":
        assert len(actions) >= 25
    for action in actions:
        assert action.help and action.help != argparse.SUPPRESS, action.option_strings
        for flag in action.option_strings:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", out), f"{flag} not in help"
        first = action.help.split("%")[0].split("(")[0].strip()  # before any %(default)s
        assert first and first in out, f"help of {action.option_strings} not in --help: {first!r}"


def test_top_level_help_lists_every_command():
    out = run("--help", env={"COLUMNS": "1000"}).stdout
    for command in subcommands():
        assert re.search(rf"^\s+{command}\s", out, re.M), f"{command} not in frostfork --help"


def test_openapi_command_prints_a_valid_document():
    import json

    from openapi_spec_validator import validate

    proc = run("openapi", "typed_app:app")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    validate(doc)
    assert "/users" in doc["paths"] and doc["info"]["title"] == "typed test app"


def test_constraint_on_the_wrong_type_is_an_error_naming_the_field():
    line = error_line(run("serve", "wrong_constraint_app:app", "--bind", "127.0.0.1:0"))
    assert "Thing.count: MinLen applies to" in line and "not int" in line
