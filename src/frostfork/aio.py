"""The worker's event loop: which one, and whether a worker needs one.

Used once, by the CLI in the master; the loop itself is made in each worker
after fork by the C core (server/aio.c), which drives it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
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
            return uvloop.new_event_loop  # type: ignore[no-any-return]
    return asyncio.new_event_loop


def needs_loop(handlers: list[Callable[..., Any]]) -> bool:
    """Whether any handler is an `async def` (then each worker runs an event loop)."""
    return any(inspect.iscoroutinefunction(fn) for fn in handlers)
