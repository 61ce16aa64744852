"""frostfork side of bench/run-bodies: a static folder and a 1 MiB upload handler."""
import os

import frostfork
from frostfork import UploadFile

app = frostfork.App()
app.static("/static", os.environ["BODIES_STATIC"])


@app.post("/upload")
def upload(file: UploadFile) -> dict:
    n = 0
    while block := file.read(1 << 20):
        n += len(block)
    return {"size": n}
