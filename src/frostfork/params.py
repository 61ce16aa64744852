"""Markers that say where a handler parameter comes from, used inside Annotated.

    def handler(request_id: Annotated[str, Header("X-Request-Id")] = "",
                session: Annotated[str, Cookie()] = "",
                tags: Annotated[list[str], Query("tag")] = []): ...

Without a marker the source follows from the type: path parameters by name,
`Request` by type, registered dependencies by type, models (dataclass,
TypedDict, frostfork.Model) from the JSON body, scalars and lists of scalars
from the query string.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Header:
    """A request header; the name defaults to the parameter's, '_' written as '-'."""
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Cookie:
    """A cookie from the Cookie header; the name defaults to the parameter's."""
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """A query-string parameter (also repeated, for list types); name defaults to the parameter's."""
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Body:
    """The JSON body. embed=True expects {"<param name>": ...} even for a single body parameter."""
    embed: bool = False


@dataclass(frozen=True, slots=True)
class Form:
    """A field of an HTML form body (application/x-www-form-urlencoded or
    multipart/form-data); the name defaults to the parameter's. On a model
    type, the whole form is bound to the model, field by field."""
    name: str | None = None


@dataclass(frozen=True, slots=True)
class File:
    """An uploaded file part of a multipart/form-data body, for a parameter
    typed frostfork.UploadFile (or a list of them) whose part name differs
    from the parameter's. The type alone is enough otherwise."""
    name: str | None = None
