"""The Type=notify unit docs/deploy.md shows for SIGUSR2 upgrades under systemd:
its directives, and its command as frostfork parses it. (The upgrade and the
MAINPID notification themselves: tests/server/test_upgrade.py.)"""

from __future__ import annotations

import configparser
import re
import shlex

from conftest import ROOT

from frostfork.cli import parse_args


def unit() -> configparser.SectionProxy:
    page = (ROOT / "docs" / "deploy.md").read_text()
    section = page.split("### Under systemd", 1)[1]
    block = re.search(r"```ini\n(.*?)```", section, re.S)
    assert block, "no ini block under 'Under systemd'"
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(block.group(1))
    return parser["Service"]


def test_systemd_follows_the_new_master():
    service = unit()
    assert service["Type"] == "notify"        # READY=1 / MAINPID= from the masters
    assert service["NotifyAccess"] == "all"   # the new master is not the process systemd started
    assert shlex.split(service["ExecReload"])[-2:] == ["-USR2", "$MAINPID"]
    assert service["KillMode"] == "mixed" and service["KillSignal"] == "SIGTERM"
    assert service.get("RuntimeDirectoryPreserve") == "yes"


def test_the_command_parses_and_keeps_its_files_in_the_runtime_directory():
    service = unit()
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/frostfork")
    args = parse_args(argv[1:])
    assert args.command == "serve" and args.target == "myapi:app"
    run = f"/run/{service['RuntimeDirectory']}/"
    assert args.pid.startswith(run) and args.stats_socket.startswith(run)
    assert float(service["TimeoutStopSec"]) > args.graceful_timeout
