from collections.abc import Callable, Iterable, Mapping
from typing import Any, final

@final
class Response:
    status: int
    body: Any
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None
    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None: ...

@final
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    path_params: dict[str, str]
    client: tuple[str, int]

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
) -> int: ...
def json_encode(obj: Any, *, include_sensitive: bool = False) -> bytes: ...
def _match(
    routes: list[tuple[str, str]], method: str, path: str
) -> tuple[int, tuple[str, ...]] | tuple[str, Any]: ...

class ValidationError(ValueError):
    """args[0]: list of {"type", "loc", "msg", "input"?} dicts."""

class JSONDecodeError(ValueError): ...

@final
class Schema:
    node: Any

@final
class Plan:
    def __init__(
        self,
        callable: Callable[..., Any],
        args: list[tuple[Any, ...]],
        body_schema: Schema | None = None,
        app_scope: bool = False,
        label: str | None = None,
    ) -> None: ...

def compile(node: Any) -> Schema: ...
def decode(buf: bytes | bytearray | memoryview | str, schema: Schema) -> Any: ...
def _dispatch(func: Callable[..., Any], schema: Schema, payload: dict[str, Any]) -> Any: ...
