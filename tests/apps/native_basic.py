"""A native app exercising routing, binding and every result type."""

import os

import frostfork
from frostfork import Request, Response

app = frostfork.App()


@app.get("/")
def index():
    return {"message": "Hello, World!"}


@app.get("/bytes")
def raw_bytes():
    return b"\x00\x01binary"


@app.get("/text")
def text():
    return "héllo"


@app.get("/none")
def nothing():
    return None


@app.get("/users/{id}")
def user(id: int):
    return {"id": id, "type": type(id).__name__}


@app.get("/users/me")
def me():
    return {"me": True}


@app.get("/files/{name}/raw")
def file_raw(name: str):
    return {"name": name}


@app.get("/price/{value}")
def price(value: float):
    return {"value": value}


@app.route("/items", methods=["GET", "POST"])
def items(request: Request):
    return {"method": request.method, "len": len(request.body),
            "query": request.query_string, "ct": request.headers.get("content-type")}


@app.put("/echo/{key}")
def echo(key: str, request: Request):
    return Response(201, request.body, {"X-Key": key, "Content-Type": "application/x-echo"})


@app.get("/status/{code}")
def status(code: int):
    return Response(code, {"code": code} if code not in (204, 304) else None)


@app.get("/boom")
def boom():
    raise RuntimeError("handler exploded on purpose")


@app.get("/badjson")
def badjson():
    return {"x": object()}


@app.get("/badheader")
def badheader():
    return Response(200, "x", {"X-Evil": "a\r\nInjected: yes"})


@app.get("/pid")
def pid():
    return {"pid": os.getpid()}


@app.get("/exit")
def hard_exit():
    os._exit(3)


@app.get("/spin")
def spin():
    while True:
        pass


@app.get("/sleep/{ms}")
def sleep(ms: int, started: str = ""):
    """A handler that takes ms milliseconds. With ?started=PATH it first creates
    the file PATH, so a test can wait until the handler runs."""
    import time
    if started:
        open(started, "x").close()
    time.sleep(ms / 1000)
    return {"slept": ms, "pid": os.getpid()}


@app.get("/hold")
def hold(started: str, release: str, limit: float = 60):
    """Creates the file `started`, then keeps its worker inside this handler
    until the file `release` exists (at most `limit` s): a request a test holds
    in flight for exactly as long as it needs."""
    import time
    open(started, "x").close()
    deadline = time.monotonic() + limit
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.005)
    return {"released": os.path.exists(release), "pid": os.getpid()}


@app.get("/gc")
def gc_info():
    import gc
    return {"frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}


_hoard: list = []


@app.get("/hoard/{mb}")
def hoard(mb: int):
    """Grow this worker's private memory by `mb` MB (for --max-worker-uss)."""
    _hoard.append(bytearray(mb * 1024 * 1024))
    return {"pid": os.getpid(), "held_mb": sum(len(b) for b in _hoard) // (1024 * 1024)}
