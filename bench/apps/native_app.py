"""frostfork native app for the throughput benchmark (and accept_balance.py)."""
import hashlib

import frostfork

app = frostfork.App()


@app.get("/")
def index():
    return {"message": "Hello, World!"}


@app.get("/cpu")
def cpu():
    """About 0.2 ms of CPU per request: a handler that keeps a core busy."""
    digest = b"frostfork"
    for _ in range(400):
        digest = hashlib.sha256(digest).digest()
    return {"digest": digest.hex()[:16]}
