"""HTTPError: stop a request from anywhere with a status and a detail.

    raise frostfork.HTTPError(404, "no such user")
    raise frostfork.HTTPError(401, "bad token", headers={"WWW-Authenticate": "Bearer"})

Raised from a handler or from a dependency at any depth, it becomes the
response {"detail": detail} with that status (and headers), written in C.
`@app.exception_handler(HTTPError)` replaces that rendering, as it can for any
exception type (looked up along the exception's MRO).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

__all__ = ["HTTPError"]


class HTTPError(Exception):
    """An error response: status, a JSON-encodable detail (default: the
    status's reason phrase) and optional extra headers."""

    def __init__(self, status: int, detail: Any = None,
                 headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"status must be a 3-digit int, not {status!r}")
        if detail is None:
            try:
                detail = HTTPStatus(status).phrase
            except ValueError:
                detail = ""
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.headers = headers

    @property
    def status_code(self) -> int:
        """FastAPI's name for status."""
        return self.status

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"

    def __repr__(self) -> str:
        return f"HTTPError({self.status!r}, {self.detail!r})"
