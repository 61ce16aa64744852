"""WebSocket ASGI apps for tests/ws and bench/run-ws: `echo` written from the ASGI 3 spec
(no framework), and the same routes in Starlette and FastAPI for the differential tests."""

import json
from urllib.parse import parse_qs


async def echo(scope, receive, send):
    """/echo (any other path too): accept, choosing "chat" when offered, then each message
    back as it came. /deny: refused with a 403 body through websocket.http.response when the
    server offers it, else closed before accept. /close: accept, then close with ?code&reason.
    Plain HTTP requests get 426."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 426,
                    "headers": [(b"content-type", b"text/plain"), (b"upgrade", b"websocket")]})
        await send({"type": "http.response.body", "body": b"a WebSocket endpoint\n"})
        return
    assert scope["type"] == "websocket"
    msg = await receive()
    assert msg["type"] == "websocket.connect", msg
    path = scope["path"]
    if path == "/deny":
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain"), (b"x-denied", b"yes")]})
            await send({"type": "websocket.http.response.body", "body": b"denied: ",
                        "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"no token"})
        else:
            await send({"type": "websocket.close", "code": 1008})
        return
    if path == "/scope":
        await send({"type": "websocket.accept"})
        info = {k: scope.get(k) for k in ("path", "raw_path", "query_string", "scheme",
                                           "http_version", "subprotocols", "root_path")}
        info["raw_path"] = (info["raw_path"] or b"").decode()
        info["query_string"] = info["query_string"].decode()
        info["headers"] = [[k.decode(), v.decode()] for k, v in scope["headers"]]
        info["asgi"] = scope["asgi"]
        info["client_host"] = scope["client"][0] if scope.get("client") else None
        info["extensions"] = sorted(scope.get("extensions", {}) or {})
        await send({"type": "websocket.send", "text": json.dumps(info)})
        await send({"type": "websocket.close", "code": 1000})
        return
    accept = {"type": "websocket.accept"}
    if "chat" in scope.get("subprotocols", []):
        accept["subprotocol"] = "chat"
    await send(accept)
    if path == "/close":
        q = parse_qs(scope["query_string"].decode())
        await send({"type": "websocket.close", "code": int(q.get("code", ["1000"])[0]),
                    "reason": q.get("reason", [""])[0]})
        return
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": msg["text"]})
        else:
            await send({"type": "websocket.send", "bytes": msg["bytes"]})


# ---- Starlette --------------------------------------------------------------------------

from starlette.applications import Starlette  # noqa: E402
from starlette.routing import WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket, WebSocketDisconnect  # noqa: E402


async def s_echo(ws: WebSocket):
    await ws.accept()
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") is not None:
                await ws.send_text(msg["text"])
            else:
                await ws.send_bytes(msg["bytes"])
    except WebSocketDisconnect:
        return


async def s_room(ws: WebSocket):
    sub = "chat" if "chat" in ws.scope.get("subprotocols", []) else None
    await ws.accept(subprotocol=sub)
    await ws.send_json({"room": ws.path_params["room"], "q": ws.query_params.get("q"),
                        "user": ws.headers.get("x-user")})
    data = await ws.receive_json()
    await ws.send_json({"got": data})
    await ws.close(code=4000, reason="room closed")


async def s_deny(ws: WebSocket):
    await ws.close(code=1008)


async def s_fail(ws: WebSocket):
    await ws.accept()
    await ws.receive_text()
    raise RuntimeError("starlette handler failed")


starlette_app = Starlette(routes=[WebSocketRoute("/echo", s_echo),
                                  WebSocketRoute("/room/{room}", s_room),
                                  WebSocketRoute("/deny", s_deny),
                                  WebSocketRoute("/fail", s_fail)])


# ---- FastAPI ----------------------------------------------------------------------------

from fastapi import FastAPI, WebSocket as FWebSocket, WebSocketDisconnect as FDisconnect  # noqa: E402
from fastapi import Header as FHeader, Query as FQuery  # noqa: E402

fastapi_app = FastAPI()


@fastapi_app.websocket("/echo")
async def f_echo(ws: FWebSocket):
    await ws.accept()
    try:
        while True:
            text = await ws.receive_text()
            await ws.send_text(text)
    except FDisconnect:
        return


@fastapi_app.websocket("/room/{room}")
async def f_room(ws: FWebSocket, room: str, q: str = FQuery("none"),
                 x_user: str | None = FHeader(None)):
    await ws.accept(subprotocol="chat" if "chat" in ws.scope.get("subprotocols", []) else None)
    await ws.send_json({"room": room, "q": q, "user": x_user})
    data = await ws.receive_json()
    await ws.send_json({"got": data})
    await ws.close(code=4000, reason="room closed")


@fastapi_app.websocket("/typed/{n}")
async def f_typed(ws: FWebSocket, n: int):
    """A path parameter that fails validation closes the socket before accept (1008)."""
    await ws.accept()
    await ws.send_json({"n": n})
    await ws.close()


@fastapi_app.websocket("/fail")
async def f_fail(ws: FWebSocket):
    await ws.accept()
    await ws.receive_text()
    raise RuntimeError("fastapi handler failed")
