"""ASGI apps for tests/asgi written from the spec (no framework); the framework apps are
asgi_starlette, asgi_fastapi and asgi_litestar."""

import asyncio
import json
import os

events: list[str] = []
IMPORT_PID = os.getpid()


async def raw(scope, receive, send):
    """Echoes what the scope and the body were; paths choose misbehaviours."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                scope["state"]["opened"] = "resource"
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                print("[raw app] lifespan shutdown", flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http"
    path = scope["path"]
    if path == "/echo":
        chunks, more = [], True
        while more:
            msg = await receive()
            assert msg["type"] == "http.request"
            chunks.append(msg["body"])
            more = msg.get("more_body", False)
        body = json.dumps({
            "method": scope["method"], "path": scope["path"],
            "raw_path": scope["raw_path"].decode(), "query": scope["query_string"].decode(),
            "root_path": scope["root_path"], "http_version": scope["http_version"],
            "scheme": scope["scheme"], "client": list(scope["client"]),
            "server": list(scope["server"]), "headers": [[k.decode(), v.decode()]
                                                        for k, v in scope["headers"]],
            "types": sorted({type(k).__name__ for k, _ in scope["headers"]}),
            "state": scope["state"].get("opened"), "asgi": scope["asgi"]["version"],
            "body_len": sum(map(len, chunks)), "chunks": len(chunks), "pid": os.getpid(),
        }).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await asyncio.sleep(0.001)
            await send({"type": "http.response.body", "body": b"part%d\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/big":
        n = int(scope["query_string"] or b"1000")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        block = b"x" * 65536
        for _ in range(n):
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/inline":
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"x-inline", b"yes")]})
        await send({"type": "http.response.body", "body": b"made"})
    elif path == "/twice":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})
    elif path == "/body-first":
        await send({"type": "http.response.body", "body": b"x"})
    elif path == "/bad-header":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-evil", b"a\r\nset-cookie: 1")]})
    elif path == "/wrong-type":
        await send({"type": "http.response.start", "status": "200", "headers": []})
    elif path == "/nothing":
        return
    elif path == "/raise":
        await asyncio.sleep(0)
        raise RuntimeError("raw app boom")
    elif path == "/raise-mid-stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("mid-stream boom")
    elif path == "/wait-disconnect":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"waiting\n", "more_body": True})
        msg = await receive()
        while msg["type"] == "http.request":
            msg = await receive()
        events.append(msg["type"])
        print(f"[raw app] got {msg['type']}", flush=True)
        try:
            await send({"type": "http.response.body", "body": b"late"})
        except OSError as e:
            print(f"[raw app] send after disconnect raised {type(e).__name__}", flush=True)
    elif path == "/sleep":
        print("[raw app] sleeping", flush=True)  # tests wait for this line, not a fixed time
        await asyncio.sleep(float(scope["query_string"] or b"3600"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"slept"})
    elif path == "/import-pid":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body",
                    "body": json.dumps({"import_pid": IMPORT_PID}).encode()})
    elif path == "/events":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(events).encode()})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})
