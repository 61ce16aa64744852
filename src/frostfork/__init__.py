"""frostfork: a pre-fork HTTP/1.1 application server whose per-request path is C.

    import frostfork
    app = frostfork.App()

    @app.get("/users/{id}")
    def user(id: int) -> dict:
        return {"id": id}

Serve it with ``frostfork serve module:app --workers 4``.
"""

from frostfork._core import Request, Response
from frostfork.app import App

__all__ = ["App", "Request", "Response"]
__version__ = "0.1.0"
