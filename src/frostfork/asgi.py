"""ASGI 3 hosting: telling an ASGI app from the rest, and its lifespan in each worker.

The http scope, receive and send are C (_core/dispatch/asgi.c). What is here runs once:
in the master (is_asgi_app) or at a worker's start and stop (worker_startup and
worker_shutdown, called by the C worker on its event loop).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any


class StartupFailed(Exception):
    """The app answered lifespan.startup with lifespan.startup.failed."""


def is_asgi_app(obj: Any) -> bool:
    """An ASGI 3 callable: an `async def` taking (scope, receive, send), or an object whose
    __call__ is one. (WSGI apps and frostfork Apps are not.)"""
    fn = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else getattr(
        type(obj), "__call__", None)
    if fn is None or not inspect.iscoroutinefunction(fn):
        return False
    try:
        params = [p for p in inspect.signature(obj).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) == 3


class Lifespan:
    """One worker's lifespan conversation with the app, a Task on the worker's loop."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.state: dict[str, Any] = {}
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.started = loop.create_future()
        self.stopped = loop.create_future()
        self.supported = True

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "lifespan.startup.complete":
            _settle(self.started, None)
        elif kind == "lifespan.startup.failed":
            _settle(self.started, StartupFailed(message.get("message", "") or "(no message)"))
        elif kind == "lifespan.shutdown.complete":
            _settle(self.stopped, None)
        elif kind == "lifespan.shutdown.failed":
            _settle(self.stopped, RuntimeError(message.get("message", "") or "(no message)"))
        else:
            raise RuntimeError(f"ASGI lifespan: unexpected message type {kind!r}")

    async def run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.4"},
                 "state": self.state}
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as e:  # an app without lifespan support raises on the scope
            if not self.started.done():
                self.supported = False
                _settle(self.started, None)
            elif not self.stopped.done():
                _settle(self.stopped, e if isinstance(e, Exception) else None)
            if not isinstance(e, Exception):
                raise
        finally:
            _settle(self.stopped, None)


def _settle(fut: asyncio.Future[Any], value: Any) -> None:
    if fut.done():
        return
    if isinstance(value, BaseException):
        fut.set_exception(value)
    else:
        fut.set_result(value)


def worker_startup(app: Any, loop: asyncio.AbstractEventLoop) -> Lifespan:
    """lifespan.startup, run to its answer before the worker accepts. Raises
    StartupFailed with the app's message."""
    life = Lifespan(app, loop)
    life.task = loop.create_task(life.run())  # type: ignore[attr-defined]
    life.inbox.put_nowait({"type": "lifespan.startup"})
    loop.run_until_complete(life.started)
    return life


def worker_shutdown(life: Lifespan, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
    """lifespan.shutdown, once the worker has drained, waited for at most `timeout` s."""
    if not life.supported or life.stopped.done():
        return
    life.inbox.put_nowait({"type": "lifespan.shutdown"})
    try:
        loop.run_until_complete(asyncio.wait_for(asyncio.shield(life.stopped), max(timeout, 0.1)))
    except Exception as e:
        print(f"[frostfork] ASGI lifespan shutdown: {type(e).__name__}: {e}", flush=True)
