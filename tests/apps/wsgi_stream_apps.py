"""WSGI bodies streamed (tests/wsgi/test_wsgi_streaming.py): a large generator,
server-sent events, wsgi.file_wrapper over a real file and over BytesIO. What
the apps see (close() calls, items produced) goes to $STREAM_NOTES."""

from __future__ import annotations

import io
import os
import time
from urllib.parse import parse_qs

NOTES = os.environ.get("STREAM_NOTES", "/dev/null")


def _note(text: str) -> None:
    with open(NOTES, "a") as f:
        f.write(text + "\n")


class Body:
    """An iterable with close(), as PEP 3333 describes."""

    def __init__(self, tag: str, items: int, size: int, delay: float = 0.0):
        self.tag, self.items, self.size, self.delay = tag, items, size, delay

    def __iter__(self):
        for i in range(self.items):
            if i % 16 == 0:
                _note(f"{self.tag} produced {i}")
            yield (b"%08d" % i) + b"x" * (self.size - 8)
            if self.delay:
                time.sleep(self.delay)

    def close(self):
        _note(f"{self.tag} closed")


def app(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    path = environ["PATH_INFO"]
    if path == "/gen":
        headers = [("Content-Type", "application/octet-stream")]
        if "length" in q:
            headers.append(("Content-Length", q["length"]))
        start_response("200 OK", headers)
        return Body(q.get("tag", "gen"), int(q.get("items", "256")), int(q.get("size", "65536")))
    if path == "/events":
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return Body("events", 3, 16, delay=float(q.get("delay", "0.8")))
    if path == "/file":
        f = open(q["path"], "rb")
        f.seek(int(q.get("skip", "0")))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 32768)
    if path == "/bytesio":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"from memory " * 10000), 1000)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"nope"]
