"""frostfork apps for bench/run-async: the same hello body from a sync handler without a
loop (bench.apps.native_app), a sync handler in a worker that runs a loop, an async handler,
and an async handler that awaits asyncio.sleep(0.1)."""
import asyncio

import frostfork

HELLO = {"message": "Hello, World!"}

sync_in_loop = frostfork.App()


@sync_in_loop.get("/")
def index_sync() -> dict:
    return HELLO


@sync_in_loop.get("/async")  # never requested: it only makes the worker run a loop
async def unused() -> dict:
    return {}


async_hello = frostfork.App()


@async_hello.get("/")
async def index_async() -> dict:
    return HELLO


sleeper = frostfork.App()


@sleeper.get("/")
async def index_sleep() -> dict:
    await asyncio.sleep(0.1)
    return HELLO
