from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any, BinaryIO, final

from typing_extensions import Self, disjoint_base

from frostfork.datastructures import URL, Headers, QueryParams

# The fixed limits compiled into the core (docs/configuration.md, "Limits").
LIMITS: Mapping[str, int]

@disjoint_base
class Response:
    """The C base of frostfork.Response (frostfork/responses.py), subclassable."""
    status: int
    body: Any
    headers: Any
    _headers: Any
    def __new__(
        cls,
        status: int = 200,
        body: Any = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> Self: ...

@final
class Request:
    method: str
    path: str
    query_string: str
    raw_headers: list[tuple[str, str]]
    @property
    def headers(self) -> Headers: ...
    @property
    def query(self) -> QueryParams: ...
    @property
    def cookies(self) -> dict[str, str]: ...
    @property
    def url(self) -> URL: ...
    @property
    def state(self) -> SimpleNamespace: ...
    @property
    def body(self) -> bytes:
        """The whole body as bytes. A spooled body (over --spool-threshold) is copied
        from its file on first use; prefer stream() for large bodies. ValueError once
        the request has ended if a spooled body was never read."""
    path_params: dict[str, str]
    client: tuple[str, int]
    def stream(self) -> BinaryIO:
        """A new binary reader at the start of the body: read(n), readline, readinto,
        iteration, seek. A spooled body is read from its spool file (io.BufferedReader),
        a small one from memory (io.BytesIO). A reader over a spooled body raises
        ValueError once its request has ended."""
    def defer(self, fn: Callable[..., Any], /, *args: Any) -> None: ...

@final
class UploadFile:
    """A file part of a multipart/form-data body. Its file is readable until the
    request ends; a spooled one (body over --spool-threshold) is read from the
    spool file, which is removed then."""
    filename: str | None
    content_type: str | None
    size: int
    headers: dict[str, str]
    file: BinaryIO
    def __new__(cls, file: BinaryIO, filename: str | None = None,
                content_type: str | None = None, size: int = 0,
                headers: dict[str, str] | None = None) -> UploadFile: ...
    def read(self, size: int | None = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def close(self) -> None: ...

@disjoint_base
class WebSocket:
    """The C base of frostfork.WebSocket (frostfork/websocket.py): one WebSocket
    session. Made by the server, not instantiable."""
    @property
    def subprotocols(self) -> list[str]: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def close_code(self) -> int | None: ...
    @property
    def close_reason(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    def accept(self, subprotocol: str | None = None,
               headers: Any = None) -> Awaitable[None]: ...
    def receive(self) -> Awaitable[str | bytes]: ...
    def send(self, data: str | bytes, /) -> Awaitable[None]: ...
    def send_text(self, data: str, /) -> Awaitable[None]: ...
    def send_bytes(self, data: bytes, /) -> Awaitable[None]: ...
    def send_json(self, data: Any, binary: bool = False) -> Awaitable[None]: ...
    def close(self, code: int = 1000, reason: str = "") -> Awaitable[None]: ...
    def __aiter__(self) -> WebSocket: ...
    def __anext__(self) -> Awaitable[str | bytes]: ...
    def _asgi_receive(self) -> Awaitable[dict[str, Any]]: ...
    def _asgi_send(self, message: dict[str, Any], /) -> Awaitable[None]: ...

@final
class FileWrapper:
    """wsgi.file_wrapper: a file sent with sendfile when it has a descriptor on a
    regular file, else read in blksize blocks."""
    def __new__(cls, filelike: Any, blksize: int = 8192) -> FileWrapper: ...
    def __iter__(self) -> FileWrapper: ...
    def __next__(self) -> bytes: ...
    def close(self) -> None: ...

def _register_responses(streaming: type, file: type, response: type, json: type, /) -> None: ...

@final
class StartResponse:
    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: Any = None,
        /,
    ) -> Callable[[bytes], None]: ...
    def write(self, data: bytes, /) -> None: ...

@final
class Finalizer:
    @property
    def alive(self) -> bool: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def detach(self) -> tuple[Any, Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None: ...
    def peek(self) -> tuple[Any, Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None: ...

@final
class FileSink:
    def __new__(cls, path: str | None = None, fd: int = -1) -> FileSink: ...
    def write(self, data: bytes, /) -> int: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def reopen(self) -> None: ...

@final
class SQLiteSink:
    def __new__(cls, path: str, table: str = ...) -> SQLiteSink: ...
    def write(self, data: bytes, /) -> int: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...

def serve(
    listen_fd: int,
    app: Any,
    *,
    wsgi: bool = False,
    workers: int = 1,
    timeout: float = 30,
    graceful_timeout: float = 30,
    keepalive: float = 5,
    header_timeout: float = 10,
    body_timeout: float = 30,
    max_requests: int = 0,
    max_requests_jitter: int = 0,
    max_connections: int = 1000,
    freeze: str = "collect",
    max_body: int = ...,
    max_header_bytes: int = 16384,
    max_headers: int = 100,
    max_request_line: int = 8190,
    server_name: str = "127.0.0.1",
    server_port: int = 0,
    metrics: bool = False,
    metrics_fd: int = -1,
    stats_path: str | None = None,
    stats_interval: float = 2,
    max_worker_uss: float = 0,
    spool_dir: str | None = None,
    spool_threshold: int = ...,
    access_log: Any = None,
    access_format: str = "json",
    audit: Any = None,
    mask: tuple[str, ...] = ...,
    runtime: dict[str, Any] | None = None,
    pid_path: str | None = None,
    upgrade_argv: tuple[str, ...] | None = None,
    upgrade_cwd: str | None = None,
    ready_fd: int = -1,
    middleware: dict[str, Any] | None = None,
) -> int | None: ...
def finalize(obj: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Finalizer: ...
def spool_dir() -> str: ...
def aio_config(loop_factory: Callable[[], Any] | None, max_concurrency: int = 0,
               inline: bool = True) -> None: ...
def asgi_config(app: Callable[..., Any] | None, root_path: str = ...) -> None: ...
def ws_config(websocket_class: type[WebSocket], disconnect: type[BaseException],
              max_message: int = ..., deflate: bool = True, ping: float = 0.0) -> None: ...
def check_sink(obj: Any, role: str = "sink", /) -> Any: ...
def audit(event: str, /, **fields: Any) -> None: ...
def json_encode(obj: Any, /, *, type: Any = ..., include_sensitive: bool = False) -> bytes: ...
def json_decode(buf: bytes | bytearray | memoryview | str, /, *, type: Any = ...) -> Any: ...
def schema_of(type: Any, /) -> Schema: ...
def _match(
    routes: list[tuple[str, str]], method: str, path: str
) -> tuple[int, tuple[str, ...]] | tuple[str, Any]: ...

# True in a build made with -Dfault_inject=true (allocations can be made to fail).
FAULT_INJECT: bool

class ValidationError(ValueError):
    """args[0]: list of {"type", "loc", "msg", "input"?} dicts."""

class JSONDecodeError(ValueError): ...

@final
class Schema:
    node: Any

@final
class Plan:
    def __new__(
        cls,
        callable: Callable[..., Any],
        args: list[tuple[Any, ...]],
        body_schema: Schema | None = None,
        app_scope: bool = False,
        label: str | None = None,
        generator: bool = False,
    ) -> Plan: ...

@final
class Engine:
    """One request from bytes to bytes in process (server/engine.c)."""
    def __init__(
        self,
        routes: list[tuple[Any, ...]] | None = None,
        wsgi_app: Callable[..., Any] | None = None,
        *,
        server_name: str = "testserver",
        server_port: int = 80,
        max_body: int = ...,
        max_headers: int = 100,
        max_header_bytes: int = 65536,
        max_request_line: int = 8192,
        runtime: dict[str, Any] | None = None,
        middleware: dict[str, Any] | None = None,
    ) -> None: ...
    def handle(
        self,
        request: bytes,
        *,
        client: tuple[str, int] | None = None,
        raise_errors: bool = False,
        raw: bool = False,
    ) -> Any: ...

def compile(node: Any, /) -> Schema: ...
def decode(buf: bytes | bytearray | memoryview | str, schema: Schema) -> Any: ...
def _dispatch(func: Callable[..., Any], schema: Schema, payload: dict[str, Any]) -> Any: ...
