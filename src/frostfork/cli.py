"""The command line: ``frostfork serve module:app [options]``.

Parsing, importing the app and binding the socket happen here, once; the
master and workers that follow are C (frostfork._core.serve).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import socket
import stat
import sys
import tempfile
import traceback
from typing import Any, NoReturn

from frostfork import _core, aio, asgi, sinks
from frostfork.app import App
from frostfork.cors import middleware_config


class CLIError(Exception):
    """An error reported as one line: 'frostfork: error: ...'."""


# --reload restarts the whole server on every save: a development convenience
# that a production worker count should not be run with by accident.
RELOAD_MAX_WORKERS = 2


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("b")
    mult = units.get(t[-1:], 1)
    return int(float(t[:-1] if t[-1:] in units else t) * mult)


def build_parser(raise_errors: bool = False) -> argparse.ArgumentParser:
    """The whole command line. With raise_errors, a bad argument raises
    CLIError instead of printing the usage and exiting (config files)."""

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            if raise_errors:
                raise CLIError(message)
            super().error(message)

    parser = Parser(prog="frostfork", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve an App (or a WSGI app with --wsgi)")
    serve_options(s)
    c = sub.add_parser("check", help="import an App, compile every route and validate the "
                                     "serve options and config file, without binding or "
                                     "running startup hooks; exit 0, or 2 naming the problem")
    serve_options(c)
    t = sub.add_parser("stats", help="print memory and requests of a running server")
    t.add_argument("--bind", "-b", default="127.0.0.1:8000",
                   help="the server's --bind, to find its stats socket (default %(default)s)")
    t.add_argument("--socket", default=None, metavar="PATH", help="the stats socket itself")
    t.add_argument("--json", action="store_true", help="print the raw JSON snapshot")
    o = sub.add_parser("openapi", help="print the OpenAPI 3.1 document of an App")
    o.add_argument("target", metavar="MODULE:APP", help="where the app lives, e.g. myapi:app")
    return parser


def subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of one subcommand (serve, check, ...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser = action.choices[name]
            return sub
    raise KeyError(name)


def _octal(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal mode such as 027") from None
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"{text!r} is not a mode between 000 and 777")
    return mode


def serve_options(s: argparse.ArgumentParser) -> None:
    """The options of `serve` (and of `check`, which validates them)."""
    s.add_argument("target", metavar="MODULE:APP", nargs="?", default=None,
                   help="where the app lives, e.g. myapi:app (or app = \"myapi:app\" in the "
                        "config file)")
    s.add_argument("--config", "-c", default=None, metavar="FILE",
                   help="read options from this TOML file: its keys are the long options "
                        "(workers = 4, max-requests = 1000, bind = \"unix:/run/api.sock\", "
                        "mask = [\"x-token\"]) plus app; a file named pyproject.toml is read "
                        "from its [tool.frostfork] table. Without --config, [tool.frostfork] of "
                        "./pyproject.toml is read when present. The command line wins; an "
                        "unknown key is an error naming it")
    s.add_argument("--bind", "-b", default="127.0.0.1:8000",
                   help="HOST:PORT, [IPV6]:PORT, unix:PATH for a Unix socket (a stale one at "
                        "PATH is replaced, removed on exit), fd://N for an inherited listening "
                        "socket, or systemd for socket activation (default %(default)s)")
    s.add_argument("--workers", "-w", type=int, default=1,
                   help=f"worker processes, at most {_core.LIMITS['workers']} "
                        "(default %(default)s)")
    s.add_argument("--wsgi", action="store_true", help="the target is a PEP 3333 WSGI callable")
    s.add_argument("--asgi", action="store_true",
                   help="the target is an ASGI 3 app (found on its own when it is an async "
                        "callable of (scope, receive, send))")
    s.add_argument("--root-path", default="", metavar="PATH",
                   help="ASGI: the scope's root_path (the prefix a proxy mounts the app under)")
    s.add_argument("--timeout", type=float, default=30,
                   help="kill a worker whose heartbeat stops for this many seconds (default %(default)s)")
    s.add_argument("--graceful-timeout", type=float, default=30,
                   help="seconds a stopping worker gets to finish in-flight requests (default %(default)s)")
    s.add_argument("--keepalive", type=float, default=5,
                   help="seconds an idle keep-alive connection is kept (default %(default)s)")
    s.add_argument("--header-timeout", type=float, default=10,
                   help="seconds a client gets to send a whole request head (default %(default)s)")
    s.add_argument("--body-timeout", type=float, default=30,
                   help="seconds without progress while a body arrives (default %(default)s)")
    s.add_argument("--max-requests", type=int, default=0,
                   help="recycle a worker after this many requests, 0 = never (default %(default)s)")
    s.add_argument("--max-requests-jitter", type=int, default=0,
                   help="add up to this many requests at random per worker (default %(default)s)")
    s.add_argument("--max-connections", type=int, default=1000,
                   help="open connections per worker (default %(default)s)")
    s.add_argument("--max-body", type=_size, default="16m",
                   help="largest request body, e.g. 16m; larger gets 413 (default 16m)")
    s.add_argument("--max-header-bytes", type=int, default=16384,
                   help="largest request head; larger gets 431 (default %(default)s)")
    s.add_argument("--max-headers", type=int, default=100,
                   help="most header fields; more gets 431 (default %(default)s)")
    s.add_argument("--max-request-line", type=int, default=8190,
                   help="longest request line; longer gets 414 (default %(default)s)")
    s.add_argument("--metrics", action="store_true",
                   help="serve /_frostfork/metrics (Prometheus), /_frostfork/status (HTML) "
                        "and /_frostfork/stats.json")
    s.add_argument("--metrics-bind", default=None, metavar="HOST:PORT",
                   help="serve those on this separate listener only (implies --metrics)")
    s.add_argument("--stats-socket", default=None, metavar="PATH",
                   help="unix socket `frostfork stats` reads (default: "
                        "$TMPDIR/frostfork-<port>.sock)")
    s.add_argument("--stats-interval", type=float, default=2.0,
                   help="seconds between memory samples of every process (default %(default)s)")
    s.add_argument("--max-worker-uss", type=float, default=0, metavar="MB",
                   help="recycle a worker gracefully once its private memory (USS) passes "
                        "this, 0 = never (default %(default)s)")
    s.add_argument("--access-log", default=None, metavar="PATH|-",
                   help="write an access log line per request to PATH (append-only, reopened on "
                        "SIGUSR1) or - for stdout; overrides App(access_log=...)")
    s.add_argument("--access-log-format", choices=("json", "common"), default=None,
                   help="JSON lines (default) or the common log format")
    s.add_argument("--mask", action="append", default=[], metavar="NAME",
                   help="another header/query name whose values are masked in logs (repeatable)")
    s.add_argument("--spool-dir", default=tempfile.gettempdir(), metavar="DIR",
                   help="where workers keep spooled bodies and temp files; each worker gets its "
                        "own directory, removed by the master if the worker dies (default "
                        "%(default)s)")
    s.add_argument("--spool-threshold", type=_size, default="2m", metavar="SIZE",
                   help="request bodies larger than this are spooled to a file as they "
                        "arrive: at once for a Content-Length above it, from the byte that "
                        "crosses it for a chunked body (default 2m). A spooled body stays "
                        "in its file: request.stream() and wsgi.input read it in blocks, a "
                        "typed body is decoded from it mapped read-only, request.body copies "
                        "it into memory")
    s.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                   help="the event loop each worker runs when the app has async def handlers "
                        "(auto: uvloop when installed, else asyncio); an all-sync app runs none")
    s.add_argument("--max-concurrency", type=int, default=0, metavar="N",
                   help="suspended async handlers per worker; a request for an async handler "
                        "beyond that is answered 503 with Retry-After (0: no limit)")
    s.add_argument("--ws-max-message", type=_size, default="16m", metavar="SIZE",
                   help="WebSocket: the largest message (after inflating) a client may send; "
                        "over it the session closes with 1009 (default 16 MiB)")
    s.add_argument("--ws-ping", type=float, default=0.0, metavar="SECONDS",
                   help="WebSocket: ping a session idle this long, close it (1011) when the "
                        "next ping comes without a pong (default 0: off)")
    s.add_argument("--no-ws-deflate", action="store_true",
                   help="WebSocket: do not agree to permessage-deflate (RFC 7692)")
    s.add_argument("--no-inline-step", action="store_true",
                   help="run every async def handler in an asyncio Task from its start, instead "
                        "of running it inline until it first suspends (code that looks up "
                        "asyncio.current_task() on its first call, e.g. anyio or httpx, needs it)")
    s.add_argument("--forwarded-allow-ips", default=None,
                   metavar="IPS",
                   help="comma-separated addresses or networks (or '*') of trusted proxies: "
                        "their X-Forwarded-For and X-Forwarded-Proto set request.client, the "
                        "scheme and the access log's address (default: none, or "
                        "App(forwarded_allow_ips=...); gunicorn's default is 127.0.0.1,::1)")
    s.add_argument("--freeze", choices=("collect", "immortal", "early", "off"), default=None,
                   help="collect: gc.collect()+gc.freeze() before fork; "
                        "immortal (CPython 3.12+): also make the startup heap's plain Python "
                        "objects immortal first, so workers that read them keep its pages "
                        "shared (they are never freed); "
                        "early: gc.disable() before import, freeze before fork; off: neither "
                        "(default: immortal on CPython 3.12+, collect on 3.11)")
    s.add_argument("--pid", default=None, metavar="FILE",
                   help="write the master's pid to FILE (replaced atomically; removed at exit "
                        "by the master it names). After a SIGUSR2 upgrade it names the new "
                        "master, written once its workers are ready; under --reload it names "
                        "the reloader")
    s.add_argument("--user", default=None, metavar="USER",
                   help="switch to this user (name or uid) after binding, before importing "
                        "the app; also its primary group unless --group says otherwise")
    s.add_argument("--group", default=None, metavar="GROUP",
                   help="switch to this group (name or gid) after binding, before importing "
                        "the app")
    s.add_argument("--chdir", default=None, metavar="DIR",
                   help="change to DIR first: the app is imported from there and other "
                        "relative paths (--pid, --access-log, unix:PATH) are relative to it "
                        "(--config and ./pyproject.toml are read before)")
    s.add_argument("--umask", type=_octal, default=None, metavar="MODE",
                   help="set the process umask (octal, e.g. 027) before binding and creating "
                        "files")
    s.add_argument("--reload", action="store_true",
                   help="for development only: watch the source files and, when one changes, "
                        "start a new master generation with the new code on the same socket "
                        "and drain the old one; an app that fails to import leaves the old "
                        "code serving; SIGHUP or SIGUSR2 to the reloader reloads at once. "
                        f"Refused with more than {RELOAD_MAX_WORKERS} workers unless "
                        "--reload-force")
    s.add_argument("--reload-dir", action="append", default=[], metavar="DIR",
                   help="a directory to watch, recursively (repeatable; default: the "
                        "directory on sys.path the app's top-level module is found in, "
                        "usually the current one)")
    s.add_argument("--reload-include", action="append", default=[], metavar="GLOB",
                   help="file names to watch (repeatable; default *.py)")
    s.add_argument("--reload-exclude", action="append", default=[], metavar="GLOB",
                   help="file or directory names not to watch (repeatable; hidden ones, "
                        "virtual environments, __pycache__, build, dist, node_modules and "
                        "site-packages are never watched)")
    s.add_argument("--reload-force", action="store_true",
                   help=f"allow --reload with more than {RELOAD_MAX_WORKERS} workers")


def stats_socket_path(bind: str) -> str:
    """Where a server started with this --bind answers `frostfork stats`."""
    if bind.startswith("unix:"):
        return bind[5:] + ".stats"
    return os.path.join(tempfile.gettempdir(), f"frostfork-{bind.rpartition(':')[2]}.sock")


def stats(args: argparse.Namespace) -> int:
    import json

    path = args.socket or stats_socket_path(args.bind)
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            data = b"".join(iter(lambda: s.recv(65536), b""))
    except OSError as e:
        raise CLIError(f"cannot read stats from {path}: {e.strerror or e} "
                       f"(is the server running with this --bind?)") from None
    snap = json.loads(data)
    if args.json:
        print(json.dumps(snap, indent=2))
        return 0
    print(format_stats(snap))
    return 0


def format_stats(snap: dict[str, Any]) -> str:
    """The `frostfork stats` table: one row per process, then totals."""
    def mb(kb: int) -> str:
        return f"{kb / 1024:8.1f}"

    rows = [f"{'process':>8} {'pid':>7} {'age s':>8} {'requests':>9} {'PSS MB':>8} "
            f"{'USS MB':>8} {'shared':>8}"]
    m = snap["master"]
    rows.append(f"{'master':>8} {m['pid']:>7} {m['age_s']:>8.0f} {'':>9} {mb(m['pss_kb'])} "
                f"{mb(m['uss_kb'])} {mb(m['shared_kb'])}")
    for w in snap["workers"]:
        rows.append(f"{'worker':>8} {w['pid']:>7} {w['age_s']:>8.0f} {w['requests']:>9} "
                    f"{mb(w['pss_kb'])} {mb(w['uss_kb'])} {mb(w['shared_kb'])}")
    procs = [m, *snap["workers"]]
    total_pss = snap["total_pss_kb"]
    rss = sum(p["rss_kb"] for p in procs)
    n = len(snap["workers"])
    rows.append(f"total PSS {total_pss / 1024:.1f} MB for {n} workers + master "
                f"(USS {sum(p['uss_kb'] for p in procs) / 1024:.1f} MB)")
    rows.append(f"memory saved versus {len(procs)} independent processes: "
                f"{(rss - total_pss) / 1024:.1f} MB (their RSS would add up to {rss / 1024:.1f} MB)")
    immortal = (f", immortal objects {snap['immortal_objects']} "
                f"({snap['immortal_bytes'] / 2**20:.1f} MB)" if snap.get("immortal_objects") else "")
    rows.append(f"restarts {snap['restarts']}, frozen objects {snap['freeze_count']}{immortal}")
    return "\n".join(rows)


def openapi(args: argparse.Namespace) -> int:
    import json

    app = _load(args.target)
    if not isinstance(app, App):
        raise CLIError(f"{args.target} is a {type(app).__name__}, not a frostfork.App")
    try:
        document = app.openapi()
    except ValueError as e:  # RouteError, or two security schemes sharing a name
        raise CLIError(str(e)) from None
    print(json.dumps(document, indent=2))
    return 0


def _bind(spec: str) -> socket.socket:
    if spec == "systemd":  # socket activation: sd_listen_fds(3) hands over fd 3
        if os.environ.get("LISTEN_PID") not in (None, str(os.getpid())) or \
                int(os.environ.get("LISTEN_FDS", "0")) < 1:
            raise CLIError("--bind systemd: no socket passed (LISTEN_FDS/LISTEN_PID unset)")
        spec = "fd://3"
    if spec.startswith("fd://"):
        try:
            sock = socket.socket(fileno=int(spec[5:]))
        except (OSError, ValueError) as e:
            raise CLIError(f"--bind {spec}: not a usable socket ({e})") from None
    elif spec.startswith("unix:"):
        sock = _bind_unix(spec[5:])
    else:
        _check_bind(spec)
        host, _, port = spec.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sock = socket.create_server((host, int(port)), family=family, backlog=2048)
        except OSError as e:
            raise CLIError(f"cannot bind {spec}: {e.strerror or e}") from None
    sock.setblocking(False)
    return sock


def _bind_unix(path: str) -> socket.socket:
    """A Unix listening socket at path. A socket file nobody listens on (left
    by a killed server) is replaced; one a live server answers on is not."""
    if not path:
        raise CLIError("--bind unix:PATH needs a path")
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise CLIError(f"cannot bind unix:{path}: exists and is not a socket")
        with socket.socket(socket.AF_UNIX) as probe:
            if probe.connect_ex(path) == 0:
                raise CLIError(f"cannot bind unix:{path}: a server is listening on it")
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise CLIError(f"cannot bind unix:{path}: {e.strerror or e}") from None
    return sock


def _load(target: str) -> Any:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"{target!r}: expected MODULE:APP, e.g. myapi:app")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise CLIError(f"cannot import {module_name!r}: no module named {e.name!r}") from None
        raise CLIError(_raised(target, e)) from None
    except Exception as e:
        raise CLIError(_raised(target, e)) from None
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise CLIError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _raised(target: str, e: BaseException) -> str:
    if os.environ.get("FROSTFORK_TRACEBACK"):
        traceback.print_exception(e)
    frame = traceback.extract_tb(e.__traceback__)[-1:] or None
    where = f" at {frame[0].filename}:{frame[0].lineno}" if frame else ""
    return (f"importing {target} raised {type(e).__name__}: {e}{where} "
            f"(set FROSTFORK_TRACEBACK=1 for the traceback)")


# What an upgrading master (SIGUSR2, server/upgrade.c) or the reloader
# (reload.py) hands the master it starts: the inherited listening sockets and
# the pipe on which that master says "ready" once its workers serve, or why it
# failed. The process named in FROM keeps serving until it reads "ready".
UPGRADE_LISTEN_FD = "FROSTFORK_UPGRADE_LISTEN_FD"
UPGRADE_METRICS_FD = "FROSTFORK_UPGRADE_METRICS_FD"
UPGRADE_PIPE = "FROSTFORK_UPGRADE_PIPE"
UPGRADE_FROM = "FROSTFORK_UPGRADE_FROM"
# Set by the reloader for the masters it runs: they leave --reload and --pid to it.
RELOAD_GENERATION = "FROSTFORK_RELOAD_GENERATION"


def _upgrade_failed(message: str) -> None:
    """Tells the process that started this master as its successor why it
    will not take over (it keeps serving and logs this)."""
    fd = os.environ.pop(UPGRADE_PIPE, None)
    if fd and fd.isdigit():
        with contextlib.suppress(OSError):
            os.write(int(fd), f"error: {message}\n".encode(errors="replace")[:1024])
            os.close(int(fd))


def _inherited(fd_text: str, what: str) -> socket.socket:
    try:
        sock = socket.socket(fileno=int(fd_text))
    except (OSError, ValueError) as e:
        raise CLIError(f"{what}: fd {fd_text} from the old master is not a socket ({e})") from None
    sock.setblocking(False)
    return sock


def _ids(user: str | None, group: str | None) -> tuple[int | None, int | None, str | None]:
    """(uid, gid, user name) for --user/--group; a user brings its primary group."""
    import grp
    import pwd

    uid = gid = name = None
    if user:
        try:
            pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
            uid, gid, name = pw.pw_uid, pw.pw_gid, pw.pw_name
        except KeyError:
            if not user.isdigit():
                raise CLIError(f"--user {user}: no such user") from None
            if not group:  # else it would keep root's groups
                raise CLIError(f"--user {user}: no such user in the password database, so "
                               f"no group to go with it: add --group")
            uid = int(user)
    if group:
        try:
            gid = grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            if not group.isdigit():
                raise CLIError(f"--group {group}: no such group") from None
            gid = int(group)
    return uid, gid, name


def drop_privileges(user: str | None, group: str | None) -> None:
    """Becomes --user/--group for good (real, effective and saved ids, and
    the supplementary groups), after the sockets are bound and before the app
    is imported. Already being them (an upgraded master) is not an error."""
    uid, gid, name = _ids(user, group)
    try:
        if gid is not None and (os.getgid(), os.getegid()) != (gid, gid):
            if os.geteuid() == 0:
                if name and uid is not None:
                    os.initgroups(name, gid)
                else:
                    os.setgroups([gid])
            os.setresgid(gid, gid, gid)
        if uid is not None and (os.getuid(), os.geteuid()) != (uid, uid):
            os.setresuid(uid, uid, uid)
    except OSError as e:
        who = " ".join(f for f in (f"user {user}" if user else "", f"group {group}" if group else "") if f)
        raise CLIError(f"cannot switch to {who}: {e.strerror or e}") from None


def _check_bind(spec: str) -> None:
    """The --bind syntax, without binding."""
    if spec == "systemd" or spec.startswith(("fd://", "unix:")):
        if spec.startswith("fd://") and not spec[5:].isdigit():
            raise CLIError(f"--bind {spec}: expected fd://N")
        if spec == "unix:":
            raise CLIError("--bind unix:PATH needs a path")
        return
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit():
        raise CLIError(f"--bind {spec!r}: expected HOST:PORT")


def validate(args: argparse.Namespace) -> None:
    """What can be checked of the serve options before anything is bound or
    imported (`frostfork check` runs only this and the import)."""
    if args.freeze is None:  # measured in bench/RESULTS.md ("Read the heap")
        args.freeze = "immortal" if sys.version_info >= (3, 12) else "collect"
    if args.freeze == "immortal" and sys.version_info < (3, 12):
        raise CLIError("--freeze immortal needs CPython 3.12 or newer (PEP 683 immortal "
                       f"objects); this is {sys.version.split()[0]}: use --freeze collect")
    if not 1 <= args.workers <= _core.LIMITS["workers"]:
        raise CLIError(f"workers must be between 1 and {_core.LIMITS['workers']}")
    for name in ("timeout", "graceful_timeout", "keepalive", "header_timeout", "body_timeout"):
        if getattr(args, name) < 0:
            raise CLIError(f"--{name.replace('_', '-')} must not be negative")
    if len(args.spool_dir) > _core.LIMITS["spool_dir_bytes"]:
        raise CLIError(f"--spool-dir is {len(args.spool_dir)} bytes long; at most "
                       f"{_core.LIMITS['spool_dir_bytes']} are supported")
    _check_bind(args.bind)
    if args.metrics_bind:
        _check_bind(args.metrics_bind)
    if args.chdir and not os.path.isdir(args.chdir):
        raise CLIError(f"--chdir {args.chdir}: no such directory")
    _ids(args.user, args.group)
    if args.pid:
        where = os.path.dirname(os.path.join(args.chdir or "", args.pid)) or "."
        if not os.path.isdir(where) or not os.access(where, os.W_OK | os.X_OK):
            raise CLIError(f"cannot write pid file {args.pid}: cannot create files in "
                           f"{os.path.abspath(where)}")
    if args.reload and args.workers > RELOAD_MAX_WORKERS and not args.reload_force:
        raise CLIError(f"--reload is for development: it restarts the server on every save, "
                       f"and is refused with more than {RELOAD_MAX_WORKERS} workers "
                       f"(--workers {args.workers}); add --reload-force to run it anyway")


def check(args: argparse.Namespace) -> int:
    """`frostfork check`: validate the options, import the app, compile its routes."""
    validate(args)
    if args.chdir:
        os.chdir(args.chdir)
    app = _load(args.target)
    if args.wsgi:
        if not callable(app):
            raise CLIError(f"{args.target} is not callable, so it is not a WSGI app")
        print(f"frostfork: {args.target} is a WSGI callable; options valid")
        return 0
    if not isinstance(app, App):
        raise CLIError(f"{args.target} is a {type(app).__name__}, not a frostfork.App "
                       f"(use --wsgi to check a WSGI callable)")
    try:
        routes = app._compile()
    except ValueError as e:  # RouteError, or two security schemes sharing a name
        raise CLIError(str(e)) from None
    source = getattr(args, "config_source", None)
    print(f"frostfork: {args.target}: {len(routes)} route(s) compiled; options valid"
          + (f" (with {source})" if source else ""))
    return 0


def serve(args: argparse.Namespace, argv: list[str]) -> int:
    validate(args)
    generation = os.environ.get(RELOAD_GENERATION) == "1"
    if args.reload or generation:
        from frostfork import reload

        if not generation:
            return reload.run(args, argv)
        reload.die_with_parent()
    start_dir = os.getcwd()
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as e:
            raise CLIError(f"--chdir {args.chdir}: {e.strerror or e}") from None
    if args.umask is not None:
        os.umask(args.umask)
    if args.freeze == "early":
        gc.disable()  # the CPython docs' recipe: no collections until the fork
    inherited = os.environ.get(UPGRADE_LISTEN_FD)
    sock = _inherited(inherited, "--bind") if inherited else _bind(args.bind)
    metrics_sock = None
    if os.environ.get(UPGRADE_METRICS_FD):
        metrics_sock = _inherited(os.environ[UPGRADE_METRICS_FD], "--metrics-bind")
    elif args.metrics_bind:
        metrics_sock = _bind(args.metrics_bind)
    drop_privileges(args.user, args.group)
    if args.ws_max_message <= 0 or args.ws_ping < 0:
        raise CLIError("--ws-max-message must be > 0 and --ws-ping >= 0")
    from frostfork import websocket
    websocket.configure(args.ws_max_message, not args.no_ws_deflate, args.ws_ping)
    app = _load(args.target)
    runtime = None
    if not args.wsgi and not isinstance(app, App) and (args.asgi or asgi.is_asgi_app(app)):
        if not callable(app):
            raise CLIError(f"{args.target} is not callable, so it is not an ASGI app")
        args.asgi = True
        if args.max_concurrency < 0:
            raise CLIError("--max-concurrency must be 0 or more")
        try:
            _core.aio_config(aio.loop_factory(args.loop), args.max_concurrency)
        except ValueError as e:
            raise CLIError(str(e)) from None
        _core.asgi_config(app, args.root_path)
        table: Any = []
    elif args.wsgi:
        if not callable(app):
            raise CLIError(f"{args.target} is not callable, so it is not a WSGI app")
        table = app
    else:
        if not isinstance(app, App):
            raise CLIError(f"{args.target} is a {type(app).__name__}, not a frostfork.App "
                           f"(use --wsgi to serve a WSGI callable, --asgi for an ASGI app)")
        try:
            app.run_startup()
        except Exception as e:
            raise CLIError(f"a startup hook raised {type(e).__name__}: {e}") from None
        try:
            table = app._compile()
        except ValueError as e:  # RouteError, or two security schemes sharing a name
            raise CLIError(str(e)) from None
        if args.max_concurrency < 0:
            raise CLIError("--max-concurrency must be 0 or more")
        if aio.needs_loop([route.endpoint for route in app.routes()]):
            try:
                _core.aio_config(aio.loop_factory(args.loop), args.max_concurrency,
                                 not args.no_inline_step)
            except ValueError as e:
                raise CLIError(str(e)) from None
        runtime = app.runtime()
    access = getattr(app, "access_log", None)
    if args.access_log:
        access = sinks.stdout() if args.access_log == "-" else sinks.file(args.access_log)
    access_format = args.access_log_format or getattr(app, "access_format", "json")
    mask = tuple(getattr(app, "mask", ())) + tuple(m.lower() for m in args.mask)
    unix_path = sock.getsockname() if sock.family == socket.AF_UNIX else None
    if unix_path:  # PEP 3333 wants a name and port even so: the local host's
        host, port, where = "localhost", 0, f"unix:{unix_path}"
        stats_path = stats_socket_path(where)
    else:
        host, port = sock.getsockname()[:2]
        where = f"http://{host}:{port}"
        stats_path = stats_socket_path(f"{host}:{port}")
    successor_of = os.environ.get(UPGRADE_FROM)
    print(f"[frostfork] master {os.getpid()} serving {args.target} on {where}"
          f" with {args.workers} worker(s), freeze={args.freeze}"
          + (f", taking over from {successor_of}" if successor_of else ""),
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    ready_fd = os.environ.get(UPGRADE_PIPE, "")
    # A new master started by SIGUSR2 is `python -m frostfork` with the same
    # words, from the directory this one started in: new code, same options.
    upgrade_argv = None if generation else (sys.executable, "-m", "frostfork", *argv)
    handed_over = False
    try:
        rc = _core.serve(
            sock.fileno(), table, wsgi=args.wsgi, workers=args.workers, timeout=args.timeout,
            graceful_timeout=args.graceful_timeout, keepalive=args.keepalive,
            header_timeout=args.header_timeout, body_timeout=args.body_timeout,
            max_requests=args.max_requests, max_requests_jitter=args.max_requests_jitter,
            max_connections=args.max_connections, freeze=args.freeze, max_body=args.max_body,
            max_header_bytes=args.max_header_bytes, max_headers=args.max_headers,
            max_request_line=args.max_request_line, server_name=str(host), server_port=int(port),
            metrics=args.metrics or metrics_sock is not None,
            metrics_fd=metrics_sock.fileno() if metrics_sock else -1,
            stats_path=args.stats_socket or stats_path,
            stats_interval=args.stats_interval, max_worker_uss=args.max_worker_uss,
            spool_dir=args.spool_dir, spool_threshold=args.spool_threshold,
            access_log=access, access_format=access_format, audit=getattr(app, "audit", None),
            mask=mask, runtime=runtime,
            middleware=middleware_config(app, args.forwarded_allow_ips),
            pid_path=os.path.abspath(args.pid) if args.pid and not generation else None,
            upgrade_argv=upgrade_argv, upgrade_cwd=start_dir,
            ready_fd=int(ready_fd) if ready_fd.isdigit() else -1)
    except OSError as e:  # the pid file, when --user may not write where root could
        raise CLIError(str(e)) from None
    else:
        os.environ.pop(UPGRADE_PIPE, None)  # the core has answered on it, and closed it
        handed_over = rc is None
        if isinstance(app, App):  # in the master, once every worker has stopped
            try:
                app.run_shutdown()
            except Exception as e:
                print(f"[frostfork] master {os.getpid()}: a shutdown hook raised "
                      f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
                rc = rc or 1
        return 0 if rc is None else rc
    finally:
        # ours to remove, unless inherited, handed to the master that took over,
        # or the reloader's (which outlives every generation)
        if unix_path and args.bind.startswith("unix:") and not handed_over and not generation:
            with contextlib.suppress(OSError):
                os.unlink(unix_path)


def _config_file(path: str | None) -> tuple[str, dict[str, Any]] | None:
    """(where, table) of the options a config file sets: --config FILE, else
    [tool.frostfork] of ./pyproject.toml when it has one; None without either."""
    import tomllib

    explicit = path is not None
    path = path or "pyproject.toml"
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if explicit:
            raise CLIError(f"--config {path}: no such file") from None
        return None
    except OSError as e:
        raise CLIError(f"--config {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise CLIError(f"{path}: not valid TOML: {e}") from None
    if os.path.basename(path) == "pyproject.toml":
        table = data.get("tool", {}).get("frostfork")
        if table is None:
            if explicit:
                raise CLIError(f"{path} has no [tool.frostfork] table")
            return None
        if not isinstance(table, dict):
            raise CLIError(f"{path}: tool.frostfork must be a table")
        return f"{path} [tool.frostfork]", table
    return path, data


def _config_tokens(where: str, table: dict[str, Any],
                   sub: argparse.ArgumentParser) -> tuple[list[str], str | None]:
    """The command-line words a config table stands for, and its `app`.
    Keys are long options without the dashes (`max_requests` is taken for
    `max-requests` too)."""
    actions = {opt[2:]: a for a in sub._actions for opt in a.option_strings
               if opt.startswith("--") and opt not in ("--help", "--config")}
    tokens: list[str] = []
    target = None
    for key, value in table.items():
        name = key.replace("_", "-")
        if name == "app":
            if not isinstance(value, str):
                raise CLIError(f"{where}: app must be a string such as \"myapi:app\"")
            target = value
            continue
        action = actions.get(name)
        if action is None:
            raise CLIError(f"{where}: unknown key {key!r} (keys are the long options of "
                           f"`frostfork serve`, such as workers or max-requests, and app)")
        flag = f"--{name}"
        if action.nargs == 0:
            if not isinstance(value, bool):
                raise CLIError(f"{where}: {key} must be true or false")
            if value:
                tokens.append(flag)
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not isinstance(action, argparse._AppendAction):
            raise CLIError(f"{where}: {key} takes one value, not a list")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise CLIError(f"{where}: {key} = {v!r}: expected a string or a number")
            tokens.append(f"{flag}={v}")
    return tokens, target


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, with a config file's options under it: for serve and
    check, --config FILE (or ./pyproject.toml's [tool.frostfork]) supplies
    defaults that the command line overrides."""
    args = build_parser().parse_args(argv)
    if args.command not in ("serve", "check"):
        return args
    found = _config_file(args.config)
    if found is None:
        return args
    where, table = found
    tokens, target = _config_tokens(where, table, subcommand(build_parser(), args.command))
    try:
        build_parser(raise_errors=True).parse_args([args.command, *tokens])
    except CLIError as e:
        raise CLIError(f"{where}: {e}") from None
    command_at = argv.index(args.command)
    merged = build_parser().parse_args([args.command, *tokens, *argv[command_at + 1:]])
    if merged.target is None:
        merged.target = target
    merged.config_source = where
    return merged


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
        if args.command in ("serve", "check") and not args.target:
            raise CLIError("no MODULE:APP: give it on the command line, or as "
                           "app = \"myapi:app\" in the config file")
        if args.command == "serve":
            return serve(args, argv)
        if args.command == "check":
            return check(args)
        if args.command == "openapi":
            return openapi(args)
        if args.command == "stats":
            return stats(args)
    except CLIError as e:
        _upgrade_failed(str(e))
        print(f"frostfork: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # limits and options the core rejects
        _upgrade_failed(str(e))
        print(f"frostfork: error: {e}", file=sys.stderr)
        return 2
    return 0
