"""Responses whose bodies are not built in memory: StreamingResponse (an
iterable sent as it is produced) and FileResponse (a file sent with
sendfile). A handler returns one; the C dispatcher recognises the class and
sends the body from C, so only the handler's own code is Python.

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

import os
from collections.abc import Iterable, Mapping
from typing import Union

from frostfork import _core

Headers = Union[Mapping[str, str], Iterable[tuple[str, str]], None]


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
                 headers: Headers = None, media_type: str | None = None,
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
                 media_type: str | None = None, status: int = 200, headers: Headers = None,
                 content_disposition_type: str = "attachment") -> None:
        self.path = path
        self.filename = filename
        self.media_type = media_type
        self.status = status
        self.headers = headers
        self.content_disposition_type = content_disposition_type


_core._register_responses(StreamingResponse, FileResponse)
