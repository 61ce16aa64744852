"""frostfork native app for the throughput benchmark."""
import frostfork

app = frostfork.App()


@app.get("/")
def index():
    return {"message": "Hello, World!"}
