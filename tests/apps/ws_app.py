"""Native WebSocket routes for tests/ws and bench/run-ws: an echo, bindings sent back as
JSON, subprotocol choice, closes with a given code, failures before and after accept, a
route that never accepts, and a sender that fills a slow reader (backpressure)."""

import asyncio
import gc
import os
from typing import Annotated

import frostfork as ff
from frostfork import Header, Query

app = ff.App()
# per worker, read back over HTTP: how far /flood got, how the last disconnect looked
progress: dict[str, int] = {"sent": 0, "done": 0}
last_disconnect: dict[str, object] = {}


@app.get("/")
def index() -> dict:
    return {"message": "Hello, World!"}


@app.websocket("/echo")
async def echo(ws: ff.WebSocket):
    """Each message back as it came (text as text, bytes as bytes) until the client closes;
    "chat" is chosen when the client offers it (as the ASGI echo in ws_asgi does)."""
    await ws.accept(subprotocol="chat" if "chat" in ws.subprotocols else None)
    async for msg in ws:
        if isinstance(msg, str):
            await ws.send_text(msg)
        else:
            await ws.send_bytes(msg)


@app.websocket("/bind/{room}")
async def bind(ws: ff.WebSocket, room: str, token: Annotated[str, Query()] = "",
               x_user: Annotated[str, Header()] = "anon"):
    """The path, query and header bindings, and what ws.headers / ws.subprotocols say."""
    await ws.accept()
    await ws.send_json({"room": room, "token": token, "user": x_user,
                        "ua": ws.headers.get("USER-AGENT"), "subprotocols": ws.subprotocols})
    await ws.close(1000, "done")


@app.websocket("/sub")
async def sub(ws: ff.WebSocket):
    """Picks "chat" or else "superchat" when the client offers one; adds a header."""
    chosen = next((p for p in ("chat", "superchat") if p in ws.subprotocols), None)
    await ws.accept(subprotocol=chosen, headers=[("x-a", "b")])
    await ws.send_text(chosen or "none")
    async for msg in ws:
        await ws.send_text(msg if isinstance(msg, str) else msg.decode())


@app.websocket("/close/{code}")
async def close_with(ws: ff.WebSocket, code: int, reason: Annotated[str, Query()] = ""):
    await ws.accept()
    await ws.close(code, reason)


@app.websocket("/raise-before")
async def raise_before(ws: ff.WebSocket):
    raise RuntimeError("failed before accept")


@app.websocket("/raise-after")
async def raise_after(ws: ff.WebSocket):
    await ws.accept()
    await ws.receive()
    raise RuntimeError("failed after accept")


@app.websocket("/never")
async def never(ws: ff.WebSocket):
    return None


@app.websocket("/return")
async def returns(ws: ff.WebSocket):
    """Returns after one message without closing: the server closes with 1000."""
    await ws.accept()
    await ws.receive()


@app.websocket("/json")
async def json_echo(ws: ff.WebSocket):
    await ws.accept()
    while True:
        try:
            obj = await ws.receive_json()
        except ff.WebSocketDisconnect:
            return
        await ws.send_json({"got": obj})


@app.websocket("/kinds")
async def kinds(ws: ff.WebSocket):
    """receive_text then receive_bytes then receive: the types each gave."""
    await ws.accept()
    a = await ws.receive_text()
    b = await ws.receive_bytes()
    c = await ws.receive()
    await ws.send_json([type(a).__name__, type(b).__name__, type(c).__name__, a, len(b)])


@app.websocket("/until-disconnect")
async def until_disconnect(ws: ff.WebSocket):
    """Reads until the client closes; records the WebSocketDisconnect's code and
    reason, and whether a second receive raises it again."""
    await ws.accept()
    while True:
        try:
            await ws.receive()
        except ff.WebSocketDisconnect as e:
            last_disconnect.clear()
            last_disconnect.update(code=e.code, reason=e.reason)
            try:
                await ws.receive()
                last_disconnect["again"] = False
            except ff.WebSocketDisconnect:
                last_disconnect["again"] = True
            return


@app.websocket("/iterate")
async def iterate(ws: ff.WebSocket):
    """async for ends at the client's close; then the count is recorded."""
    await ws.accept()
    n = 0
    async for _ in ws:
        n += 1
    last_disconnect.clear()
    last_disconnect.update(iterated=n)


@app.get("/last-disconnect")
def get_last_disconnect() -> dict:
    return dict(last_disconnect)


@app.websocket("/flood")
async def flood(ws: ff.WebSocket, n: Annotated[int, Query()] = 10,
                size: Annotated[int, Query()] = 1 << 20):
    """Sends n binary messages of `size` bytes as fast as send lets it: a client
    that does not read must make send wait."""
    await ws.accept()
    chunk = os.urandom(64) * (size // 64)
    progress.update(sent=0, done=0)
    for _ in range(n):
        await ws.send_bytes(chunk)
        progress["sent"] += 1
    progress["done"] = 1
    await ws.close(1000)


@app.get("/gc")
def collect() -> dict:
    """A full cyclic collection in the worker: open sessions must survive it."""
    return {"collected": gc.collect()}


@app.get("/progress")
def get_progress() -> dict:
    return dict(progress)


@app.websocket("/hold")
async def hold(ws: ff.WebSocket):
    """Accepts, then waits for the client's close (or the server's drain)."""
    await ws.accept()
    print("[ws] hold accepted", flush=True)
    try:
        async for _ in ws:
            pass
    finally:
        print("[ws] hold ended", flush=True)


@app.websocket("/sleepy")
async def sleepy(ws: ff.WebSocket):
    """Echoes after a short sleep: the handler suspends between messages."""
    await ws.accept()
    async for msg in ws:
        await asyncio.sleep(0.01)
        await ws.send_text(msg if isinstance(msg, str) else msg.decode(errors="replace"))
