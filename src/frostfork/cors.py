"""CORS configuration for the built-in (C) middleware.

    app = frostfork.App(cors=frostfork.CORS(allow_origins=["https://app.example"],
                                            allow_methods=["GET", "POST"],
                                            allow_headers=["X-Token"]))

Preflights (OPTIONS with Origin and Access-Control-Request-Method) are answered
in C without reaching a route: 200 with the allowed methods, headers and
max-age, or 400 naming what was refused. Other requests from an allowed origin
get Access-Control-Allow-Origin (and Vary: Origin, and Allow-Credentials when
allow_credentials) added to whatever their route answered. "*" in a list means
any; with allow_credentials the origin is echoed instead of "*", as the Fetch
standard requires. The CORS-safelisted headers (Accept, Accept-Language,
Content-Language, Content-Type) are always allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CORS"]


class CORS:
    """Which cross-origin requests may read responses (see the module docstring)."""

    __slots__ = ("allow_origins", "allow_methods", "allow_headers", "allow_credentials",
                 "max_age")

    def __init__(self, allow_origins: Iterable[str] = (), allow_methods: Iterable[str] = ("GET",),
                 allow_headers: Iterable[str] = (), allow_credentials: bool = False,
                 max_age: int = 600) -> None:
        lists = {"allow_origins": allow_origins, "allow_methods": allow_methods,
                 "allow_headers": allow_headers}
        for name, value in lists.items():
            if isinstance(value, str):
                raise TypeError(f"CORS {name} must be a list of strings, not a str")
            items = tuple(value)
            for item in items:
                if not isinstance(item, str) or not item or any(c in item for c in "\r\n,"):
                    raise ValueError(f"CORS {name}: {item!r} is not a single non-empty name")
            setattr(self, name, items)
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
            raise ValueError(f"CORS max_age must be a non-negative int, not {max_age!r}")
        self.allow_credentials = bool(allow_credentials)
        self.max_age = max_age

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"CORS({inner})"


def middleware_config(app: object, forwarded_allow_ips: str | None = None) -> dict[str, object]:
    """What the C core's serve()/engine takes as `middleware`: the app's CORS and
    gzip settings, and the trusted proxies (the CLI's value wins over the app's)."""
    ips = forwarded_allow_ips if forwarded_allow_ips is not None else getattr(
        app, "forwarded_allow_ips", None)
    return {"cors": getattr(app, "cors", None), "gzip": getattr(app, "gzip", False),
            "forwarded_allow_ips": ips}
