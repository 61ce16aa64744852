"""Socket activation, tested by passing an fd: the test plays systemd.

It creates the listening socket, hands it to `frostfork serve --bind systemd` as
fd 3 with LISTEN_FDS=1 and LISTEN_PID=<the server's pid> (set by a launcher that
then execs frostfork, so the pid is the same), and talks to the server through
that socket. Also `--bind fd://N`, the refusals, and the unit files in
deploy/systemd/.
"""

from __future__ import annotations

import configparser
import re
import shlex
import socket
import sys
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, SLOW, Server

from frostfork.cli import build_parser

# Like systemd: move the inherited socket to fd 3, say whose it is, exec the server.
LAUNCHER = """\
import os, sys
fd, pid_mode = int(sys.argv[1]), sys.argv[2]
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
if pid_mode == "self":
    os.environ["LISTEN_PID"] = str(os.getpid())
elif pid_mode != "unset":
    os.environ["LISTEN_PID"] = pid_mode
os.execv(sys.executable, [sys.executable, "-m", "frostfork", *sys.argv[3:]])
"""


@pytest.fixture
def spawn(serve):
    """spawn(argv, pass_fds=..., env=...) -> a conftest Server that has not been
    waited for: the master the test started itself (stopped and checked at teardown)."""
    return lambda argv, **kw: serve(None, argv=argv, wait=False, **kw)


@pytest.fixture
def listener():
    """A listening TCP socket on 127.0.0.1, owned by the test (as systemd owns it)."""
    sock = socket.create_server(("127.0.0.1", 0), backlog=128)
    yield sock
    sock.close()


def activated(spawn, sock: socket.socket, pid_mode: str = "self", fds: str = "1",
              *args: str) -> Server:
    fd = sock.fileno()
    return spawn([sys.executable, "-c", LAUNCHER, str(fd), pid_mode, "serve", "native_basic:app",
                  "--bind", "systemd", *args],
                 pass_fds=(fd,), env={"LISTEN_FDS": fds} if fds else {})


def get(port: int, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10 * SLOW)


def test_bind_systemd_serves_the_passed_socket(spawn, listener):
    port = listener.getsockname()[1]
    srv = activated(spawn, listener)
    assert srv.wait_banner() == port
    environ = Path(f"/proc/{srv.proc.pid}/environ").read_bytes().split(b"\0")
    assert f"LISTEN_PID={srv.proc.pid}".encode() in environ  # as systemd sets it
    r = get(port)
    assert r.status_code == 200 and r.json() == {"message": "Hello, World!"}
    assert get(port, "/_frostfork/ready").text == "ready"
    assert srv.stop() == 0


def test_bind_systemd_accepts_listen_pid_unset(spawn, listener):
    port = listener.getsockname()[1]
    srv = activated(spawn, listener, "unset", "1", "--workers", "2")
    srv.wait_banner()
    assert get(port, "/users/7").json() == {"id": 7, "type": "int"}


def test_bind_systemd_refuses_a_socket_meant_for_another_process(spawn, listener):
    srv = activated(spawn, listener, "1")  # LISTEN_PID=1: not us
    assert srv.wait_exit() == 2
    assert "--bind systemd: no socket passed" in srv.output()


def test_bind_systemd_without_listen_fds_is_an_error(spawn, listener):
    srv = activated(spawn, listener, "self", "")
    assert srv.wait_exit() == 2
    assert "--bind systemd: no socket passed" in srv.output()


def test_bind_fd_serves_an_inherited_socket(spawn, listener):
    fd = listener.fileno()
    port = listener.getsockname()[1]
    srv = spawn([sys.executable, "-m", "frostfork", "serve", "native_basic:app",
                 "--bind", f"fd://{fd}", "--workers", "2"], pass_fds=(fd,))
    assert srv.wait_banner() == port
    assert get(port).status_code == 200
    assert srv.stop() == 0


def test_bind_fd_that_is_not_open_is_an_error(spawn):
    srv = spawn([sys.executable, "-m", "frostfork", "serve", "native_basic:app",
                 "--bind", "fd://987"])
    assert srv.wait_exit() == 2
    assert "--bind fd://987: not a usable socket" in srv.output()


def test_restart_under_socket_activation_loses_no_connection(spawn, listener):
    """What socket activation buys: while the service restarts, the socket stays
    open (systemd holds it), so a client that connects in between waits in the
    backlog and is served by the next instance instead of being refused."""
    port = listener.getsockname()[1]
    first = activated(spawn, listener)
    first.wait_banner()
    assert get(port).status_code == 200
    assert first.stop() == 0                        # TERM: drained, exit 0

    with socket.create_connection(("127.0.0.1", port), timeout=20 * SLOW) as waiting:
        waiting.sendall(b"GET /users/42 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        second = activated(spawn, listener)         # the restart
        second.wait_banner()
        data = b""
        while chunk := waiting.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert data.endswith(b'{"id":42,"type":"int"}')


# -- the unit files in deploy/systemd -------------------------------------------------

def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read_string((ROOT / "deploy" / "systemd" / name).read_text())
    return parser


def test_service_unit_drains_on_stop():
    service = unit("frostfork.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "frostfork"
    args = build_parser().parse_args(argv[1:])      # every flag is one the CLI knows
    assert args.command == "serve" and args.bind == "systemd"
    assert service["KillSignal"] == "SIGTERM"
    assert service["KillMode"] == "mixed"           # TERM to the master only; it drains workers
    assert float(service["TimeoutStopSec"]) > args.graceful_timeout
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_socket_unit_matches_the_service():
    socket_unit = unit("frostfork.socket")
    listen = socket_unit["Socket"]["ListenStream"]
    assert re.fullmatch(r"(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):\d+", listen), listen
    assert socket_unit["Socket"].get("Accept", "no") == "no"   # the listening socket itself
    service = unit("frostfork.service")["Unit"]
    assert "frostfork.socket" in service["Requires"] and "frostfork.socket" in service["After"]
