"""The request's and response's multi-valued mappings.

    request.headers["content-type"]; request.headers.getlist("x-forwarded-for")
    request.query["page"]; request.query.getlist("tag")
    response.headers["Cache-Control"] = "no-store"; response.headers.append("Vary", "Accept")

Header names are case-insensitive (kept lower-case); a header or query key
given several times keeps every value in order. `m[key]` is the first value
(headers sent repeatedly read as their values joined by ", ", RFC 9110 5.3);
`getlist(key)` has them all. These wrap what the C core copied out of the
request once; building them costs nothing until a handler reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit

__all__ = ["Headers", "MutableHeaders", "QueryParams", "URL"]


class _Multi(Mapping[str, str]):
    """A read-only multi-mapping over a list of (key, value) pairs."""

    __slots__ = ("raw",)
    raw: list[tuple[str, str]]

    def _key(self, key: str) -> str:
        return key

    def getlist(self, key: str) -> list[str]:
        """Every value of key, in the order given (empty when absent)."""
        k = self._key(key)
        return [v for n, v in self.raw if n == k]

    def __getitem__(self, key: str) -> str:
        k = self._key(key)
        for n, v in self.raw:
            if n == k:
                return v
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and any(n == self._key(key) for n, _ in self.raw)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(n for n, _ in self.raw))

    def __len__(self) -> int:
        return len(dict.fromkeys(n for n, _ in self.raw))

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (key, value) pair, repeats included."""
        return list(self.raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Multi):
            return sorted(self.raw) == sorted(other.raw)
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r})"


class Headers(_Multi):
    """Request headers: case-insensitive, multi-valued, read-only."""

    __slots__ = ()

    def __init__(self, raw: Iterable[tuple[str, str]] | Mapping[str, str] | None = None) -> None:
        pairs = raw.items() if isinstance(raw, Mapping) else (raw or ())
        self.raw = [(k.lower(), v) for k, v in pairs]

    def _key(self, key: str) -> str:
        return key.lower()

    def __getitem__(self, key: str) -> str:
        values = self.getlist(key)
        if not values:
            raise KeyError(key)
        return values[0] if len(values) == 1 else ", ".join(values)


class MutableHeaders(Headers, MutableMapping[str, str]):
    """Response headers: as Headers, and settable. `h[k] = v` replaces every
    value of k; append(k, v) adds one (Set-Cookie is sent once per value)."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        k = key.lower()
        self.raw = [(n, v) for n, v in self.raw if n != k]
        self.raw.append((k, value))

    def __delitem__(self, key: str) -> None:
        k = key.lower()
        if not any(n == k for n, _ in self.raw):
            raise KeyError(key)
        self.raw = [(n, v) for n, v in self.raw if n != k]

    def append(self, key: str, value: str) -> None:
        self.raw.append((key.lower(), value))


class QueryParams(_Multi):
    """The decoded query string: multi-valued, read-only, keys as sent."""

    __slots__ = ()

    def __init__(self, query: str | Iterable[tuple[str, str]] = "") -> None:
        self.raw = (parse_qsl(query, keep_blank_values=True) if isinstance(query, str)
                    else list(query))


class URL(str):
    """The request's URL as a str, with its parts as attributes."""

    __slots__ = ()

    @property
    def _parts(self) -> SplitResult:
        return urlsplit(self)

    @property
    def scheme(self) -> str:
        return self._parts.scheme

    @property
    def netloc(self) -> str:
        return self._parts.netloc

    @property
    def hostname(self) -> str | None:
        return self._parts.hostname

    @property
    def port(self) -> int | None:
        return self._parts.port

    @property
    def path(self) -> str:
        return self._parts.path

    @property
    def query(self) -> str:
        return self._parts.query


def _cookies(headers: Headers) -> dict[str, str]:
    """Cookie header(s) -> {name: value}; the first of a repeated name wins."""
    out: dict[str, str] = {}
    for line in headers.getlist("cookie"):
        for part in line.split(";"):
            name, eq, value = part.strip().partition("=")
            if eq and name and name not in out:
                out[name] = value.strip()
    return out


_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _request_attr(request: Any, name: str, scheme: str = "http") -> Any:
    """Builds the lazily made attributes of a Request (called once each, from C)."""
    if name == "headers":  # the C core lower-cased the names already
        headers = Headers.__new__(Headers)
        headers.raw = request.raw_headers
        return headers
    if name == "query":
        return QueryParams(request.query_string)
    if name == "cookies":
        return _cookies(request.headers)
    if name == "url":
        host = request.headers.get("host") or "localhost"
        query = f"?{request.query_string}" if request.query_string else ""
        return URL(f"{scheme}://{host}{quote(request.path, safe=_PATH_SAFE)}{query}")
    raise AttributeError(name)
