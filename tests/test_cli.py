"""The command line: one-line errors for the common mistakes."""

import argparse
import os
import re
import socket
import subprocess
import sys

import pytest

from conftest import ROOT, wait_until

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


# --- config files, check, and the process options (issue 15) -------------------

def run_in(cwd, *args, timeout=30):
    """`frostfork ARGS` started in `cwd` (the test apps still importable)."""
    return subprocess.run([sys.executable, "-m", "frostfork", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'tests' / 'apps'}"))


def test_check_compiles_every_route_and_exits_0():
    proc = run("check", "typed_app:app")
    assert proc.returncode == 0, proc.stderr
    assert "typed_app:app:" in proc.stdout and "route(s) compiled; options valid" in proc.stdout


@pytest.mark.parametrize("args,msg", [
    (["bad_route_app:app"], "GET /x: parameter 'missing': unsupported type complex"),
    (["broken_app:app"], "importing broken_app:app raised ZeroDivisionError"),
    (["wrong_constraint_app:app"], "Thing.count: MinLen applies to"),
    (["native_basic:app", "--workers", "0"], "workers must be between 1 and"),
    (["native_basic:app", "--bind", "localhost"], "expected HOST:PORT"),
    (["native_basic:app", "--user", "no-such-user-here"], "--user no-such-user-here: no such user"),
    (["native_basic:app", "--group", "no-such-group-here"], "no such group"),
    (["native_basic:app", "--user", "54321"], "no group to go with it: add --group"),
    (["native_basic:app", "--chdir", "/no/such/dir"], "--chdir /no/such/dir: no such directory"),
    (["native_basic:app", "--umask", "8"], "not an octal mode"),
])
def test_check_exits_2_naming_the_problem(args, msg):
    proc = run("check", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert msg in proc.stderr, proc.stderr


def test_check_wsgi():
    proc = run("check", "wsgi_apps:hello", "--wsgi")
    assert proc.returncode == 0 and "WSGI callable" in proc.stdout, proc.stderr


def test_config_file_sets_options_and_the_command_line_wins(tmp_path, serve):
    cfg = tmp_path / "frostfork.toml"
    cfg.write_text('app = "native_basic:app"\nworkers = 3\nmax_requests = 0\n'
                   'mask = ["x-secret"]\nmetrics = true\n')
    srv = serve(None, argv=[sys.executable, "-m", "frostfork", "serve", "--config", str(cfg),
                            "--bind", "127.0.0.1:0"])
    srv.wait_workers(3)
    assert srv.get("/_frostfork/metrics").status_code == 200  # metrics = true
    winner = serve(None, argv=[sys.executable, "-m", "frostfork", "serve", "--config", str(cfg),
                               "--bind", "127.0.0.1:0", "--workers", "2"])
    winner.wait_workers(2)
    assert winner.get("/pid").status_code == 200


def test_pyproject_tool_table_is_read_from_the_working_directory(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.frostfork]\napp = "native_basic:app"\nworkers = 2\n')
    proc = run_in(tmp_path, "check")
    assert proc.returncode == 0, proc.stderr
    assert "native_basic:app" in proc.stdout and "pyproject.toml [tool.frostfork]" in proc.stdout
    proc = run_in(tmp_path, "check", "--workers", "100000")  # the command line wins
    assert proc.returncode == 2 and "workers must be between" in proc.stderr
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    proc = run_in(tmp_path, "check", "native_basic:app")  # no table: nothing read
    assert proc.returncode == 0 and "with" not in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("text,msg", [
    ('workerz = 2\n', "unknown key 'workerz'"),
    ('[server]\nworkers = 2\n', "unknown key 'server'"),
    ('workers = "many"\n', "argument --workers/-w: invalid int value: 'many'"),
    ('workers = [1, 2]\n', "workers takes one value, not a list"),
    ('metrics = "yes"\n', "metrics must be true or false"),
    ('freeze = "sometimes"\n', "invalid choice: 'sometimes'"),
    ('app = 3\n', "app must be a string"),
    ('workers = 2\nworkers =', "not valid TOML"),
])
def test_config_errors_name_the_file_and_the_key(tmp_path, text, msg):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    line = error_line(run("check", "native_basic:app", "--config", str(cfg)))
    assert str(cfg) in line and msg in line, line


def test_missing_config_file_and_missing_app():
    assert "--config /no/such.toml: no such file" in error_line(
        run("check", "--config", "/no/such.toml"))
    assert "no MODULE:APP" in error_line(run("serve", "--bind", "127.0.0.1:0"))


def test_pid_file_names_the_master_and_goes_with_it(tmp_path, serve):
    pid = tmp_path / "run" / "api.pid"
    pid.parent.mkdir()
    srv = serve("native_basic:app", "--pid", str(pid))
    wait_until(pid.exists, what="the pid file")
    assert int(pid.read_text()) == srv.proc.pid
    assert srv.stop() == 0
    assert not pid.exists()
    assert os.listdir(pid.parent) == []  # no temporary file left either


def test_unwritable_pid_file_stops_the_start():
    line = error_line(run("serve", "native_basic:app", "--bind", "127.0.0.1:0",
                          "--pid", "/no/such/dir/api.pid"))
    assert "cannot write pid file /no/such/dir/api.pid" in line


def test_chdir_imports_from_there_and_umask_applies(tmp_path, serve):
    (tmp_path / "chdir_app.py").write_text(
        "import frostfork\napp = frostfork.App()\n\n@app.get('/')\ndef index():\n"
        "    return 'from chdir'\n")
    srv = serve("chdir_app:app", "--chdir", str(tmp_path), "--umask", "077",
                "--access-log", "access.log", "--pid", "api.pid",
                env={"PYTHONPATH": str(ROOT)})
    assert srv.get("/").text == "from chdir"
    log = tmp_path / "access.log"
    wait_until(lambda: log.exists() and log.stat().st_size > 0, what="the access log line")
    assert oct(log.stat().st_mode & 0o777) == oct(0o600)   # 0644 less the umask
    assert int((tmp_path / "api.pid").read_text()) == srv.proc.pid


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_user_and_group_are_dropped_after_bind_before_import(serve):
    import pwd

    nobody = pwd.getpwnam("nobody")
    srv = serve("native_basic:app", "--user", "nobody", "--group", str(nobody.pw_gid))
    worker = srv.get("/pid").json()["pid"]
    for pid in (srv.proc.pid, worker):
        status = dict(line.split(":", 1) for line in
                      open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
        assert status["Uid"].split() == [str(nobody.pw_uid)] * 4, status["Uid"]
        assert status["Gid"].split() == [str(nobody.pw_gid)] * 4, status["Gid"]
        assert status["Groups"].split() in ([], [str(nobody.pw_gid)]), status["Groups"]


@pytest.mark.skipif(os.geteuid() != 0, reason="binding below 1024 needs root")
def test_privileged_port_then_user(serve):
    """The point of the order: bind a port only root may bind, then serve as nobody."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 81))
        except OSError:
            pytest.skip("port 81 is taken")
    srv = serve("native_basic:app", "--user", "nobody", bind="127.0.0.1:81")
    assert srv.port == 81 and srv.get("/pid").status_code == 200
