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
from typing import Any

from frostfork import _core, sinks
from frostfork.app import App, RouteError
from frostfork.cors import middleware_config


class CLIError(Exception):
    """An error reported as one line: 'frostfork: error: ...'."""


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("b")
    mult = units.get(t[-1:], 1)
    return int(float(t[:-1] if t[-1:] in units else t) * mult)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frostfork", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve an App (or a WSGI app with --wsgi)")
    s.add_argument("target", metavar="MODULE:APP", help="where the app lives, e.g. myapi:app")
    s.add_argument("--bind", "-b", default="127.0.0.1:8000",
                   help="HOST:PORT, [IPV6]:PORT, unix:PATH for a Unix socket (a stale one at "
                        "PATH is replaced, removed on exit), fd://N for an inherited listening "
                        "socket, or systemd for socket activation (default %(default)s)")
    s.add_argument("--workers", "-w", type=int, default=1,
                   help=f"worker processes, at most {_core.LIMITS['workers']} "
                        "(default %(default)s)")
    s.add_argument("--wsgi", action="store_true", help="the target is a PEP 3333 WSGI callable")
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
    s.add_argument("--spool-threshold", type=_size, default="1m", metavar="SIZE",
                   help="request bodies larger than this are spooled to a file as they "
                        "arrive: at once for a Content-Length above it, from the byte that "
                        "crosses it for a chunked body (default 1m). A spooled body stays "
                        "in its file: request.stream() and wsgi.input read it in blocks, a "
                        "typed body is decoded from it mapped read-only, request.body copies "
                        "it into memory")
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
    t = sub.add_parser("stats", help="print memory and requests of a running server")
    t.add_argument("--bind", "-b", default="127.0.0.1:8000",
                   help="the server's --bind, to find its stats socket (default %(default)s)")
    t.add_argument("--socket", default=None, metavar="PATH", help="the stats socket itself")
    t.add_argument("--json", action="store_true", help="print the raw JSON snapshot")
    o = sub.add_parser("openapi", help="print the OpenAPI 3.1 document of an App")
    o.add_argument("target", metavar="MODULE:APP", help="where the app lives, e.g. myapi:app")
    return parser


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
    except RouteError as e:
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
        host, sep, port = spec.rpartition(":")
        if not sep or not port.isdigit():
            raise CLIError(f"--bind {spec!r}: expected HOST:PORT")
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


def serve(args: argparse.Namespace) -> int:
    if args.freeze is None:  # measured in bench/RESULTS.md ("Read the heap")
        args.freeze = "immortal" if sys.version_info >= (3, 12) else "collect"
    if args.freeze == "immortal" and sys.version_info < (3, 12):
        raise CLIError("--freeze immortal needs CPython 3.12 or newer (PEP 683 immortal "
                       f"objects); this is {sys.version.split()[0]}: use --freeze collect")
    if args.freeze == "early":
        gc.disable()  # the CPython docs' recipe: no collections until the fork
    sock = _bind(args.bind)
    app = _load(args.target)
    if args.wsgi:
        if not callable(app):
            raise CLIError(f"{args.target} is not callable, so it is not a WSGI app")
        table: Any = app
    else:
        if not isinstance(app, App):
            raise CLIError(f"{args.target} is a {type(app).__name__}, not a frostfork.App "
                           f"(use --wsgi to serve a WSGI callable)")
        try:
            app.run_startup()
        except Exception as e:
            raise CLIError(f"a startup hook raised {type(e).__name__}: {e}") from None
        try:
            table = app._compile()
        except RouteError as e:
            raise CLIError(str(e)) from None
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
    metrics_sock = _bind(args.metrics_bind) if args.metrics_bind else None
    print(f"[frostfork] master {os.getpid()} serving {args.target} on {where}"
          f" with {args.workers} worker(s), freeze={args.freeze}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    try:
        return _core.serve(
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
            mask=mask, middleware=middleware_config(app, args.forwarded_allow_ips))
    finally:
        if unix_path and args.bind.startswith("unix:"):  # ours to remove, not an inherited one
            with contextlib.suppress(OSError):
                os.unlink(unix_path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "openapi":
            return openapi(args)
        if args.command == "stats":
            return stats(args)
    except CLIError as e:
        print(f"frostfork: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # limits and options the core rejects
        print(f"frostfork: error: {e}", file=sys.stderr)
        return 2
    return 0
