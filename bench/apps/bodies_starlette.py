"""Starlette StaticFiles and a FastAPI UploadFile handler (python-multipart), for
bench/run-bodies under uvicorn."""
import os

from fastapi import FastAPI, UploadFile
from fastapi.staticfiles import StaticFiles

app = FastAPI()
app.mount("/static", StaticFiles(directory=os.environ["BODIES_STATIC"]), name="static")


@app.post("/upload")
async def upload(file: UploadFile) -> dict:
    n = 0
    while block := await file.read(1 << 20):
        n += len(block)
    return {"size": n}
