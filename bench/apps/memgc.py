"""The /gc endpoint shared by the memory-benchmark apps (bench/run-memory).

GET /gc runs three full collections in the worker that answers, holds the worker
for HOLD seconds, and returns {"ok": true, "pid": <worker pid>}, so the benchmark can
check every worker ran them. The hold spreads a round of staggered fresh connections
over the workers: with EPOLLEXCLUSIVE the kernel wakes one idle waiter per connection,
and without the hold the same idle worker would tend to take nearly every connection
when the collections are fast (frozen heap).
make() returns (frostfork native app, WSGI callable), both serving the same route.
"""
import gc
import json
import os
import time

import frostfork

HOLD = 0.3


def _collect():
    gc.collect()
    gc.collect()
    gc.collect()
    time.sleep(HOLD)
    return {"ok": True, "pid": os.getpid()}


def make():
    app = frostfork.App()

    @app.get("/gc")
    def gc_route():
        return _collect()

    @app.get("/")
    def index():
        return {"ok": True, "pid": os.getpid()}

    def wsgi(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path not in ("/gc", "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"not found"]
        body = json.dumps(_collect() if path == "/gc" else {"ok": True, "pid": os.getpid()}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app, wsgi
