"""The example service the README's first command serves.

    frostfork serve examples.app:app --workers 4

A small users API: the lookup table is built once in the master at startup,
frozen with the rest of the heap, and shared by every worker.
"""

import frostfork
from frostfork import Request, Response

app = frostfork.App()


@app.on_startup
def load_countries() -> None:
    # Built before gc.freeze(): every worker reads the same physical pages.
    app.state.countries = {f"C{i:05d}": {"code": f"C{i:05d}", "rank": i} for i in range(50_000)}
    app.state.users = {}


@app.get("/")
def index() -> dict:
    return {"service": "frostfork example", "countries": len(app.state.countries)}


@app.get("/countries/{code}")
def country(code: str):
    found = app.state.countries.get(code)
    if found is None:
        return Response(404, {"detail": f"no country {code}"})
    return found


@app.post("/users")
def create_user(request: Request):
    user_id = len(app.state.users) + 1
    app.state.users[user_id] = request.body.decode("utf-8", "replace")
    return Response(201, {"id": user_id}, {"Location": f"/users/{user_id}"})


@app.get("/users/{user_id}")
def get_user(user_id: int):
    if user_id not in app.state.users:
        return Response(404, {"detail": "no such user in this worker"})
    return {"id": user_id, "body": app.state.users[user_id]}


@app.get("/health")
def health() -> str:
    return "ok"
