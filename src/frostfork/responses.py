"""Response and its convenience subclasses.

    Response(201, {"id": 1}, {"Location": "/users/1"})
    JSONResponse({"id": 1}, status_code=201)
    HTMLResponse("<p>hi</p>"); PlainTextResponse("hi"); RedirectResponse("/login")

    r = Response(200, {"ok": True})
    r.headers["Cache-Control"] = "no-store"       # mutable, case-insensitive
    r.set_cookie("session", token, httponly=True, samesite="lax")
    r.delete_cookie("old")

The body is written by the C core: bytes as application/octet-stream, str as
text/plain, anything else JSON-encoded (a Content-Type header overrides).

Bodies that are not built in memory: StreamingResponse (an iterable sent as it
is produced) and FileResponse (a file sent with sendfile). The C dispatcher
recognises the class and sends the body from C.

    @app.get("/export.csv")
    def export() -> frostfork.StreamingResponse:
        def rows():
            yield "id,name\\n"
            for r in db.rows():
                yield f"{r.id},{r.name}\\n"
        return frostfork.StreamingResponse(rows(), media_type="text/csv")

    @app.get("/report")
    def report() -> frostfork.FileResponse:
        return frostfork.FileResponse("/srv/report.pdf", filename="report.pdf")
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Mapping
from email.utils import format_datetime
from typing import Any, Literal, Self

from frostfork import _core
from frostfork.datastructures import MutableHeaders

__all__ = ["FileResponse", "HTMLResponse", "JSONResponse", "PlainTextResponse", "RedirectResponse",
           "Response", "StreamingResponse"]

HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None


class Response(_core.Response):
    """Response(status=200, body=None, headers=None): a status, a body and headers."""

    __slots__ = ()

    @property
    def headers(self) -> MutableHeaders:
        """The headers as a MutableHeaders (made from what was passed, on first use)."""
        h = self._headers
        if not isinstance(h, MutableHeaders):
            h = MutableHeaders(() if h is None else h)
            self._headers = h
        return h

    @headers.setter
    def headers(self, value: HeadersArg) -> None:
        self._headers = MutableHeaders(() if value is None else value)

    @property
    def status_code(self) -> int:
        """FastAPI's name for status."""
        return self.status

    def set_cookie(self, key: str, value: str = "", *, max_age: int | None = None,
                   expires: datetime.datetime | int | None = None, path: str | None = "/",
                   domain: str | None = None, secure: bool = False, httponly: bool = False,
                   samesite: Literal["lax", "strict", "none"] | None = "lax") -> None:
        """Adds a Set-Cookie header (RFC 6265). expires: a datetime, or seconds from now."""
        if not key or any(c in key for c in '()<>@,;:\\"/[]?={} \t'):
            raise ValueError(f"invalid cookie name {key!r}")
        if any(c in value for c in '";\\,\r\n') or any(ord(c) < 0x21 or ord(c) > 0x7e
                                                       for c in value):
            raise ValueError(f"cookie {key!r}: the value must be printable ASCII without "
                             f"spaces, quotes, commas, semicolons or backslashes")
        parts = [f"{key}={value}"]
        if max_age is not None:
            parts.append(f"Max-Age={int(max_age)}")
        if expires is not None:
            if isinstance(expires, datetime.datetime):
                when = expires.astimezone(datetime.timezone.utc)
            else:
                when = (datetime.datetime.now(datetime.timezone.utc)
                        + datetime.timedelta(seconds=int(expires)))
            parts.append(f"Expires={format_datetime(when, usegmt=True)}")
        for name, attr in (("Path", path), ("Domain", domain)):
            if attr is not None:
                if any(c in attr for c in ";\r\n"):
                    raise ValueError(f"cookie {key!r}: invalid {name}")
                parts.append(f"{name}={attr}")
        if secure:
            parts.append("Secure")
        if httponly:
            parts.append("HttpOnly")
        if samesite is not None:
            if samesite.lower() not in ("lax", "strict", "none"):
                raise ValueError("samesite must be 'lax', 'strict' or 'none'")
            parts.append(f"SameSite={samesite.capitalize()}")
        self.headers.append("set-cookie", "; ".join(parts))

    def delete_cookie(self, key: str, *, path: str | None = "/", domain: str | None = None,
                      secure: bool = False, httponly: bool = False,
                      samesite: Literal["lax", "strict", "none"] | None = "lax") -> None:
        """Tells the client to drop the cookie (an expired, empty one)."""
        self.set_cookie(key, "", max_age=0,
                        expires=datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc),
                        path=path, domain=domain, secure=secure, httponly=httponly,
                        samesite=samesite)


def _with_type(headers: HeadersArg, ctype: str) -> MutableHeaders:
    h = MutableHeaders(() if headers is None else headers)
    if "content-type" not in h:
        h["content-type"] = ctype
    return h


class _MediaResponse(Response):
    """A Response whose Content-Type is the class's media_type unless headers set one."""

    __slots__ = ()
    media_type = ""

    def __new__(cls, content: Any = None, status_code: int = 200,
                headers: HeadersArg = None) -> Self:
        return super().__new__(cls, status_code, content, _with_type(headers, cls.media_type))


class JSONResponse(_MediaResponse):
    """JSONResponse(content, status_code=200, headers=None): content JSON-encoded in C."""

    __slots__ = ()
    media_type = "application/json"


class HTMLResponse(_MediaResponse):
    """HTMLResponse(content, status_code=200, headers=None): text/html; charset=utf-8."""

    __slots__ = ()
    media_type = "text/html; charset=utf-8"


class PlainTextResponse(_MediaResponse):
    """PlainTextResponse(content, status_code=200, headers=None): text/plain; charset=utf-8."""

    __slots__ = ()
    media_type = "text/plain; charset=utf-8"


class RedirectResponse(Response):
    """RedirectResponse(url, status_code=307, headers=None): Location set, no body."""

    __slots__ = ()

    def __new__(cls, url: str, status_code: int = 307,
                headers: HeadersArg = None) -> RedirectResponse:
        if any(c in url for c in "\r\n"):
            raise ValueError("a redirect URL may not contain CR or LF")
        h = MutableHeaders(() if headers is None else headers)
        h["location"] = url
        return super().__new__(cls, status_code, None, h)


class StreamingResponse:
    """An iterable of bytes or str (UTF-8) items, each written to the client as
    it is produced. Without content_length the body is chunked (HTTP/1.1) or
    runs to the close (HTTP/1.0); with it, exactly that many bytes are sent.
    A slow client pauses the iteration; a client that goes away ends it with
    the iterable's close() (a generator's finally runs). For server-sent
    events use media_type="text/event-stream": each yielded event is flushed
    at once."""

    __slots__ = ("content", "status", "headers", "media_type", "content_length")

    def __init__(self, content: Iterable[bytes | str], status: int = 200,
                 headers: HeadersArg = None, media_type: str | None = None,
                 content_length: int | None = None) -> None:
        self.content = content
        self.status = status
        self.headers = headers
        self.media_type = media_type
        self.content_length = content_length


class FileResponse:
    """A file sent with sendfile(2), with ETag and Last-Modified (304 on
    If-None-Match / If-Modified-Since), Range (206 for one or several ranges,
    416 for none satisfiable) and, when filename is given, a
    Content-Disposition (attachment unless content_disposition_type says
    "inline"). media_type defaults to one guessed from the file name. A path
    that is not a readable regular file is a 500 with the error logged."""

    __slots__ = ("path", "filename", "media_type", "status", "headers",
                 "content_disposition_type")

    def __init__(self, path: str | os.PathLike[str], filename: str | None = None,
                 media_type: str | None = None, status: int = 200, headers: HeadersArg = None,
                 content_disposition_type: str = "attachment") -> None:
        self.path = path
        self.filename = filename
        self.media_type = media_type
        self.status = status
        self.headers = headers
        self.content_disposition_type = content_disposition_type


_core._register_responses(StreamingResponse, FileResponse, Response, JSONResponse)
