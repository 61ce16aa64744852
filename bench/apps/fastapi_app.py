"""FastAPI app for the throughput benchmark (served by uvicorn)."""
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def index():
    return {"message": "Hello, World!"}
