"""WebSockets for native handlers: frostfork.WebSocket and WebSocketDisconnect.

    @app.websocket("/ws/{room}")
    async def chat(ws: frostfork.WebSocket, room: str):
        await ws.accept()
        async for message in ws:          # str (text) or bytes (binary), until the close
            await ws.send_text(f"{room}: {message}")

The protocol (RFC 6455 framing, permessage-deflate, UTF-8 checks, close
codes, pings) and receive/send/accept/close are C (`_core.WebSocket`,
dispatch/ws.c). This subclass adds the typed conveniences, which only call
those.
"""

from __future__ import annotations

from typing import Any

from frostfork import _core
from frostfork import json as _json

__all__ = ["WebSocket", "WebSocketDisconnect"]


class WebSocketDisconnect(Exception):
    """The client closed the WebSocket (or the connection went away: 1006).
    Raised by receive*() after the close, and by send*() once closed."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"WebSocket closed with {self.code}" + (f": {self.reason}" if self.reason else "")


class WebSocket(_core.WebSocket):
    """One WebSocket connection, as its handler sees it.

    accept(subprotocol=None, headers=None), receive(), send(data), send_text,
    send_bytes, send_json, close(code=1000, reason="") and `async for` over
    messages are C; `subprotocols` (offered by the client), `headers` (the
    handshake's, lower-case names), `close_code` / `close_reason` and `state`
    are attributes. Sends wait while the client is slow to read."""

    __slots__ = ()

    async def receive_text(self) -> str:
        message = await self.receive()
        if not isinstance(message, str):
            raise TypeError("receive_text(): the client sent a binary message")
        return message

    async def receive_bytes(self) -> bytes:
        message = await self.receive()
        if not isinstance(message, bytes):
            raise TypeError("receive_bytes(): the client sent a text message")
        return message

    async def receive_json(self, type: Any = Any) -> Any:
        """The next message (text or binary) decoded as strict JSON into `type`
        (ValidationError / JSONDecodeError as frostfork.json.decode raises)."""
        return _json.decode(await self.receive(), type=type)


def configure(max_message: int = 16 << 20, deflate: bool = True, ping: float = 0.0) -> None:
    """What every session of this process is made of (the CLI calls it with
    --ws-max-message, --no-ws-deflate and --ws-ping before fork)."""
    _core.ws_config(WebSocket, WebSocketDisconnect, max_message, deflate, ping)


configure()
