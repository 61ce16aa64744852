"""Apps for tests/http/test_protocol_details.py: a native one that shows what a
handler sees of the request target and Host and answers with any status, and
two WSGI ones (`read_all`, `zero_status`)."""

import json
from typing import Annotated

import frostfork
from frostfork import Body, Header, Request, Response

app = frostfork.App()


@app.get("/where")
def where(request: Request, host: Annotated[str, Header("Host")] = "") -> dict:
    return {"path": request.path, "query": request.query_string,
            "host": request.headers.get("host"), "host_param": host}


@app.get("/status/{code}")
def status(code: int):
    return Response(code, {"code": code} if code not in (204, 304) and code >= 200 else None)


@app.get("/boom")
def boom():
    raise RuntimeError("handler exploded on purpose")


@app.post("/count")
def count(data: Annotated[dict[str, int], Body()]) -> dict:
    return {"n": len(data)}


def read_all(environ, start_response):
    """Reads wsgi.input to its end with read() and no size, which PEP 3333
    allows only when the server sets wsgi.input_terminated."""
    body = environ["wsgi.input"].read() if environ.get("wsgi.input_terminated") else b"?"
    data = json.dumps({"terminated": environ.get("wsgi.input_terminated"),
                       "body": body.decode("latin-1"),
                       "content_length": environ.get("CONTENT_LENGTH")}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


def zero_status(environ, start_response):
    """A status below 100: refused by start_response, so a logged 500."""
    start_response("099 Too Low", [("Content-Type", "text/plain")])
    return [b"never sent"]
