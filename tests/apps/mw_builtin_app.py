"""An app with the built-in C middleware on: CORS, gzip, trusted proxies."""

from __future__ import annotations

import frostfork

app = frostfork.App(
    cors=frostfork.CORS(allow_origins=["https://app.example"], allow_methods=["GET", "POST"],
                        allow_headers=["X-Token"], max_age=300),
    gzip=True,
)
wide = frostfork.App(cors=frostfork.CORS(["*"], ["*"], ["*"], allow_credentials=True))
proxied = frostfork.App(forwarded_allow_ips="127.0.0.1")


@app.get("/small")
def small() -> dict:
    return {"ok": True}


@app.get("/big")
def big() -> dict:
    return {"items": [{"id": i, "name": f"user-{i}"} for i in range(200)]}


@app.post("/echo")
def echo(payload: dict) -> dict:
    return payload


@app.get("/encoded")
def encoded():
    return frostfork.Response(200, b"x" * 2000, {"Content-Encoding": "br"})


@app.get("/nothing")
def nothing():
    return frostfork.Response(204, None)


@app.get("/stream")
def stream():
    """200 CSV lines, one item each: gzipped on the way when asked for."""
    return frostfork.StreamingResponse((f"{i},user-{i},{'x' * 40}\n" for i in range(200)),
                                       media_type="text/csv")


@app.get("/stream/encoded")
def stream_encoded():
    return frostfork.StreamingResponse(iter([b"already", b"encoded"]),
                                       headers={"Content-Encoding": "br"})


@app.get("/stream/sized")
def stream_sized():
    return frostfork.StreamingResponse(iter([b"x" * 600, b"y" * 600]), content_length=1200)


@app.get("/events")
def events():
    return frostfork.StreamingResponse(iter(["data: a\n\n", "data: b\n\n"]),
                                       media_type="text/event-stream")


@app.get("/file/{name}")
def file(name: str):
    """A file beside this module (tests write them), its .gz sibling preferred."""
    import os
    return frostfork.FileResponse(os.path.join(os.environ["MW_FILES"], name))


@wide.get("/x")
def x() -> dict:
    return {"x": 1}


@proxied.get("/who")
def who(request: frostfork.Request) -> dict:
    return {"client": list(request.client)}
