"""``frostfork serve --reload``: the development server.

This process binds the listening socket once, keeps it, and runs the real
server as a succession of master generations, each ``python -m frostfork
serve`` with the same words, the socket inherited. When a watched file
changes (inotify, through ctypes), the next generation starts beside the
current one; it imports the app, freezes, forks its workers and says "ready"
on a pipe (the SIGUSR2 handshake of server/upgrade.c); only then is the
current one drained with SIGTERM. The socket never closes, so a request
during the swap is served by the old code or the new, never refused. A
generation that fails to import prints its traceback and exits; the current
one keeps serving until a later change brings up code that starts.

Development only: every save restarts every worker.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fnmatch
import importlib.util
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from frostfork import cli

IN_MODIFY = 0x2
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_IGNORED = 0x8000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
WATCH_MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)

# Directories never watched: they hold no source of the app, and a virtual
# environment or a .git directory would cost thousands of watches.
SKIP_DIRS = ("__pycache__", "node_modules", "site-packages", "build", "dist")
SETTLE_S = 0.05  # editors write a file in several steps: gather them into one change


class Watcher:
    """Directories watched recursively with inotify; changed() tells whether
    a file matching the patterns was written, moved or removed."""

    def __init__(self, dirs: list[str], include: list[str], exclude: list[str]):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise cli.CLIError(f"--reload: inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.include = include
        self.exclude = exclude
        self.dirs: dict[int, str] = {}
        for d in dirs:
            self.add_tree(d)

    def skipped(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, pat) for pat in self.exclude)

    def add_tree(self, top: str) -> None:
        for root, subdirs, _ in os.walk(top):
            subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in SKIP_DIRS
                          and not self.skipped(d)
                          and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))]
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(root), WATCH_MASK)
            if wd < 0:
                err = ctypes.get_errno()
                if root == top:
                    raise cli.CLIError(f"--reload: cannot watch {root}: {os.strerror(err)}"
                                       + (" (raise fs.inotify.max_user_watches)"
                                          if err == 28 else ""))
                continue
            self.dirs[wd] = root

    def changed(self) -> list[str]:
        """The matching paths named by the events waiting now (may be [])."""
        paths: list[str] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return paths
            off = 0
            while off + EVENT.size <= len(data):
                wd, mask, _, length = EVENT.unpack_from(data, off)
                name = data[off + EVENT.size:off + EVENT.size + length].rstrip(b"\0").decode(
                    errors="surrogateescape")
                off += EVENT.size + length
                root = self.dirs.get(wd)
                if mask & IN_IGNORED:
                    self.dirs.pop(wd, None)
                if root is None or not name:
                    continue
                path = os.path.join(root, name)
                if mask & IN_ISDIR:
                    if mask & (IN_CREATE | IN_MOVED_TO) and not name.startswith(".") \
                            and name not in SKIP_DIRS and not self.skipped(name):
                        self.add_tree(path)
                    continue
                if mask & IN_CREATE:  # its content arrives with IN_CLOSE_WRITE
                    continue
                if any(fnmatch.fnmatch(name, p) for p in self.include) and \
                        not self.skipped(name):
                    paths.append(path)

    def close(self) -> None:
        os.close(self.fd)


def default_dirs(target: str) -> list[str]:
    """Where the app's source is: the directory on sys.path its top-level
    module or package is found in (usually the current one), found without
    importing it. An installed package is watched alone, not the whole
    site-packages it is in (an installed single module: the current directory)."""
    top = target.partition(":")[0].split(".")[0]
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
        return [os.getcwd()]
    own = os.path.dirname(os.path.abspath(spec.origin))  # the package's, or the module's
    if any(part in ("site-packages", "dist-packages") for part in Path(own).parts):
        return [own] if spec.submodule_search_locations else [os.getcwd()]
    return [os.path.dirname(own) if spec.submodule_search_locations else own]


def die_with_parent() -> None:
    """In a generation: leave (drain) when the reloader that started it is gone."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if str(os.getppid()) != os.environ.get(cli.UPGRADE_FROM):
        raise cli.CLIError("--reload: the reloader that started this server is gone")


class Generation:
    """One master started by the reloader, and its ready pipe."""

    def __init__(self, n: int, argv: list[str], start_dir: str, fds: list[int]):
        self.n = n
        r, w = os.pipe()
        env = dict(os.environ)
        for key in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET",
                    cli.UPGRADE_METRICS_FD):
            env.pop(key, None)
        env.update({cli.UPGRADE_LISTEN_FD: str(fds[0]), cli.UPGRADE_PIPE: str(w),
                    cli.UPGRADE_FROM: str(os.getpid()), cli.RELOAD_GENERATION: "1",
                    "FROSTFORK_TRACEBACK": "1"})  # the import error, whole, once
        if len(fds) > 1:
            env[cli.UPGRADE_METRICS_FD] = str(fds[1])
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "frostfork", *argv],
                                         cwd=start_dir, env=env, pass_fds=(*fds, w))
        finally:
            os.close(w)
        os.set_blocking(r, False)
        self.rfd = r
        self.said = b""

    def poll_ready(self) -> bool | None:
        """True once it said ready, False once it cannot (pipe closed
        without), None while starting."""
        while True:
            try:
                chunk = os.read(self.rfd, 4096)
            except BlockingIOError:
                return None
            if not chunk:
                break
            self.said += chunk
            if self.said.startswith(b"ready\n"):
                break
        os.close(self.rfd)
        self.rfd = -1
        return self.said.startswith(b"ready\n")


def log(message: str) -> None:
    """One line in one write, so it never interleaves with the masters' lines."""
    sys.stderr.flush()
    os.write(2, f"[frostfork] {message}\n".encode(errors="replace"))


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """The reloader's life: bind, watch, run generations until TERM/INT."""
    start_dir = os.getcwd()
    if args.chdir:
        os.chdir(args.chdir)
    if args.umask is not None:
        os.umask(args.umask)
    sock = cli._bind(args.bind)
    fds = [sock.fileno()]
    metrics = cli._bind(args.metrics_bind) if args.metrics_bind else None
    if metrics:
        fds.append(metrics.fileno())
    cli.drop_privileges(args.user, args.group)
    dirs = [os.path.abspath(d) for d in args.reload_dir] or default_dirs(args.target)
    include = args.reload_include or ["*.py"]
    watcher = Watcher(dirs, include, args.reload_exclude)
    if sock.family == socket.AF_UNIX:
        where = f"unix:{sock.getsockname()}"
    else:
        host, port = sock.getsockname()[:2]
        where = f"http://{host}:{port}"
    pid_path = os.path.abspath(args.pid) if args.pid else None
    if pid_path:
        tmp = f"{pid_path}.{os.getpid()}.tmp"
        Path(tmp).write_text(f"{os.getpid()}\n")
        os.replace(tmp, pid_path)
    log(f"reloader {os.getpid()} (development mode) watching {', '.join(dirs)} for "
        f"{' '.join(include)}; serving {args.target} on {where}")

    stop: list[int] = []
    poke: list[int] = []
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, lambda s, _f: stop.append(s))
    for sig in (signal.SIGHUP, signal.SIGUSR2):  # reload now, without a change
        signal.signal(sig, lambda s, _f: poke.append(s))

    current: Generation | None = None
    starting: Generation | None = None
    retiring: list[Generation] = []
    count = 0
    again = False

    def start() -> Generation:
        nonlocal count
        count += 1
        return Generation(count, argv, start_dir, fds)

    starting = start()
    try:
        while not stop:
            rlist = [watcher.fd, wake_r] + ([starting.rfd] if starting else [])
            try:
                ready, _, _ = select.select(rlist, [], [], 0.5)
            except InterruptedError:
                ready = []
            if wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 512)
            if watcher.fd in ready:
                time.sleep(SETTLE_S)
                paths = watcher.changed()
                if paths:
                    log(f"reload: {os.path.relpath(paths[0], start_dir)}"
                        + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
                        + " changed")
                    again = True
            if poke:
                poke.clear()
                again = True
            if starting is not None:
                state = starting.poll_ready() if starting.rfd >= 0 else False
                if state is True:
                    if current is not None:
                        current.proc.send_signal(signal.SIGTERM)  # the drain
                        retiring.append(current)
                    log(f"reload: generation {starting.n} (master {starting.proc.pid}) serves"
                        + (f"; generation {current.n} drains" if current else ""))
                    current, starting = starting, None
                elif state is False:
                    code = starting.proc.wait()
                    log(f"reload: generation {starting.n} did not start (exit code {code}); "
                        + (f"generation {current.n} keeps serving the old code"
                           if current else "nothing serves yet")
                        + "; waiting for a change")
                    starting = None
            if current is not None and current.proc.poll() is not None:
                log(f"reload: generation {current.n} exited ({current.proc.returncode}); "
                    "starting another")
                current, again = None, True
            retiring = [g for g in retiring if g.proc.poll() is None]
            if again and starting is None:
                again = False
                starting = start()
    finally:
        sig = signal.SIGTERM if not stop or stop[0] == signal.SIGTERM else signal.SIGQUIT
        live = [g for g in (current, starting, *retiring) if g is not None]
        for g in live:
            with contextlib.suppress(ProcessLookupError):
                g.proc.send_signal(sig)
        deadline = time.monotonic() + args.graceful_timeout + 5
        for g in live:
            try:
                g.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                g.proc.kill()
                g.proc.wait()
            if g.rfd >= 0:
                os.close(g.rfd)
        watcher.close()
        signal.set_wakeup_fd(-1)
        os.close(wake_r)
        os.close(wake_w)
        if sock.family == socket.AF_UNIX and args.bind.startswith("unix:"):
            with contextlib.suppress(OSError):
                os.unlink(sock.getsockname())
        if pid_path:
            with contextlib.suppress(OSError, ValueError):
                if int(Path(pid_path).read_text()) == os.getpid():
                    os.unlink(pid_path)
    log(f"reloader {os.getpid()}: stopped")
    return 0
