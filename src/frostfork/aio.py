"""The worker's event loop: which one, and whether a worker needs one.

Used once, by the CLI in the master; the loop itself is made in each worker
after fork by the C core (server/aio.c), which drives it.
"""

from __future__ import annotations

import asyncio
import inspect

from frostfork import _core
from collections.abc import Callable, Iterator
from typing import Any

LOOPS = ("auto", "asyncio", "uvloop")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The callable that makes a worker's loop: uvloop's when asked for (or, for "auto",
    when it is installed), else asyncio's."""
    if name not in LOOPS:
        raise ValueError(f"--loop must be one of {', '.join(LOOPS)}, not {name!r}")
    if name in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise ValueError("--loop uvloop: uvloop is not installed "
                                 "(pip install uvloop)") from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def needs_loop(handlers: list[Callable[..., Any]]) -> bool:
    """Whether any handler is an `async def` (then each worker runs an event loop)."""
    return any(inspect.iscoroutinefunction(fn) for fn in handlers)


# ---- async dependency factories ----------------------------------------------------------
#
# The C binding plan calls every factory synchronously. An async factory's plan calls a
# shim that returns a Pending (nothing of the factory runs yet); whoever takes it as an
# argument — an async handler or another async factory — awaits it first. A Pending is
# made once per request (the plan's dependency cache), so everything in the request that
# asks for it gets the same value.


def is_async_factory(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


class Pending:
    """An async dependency's value, not made yet. `await pending.get()` makes it once."""

    __slots__ = ("fn", "kw", "names", "gen", "value", "state", "shared", "__weakref__")

    def __init__(self, fn: Callable[..., Any], kw: dict[str, Any], names: tuple[str, ...],
                 shared: bool) -> None:
        self.fn, self.kw, self.names, self.shared = fn, kw, names, shared
        self.gen: Any = None
        self.value: Any = None
        self.state = 0  # 0 not made, 1 being made (app scope: a Future in value), 2 made

    async def get(self) -> Any:
        if self.state == 2:
            return self.value
        if self.shared:  # app scope: made once per worker, maybe by requests at once
            if self.state == 0:
                self.state = 1
                self.value = asyncio.ensure_future(self._make())
            value = await asyncio.shield(self.value)
            self.value, self.state = value, 2
            return value
        value = await self._make()
        self.value, self.state = value, 2
        return value

    async def _make(self) -> Any:
        kw = self.kw
        for name in self.names:
            kw[name] = await kw[name].get()
        if inspect.isasyncgenfunction(self.fn):
            self.gen = self.fn(**kw)
            value = await self.gen.__anext__()
            # teardown once the response is written (a request finalizer: the bound
            # method keeps this Pending alive until then)
            _core.finalize(self, self._teardown)
            return value
        value = await self.fn(**kw)
        close = getattr(value, "close", None)
        if callable(close) and not self.shared:
            _core.finalize(self, close)
        return value

    def _teardown(self) -> None:
        """The rest of the async generator, run on the loop after the response."""
        gen, self.gen = self.gen, None
        if gen is not None:
            asyncio.get_running_loop().create_task(_finish(gen))


async def _finish(gen: Any) -> None:
    try:
        await gen.__anext__()
    except StopAsyncIteration:
        return
    await gen.aclose()
    raise RuntimeError(f"{gen.__qualname__} yielded more than once (a dependency yields once)")


def plan_callable(fn: Callable[..., Any], async_deps: tuple[str, ...], *, factory: bool,
                  app_scope: bool, label: str) -> Callable[..., Any]:
    """What the C plan calls for `fn`: fn itself, unless it is an async factory (a shim
    that returns a Pending) or takes async dependencies (a coroutine that awaits them
    first). Raises TypeError for what cannot work."""
    is_async = is_async_factory(fn)
    if async_deps and not is_async:
        raise TypeError(f"{label}: a plain function cannot take the async dependency "
                        f"{async_deps[0]!r}: make it `async def`")
    if not factory:
        if inspect.isasyncgenfunction(fn):
            raise TypeError(f"{label}: a handler cannot be an async generator")
        if not async_deps:
            return fn

        async def handler(**kw: Any) -> Any:
            for name in async_deps:
                kw[name] = await kw[name].get()
            return await fn(**kw)
        return handler
    if not is_async:
        return fn
    if app_scope and inspect.isasyncgenfunction(fn):
        raise TypeError(f"{label}: an app-scoped dependency cannot be an async generator "
                        f"(its teardown would run after the first request)")

    def make(**kw: Any) -> Pending:
        return Pending(fn, kw, async_deps, app_scope)
    return make


# ---- async iterables as response bodies where no loop runs ------------------------------

def blocking_iter(aiterable: Any) -> Iterator[Any]:
    """A StreamingResponse over an async iterable, sent by a worker that runs no event
    loop (an app without `async def` handlers) or by the in-process engine: each item is
    awaited on a private loop, one at a time, as a sync generator is drained. The
    iterable's aclose() runs when the body ends or the client leaves."""
    loop = asyncio.new_event_loop()
    it = aiterable.__aiter__()
    try:
        while True:
            try:
                item = loop.run_until_complete(it.__anext__())
            except StopAsyncIteration:
                return
            yield item
    finally:
        close = getattr(it, "aclose", None)
        try:
            if close is not None:
                loop.run_until_complete(close())
        finally:
            loop.close()
