"""Apps for tests/hardening.

`app` (native): handlers that fail the hard way, to check that one broken
request costs one worker and nothing else:
    /segv     reads address 0 through ctypes: the worker dies of SIGSEGV
    /exit     os._exit(7), skipping every cleanup
    /spin     an endless loop: the worker stops beating, the master kills it
    /pid      which worker answered;  /sleep/{ms}  a slow but healthy request
              (?started=PATH: creates the file PATH when the handler starts)

`wsgi`: the tiny WSGI app that tests/hardening/test_differential.py serves from
both frostfork (--wsgi) and gunicorn. It reads the whole body the server
framed (read() to EOF, as PEP 3333 servers with wsgi.input_terminated and
gunicorn both allow) and answers with its length and a digest, so the two
servers are compared on framing alone.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import time

import frostfork

app = frostfork.App()


@app.get("/")
def index() -> dict:
    return {"ok": True}


@app.get("/pid")
def pid() -> dict:
    return {"pid": os.getpid()}


@app.get("/sleep/{ms}")
def sleep(ms: int, started: str = "") -> dict:
    if started:  # the file tells a test that the handler runs
        open(started, "x").close()
    time.sleep(ms / 1000)
    return {"slept": ms, "pid": os.getpid()}


@app.get("/segv")
def segv() -> dict:
    ctypes.string_at(0)  # SIGSEGV: Python cannot catch it
    return {"survived": True}


@app.get("/exit")
def hard_exit() -> dict:
    os._exit(7)


@app.get("/spin")
def spin() -> dict:
    while True:
        pass


def wsgi(environ, start_response):
    stream = environ["wsgi.input"]
    n = environ.get("CONTENT_LENGTH") or ""
    body = stream.read(int(n)) if n.isdigit() else stream.read()
    out = (f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} len={len(body)} "
           f"sha1={hashlib.sha1(body).hexdigest()[:12]}\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(out)))])
    return [out]
