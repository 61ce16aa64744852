"""frostfork: a pre-fork HTTP/1.1 application server whose per-request path is C.

    import frostfork
    app = frostfork.App()

    @app.get("/users/{id}")
    def user(id: int) -> dict:
        return {"id": id}

Serve it with ``frostfork serve module:app --workers 4``.
"""

from frostfork._core import JSONDecodeError, Request, UploadFile, ValidationError
from frostfork import json, life, openapi, sinks, sql
from frostfork._core import audit
from frostfork.app import App
from frostfork.routing import Route, RouteError, Router
from frostfork.errors import HTTPError
from frostfork import security
from frostfork.responses import (HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse,
                                 Response)
from frostfork.cors import CORS
from frostfork.constraints import (
    Description, Examples, Ge, Gt, Le, Len, Lt, MaxLen, MinLen, MultipleOf, Pattern, Sensitive,
    Title,
)
from frostfork.dispatch import dispatch
from frostfork.life import Finalizer, TempFile, finalize
from frostfork.model import Model, field
from frostfork.params import Body, Cookie, File, Form, Header, Query
from frostfork.responses import FileResponse, StreamingResponse
from frostfork.sinks import DataSink
from frostfork.websocket import WebSocket, WebSocketDisconnect

__all__ = [
    "App", "Body", "Cookie", "Description", "dispatch", "json", "Finalizer", "TempFile",
    "finalize", "sinks", "audit", "DataSink", "life", "openapi", "sql", "Examples", "Ge", "Gt", "Header", "JSONDecodeError",
    "Le", "Len", "Lt", "MaxLen", "MinLen", "Model", "MultipleOf", "Pattern", "Query", "Request",
    "Response", "Sensitive", "Title", "ValidationError", "field",
    "Route", "RouteError", "Router", "HTTPError", "security", "HTMLResponse", "JSONResponse",
    "PlainTextResponse", "RedirectResponse",
    "CORS",
    "File", "FileResponse", "Form", "StreamingResponse", "UploadFile",
    "WebSocket", "WebSocketDisconnect",
]
__version__ = "0.1.0"
