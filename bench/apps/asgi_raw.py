"""A bare ASGI 3 app for bench/asgi_bars.py: what each server costs by itself.

GET / answers a fixed JSON body; POST /users reads the whole body and answers 201 with
its length. No framework, no validation: the rate of this app bounds what any app can
reach on that server, and the gap to the framework apps is the framework's own time."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b'{"message":"Hello, World!"}'
    status = 200
    if scope["method"] == "POST":
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        body, status = b'{"size":%d}' % size, 201
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
