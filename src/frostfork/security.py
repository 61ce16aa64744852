"""Credentials read from the request in C: API keys, bearer tokens, basic auth.

    api_key = APIKeyHeader("X-API-Key")
    bearer = HTTPBearer()

    @app.get("/items")
    def items(key: Annotated[str, api_key]): ...            # or  key: api_key

    @app.get("/me")
    def me(token: Annotated[HTTPAuthorizationCredentials, bearer]): ...

    @app.delete("/items/{id}", dependencies=[api_key])     # checked, value unused

A scheme is a parameter's type (the instance itself as the annotation) or an
Annotated marker. When the credential is missing (or, for HTTP schemes,
malformed) the request is answered 401 {"detail": "Not authenticated"} with a
WWW-Authenticate challenge before the handler runs; with auto_error=False the
parameter gets None instead. Each scheme appears in OpenAPI's
components.securitySchemes and in the security of the routes that use it.
Credential values are Sensitive: they are masked in logs and tracebacks, and
the header or query name they come in is masked in the access log.

Checking a key's value is the application's job (a dependency that takes the
key and raises HTTPError(401) is the usual place).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["APIKeyCookie", "APIKeyHeader", "APIKeyQuery", "HTTPAuthorizationCredentials",
           "HTTPBasic", "HTTPBasicCredentials", "HTTPBearer", "SecurityScheme"]

# Kinds, mirrored by enum ff_sec_kind in _core/bind/plan.h.
API_KEY_HEADER, API_KEY_QUERY, API_KEY_COOKIE, HTTP_BEARER, HTTP_BASIC = range(5)


@dataclass(frozen=True)
class HTTPAuthorizationCredentials:
    """`Authorization: <scheme> <credentials>` (HTTPBearer's value)."""
    scheme: str
    credentials: str = field(repr=False)


@dataclass(frozen=True)
class HTTPBasicCredentials:
    """The user and password of `Authorization: Basic ...` (HTTPBasic's value)."""
    username: str
    password: str = field(repr=False)


class SecurityScheme:
    """Base of the schemes: what the binder and the OpenAPI writer read."""

    kind: int
    location: str  # "header" | "query" | "cookie"
    key: str       # the header (lower-case), query key or cookie name read
    value_type: Any

    def __init__(self, *, scheme_name: str | None, description: str | None,
                 auto_error: bool) -> None:
        self.scheme_name = scheme_name or type(self).__name__
        self.description = description
        self.auto_error = auto_error

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate value of the 401 when the credential is missing."""
        raise NotImplementedError

    def openapi(self) -> dict[str, Any]:
        """This scheme's Security Scheme Object."""
        raise NotImplementedError

    def _with_description(self, scheme: dict[str, Any]) -> dict[str, Any]:
        if self.description:
            scheme["description"] = self.description
        return scheme

    def __call__(self) -> Any:  # an instance used as an annotation must be callable
        raise TypeError(f"{type(self).__name__} is read from the request by frostfork; "
                        f"use it as a parameter's type, in Annotated, or in dependencies=[...]")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.scheme_name!r})"


class _APIKey(SecurityScheme):
    value_type = str

    def __init__(self, name: str, *, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        if not name:
            raise ValueError("an API key needs the name it is sent under")
        super().__init__(scheme_name=scheme_name, description=description,
                         auto_error=auto_error)
        self.name = name
        self.key = name.lower() if self.location == "header" else name

    @property
    def challenge(self) -> str:
        return "APIKey"

    def openapi(self) -> dict[str, Any]:
        return self._with_description({"type": "apiKey", "name": self.name, "in": self.location})


class APIKeyHeader(_APIKey):
    """An API key sent in a request header, e.g. APIKeyHeader("X-API-Key")."""
    kind, location = API_KEY_HEADER, "header"


class APIKeyQuery(_APIKey):
    """An API key sent as a query parameter, e.g. APIKeyQuery("api_key")."""
    kind, location = API_KEY_QUERY, "query"


class APIKeyCookie(_APIKey):
    """An API key sent as a cookie, e.g. APIKeyCookie("session")."""
    kind, location = API_KEY_COOKIE, "cookie"


class HTTPBearer(SecurityScheme):
    """`Authorization: Bearer <token>`; the value is HTTPAuthorizationCredentials."""
    kind, location, key = HTTP_BEARER, "header", "authorization"
    value_type = HTTPAuthorizationCredentials

    def __init__(self, *, bearer_format: str | None = None, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        super().__init__(scheme_name=scheme_name, description=description,
                         auto_error=auto_error)
        self.bearer_format = bearer_format

    @property
    def challenge(self) -> str:
        return "Bearer"

    def openapi(self) -> dict[str, Any]:
        scheme: dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if self.bearer_format:
            scheme["bearerFormat"] = self.bearer_format
        return self._with_description(scheme)


class HTTPBasic(SecurityScheme):
    """`Authorization: Basic <base64 user:password>`; the value is HTTPBasicCredentials."""
    kind, location, key = HTTP_BASIC, "header", "authorization"
    value_type = HTTPBasicCredentials

    def __init__(self, *, realm: str | None = None, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        super().__init__(scheme_name=scheme_name, description=description,
                         auto_error=auto_error)
        if realm is not None and ('"' in realm or "\\" in realm):
            raise ValueError("realm may not contain '\"' or '\\'")
        self.realm = realm

    @property
    def challenge(self) -> str:
        return f'Basic realm="{self.realm}"' if self.realm else "Basic"

    def openapi(self) -> dict[str, Any]:
        return self._with_description({"type": "http", "scheme": "basic"})
