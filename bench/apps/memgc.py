"""The /gc endpoint shared by the memory-benchmark apps (bench/run-memory).

GET /gc runs three full collections in the worker that answers, holds the worker
for HOLD seconds, and returns {"ok": true, "pid": <worker pid>}, so the benchmark can
check every worker ran them. The hold spreads a round of staggered fresh connections
over the workers: with EPOLLEXCLUSIVE the kernel wakes one idle waiter per connection,
and without the hold the same idle worker would tend to take nearly every connection
when the collections are fast (frozen heap).
GET /read walks every row of the app's table (reading each dict's values, as a
handler that scans a startup lookup table would) and answers the worker pid and the
sum of the ids; bench/run-read-heap sends it to find out what reads un-share.
make(table) returns (frostfork native app, WSGI callable), both serving the same routes.
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


def _read(table):
    total = 0
    for row in table:
        total += row["id"] + len(row["name"]) + row["tags"][0]
    time.sleep(HOLD)
    return {"ok": True, "pid": os.getpid(), "sum": total}


def make(table=()):
    app = frostfork.App()
    routes = {"/gc": _collect, "/read": lambda: _read(table),
              "/": lambda: {"ok": True, "pid": os.getpid()}}

    @app.get("/read")
    def read_route():
        return _read(table)

    @app.get("/gc")
    def gc_route():
        return _collect()

    @app.get("/")
    def index():
        return {"ok": True, "pid": os.getpid()}

    def wsgi(environ, start_response):
        route = routes.get(environ.get("PATH_INFO", "/"))
        if route is None:
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"not found"]
        body = json.dumps(route()).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app, wsgi
