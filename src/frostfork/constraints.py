"""The constraint vocabulary: metadata for `typing.Annotated`.

    Username = Annotated[str, MinLen(3), MaxLen(32)]
    Password = Annotated[str, MinLen(12), Sensitive()]
    Age = Annotated[int, Ge(0), Le(150)]

Each object only records a value; `frostfork.schema.node_for` reads them once,
at registration, and checks that they fit the type they annotate. The names and
attribute names match the `annotated-types` package (`Gt(gt=...)`,
`MinLen(min_length=...)`, ...), whose classes frostfork understands as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Number = int | float | Decimal

__all__ = [
    "Gt", "Ge", "Lt", "Le", "MultipleOf", "MinLen", "MaxLen", "Len", "Pattern",
    "Sensitive", "Title", "Description", "Examples",
]


@dataclass(frozen=True, slots=True)
class Gt:
    """The number must be greater than `gt`."""

    gt: Number


@dataclass(frozen=True, slots=True)
class Ge:
    """The number must be greater than or equal to `ge`."""

    ge: Number


@dataclass(frozen=True, slots=True)
class Lt:
    """The number must be less than `lt`."""

    lt: Number


@dataclass(frozen=True, slots=True)
class Le:
    """The number must be less than or equal to `le`."""

    le: Number


@dataclass(frozen=True, slots=True)
class MultipleOf:
    """The number divided by `multiple_of` must be a whole number (JSON Schema's meaning)."""

    multiple_of: Number


@dataclass(frozen=True, slots=True)
class MinLen:
    """The str / bytes / collection must have at least `min_length` items (characters for str)."""

    min_length: int


@dataclass(frozen=True, slots=True)
class MaxLen:
    """The str / bytes / collection must have at most `max_length` items (characters for str)."""

    max_length: int


@dataclass(frozen=True, slots=True)
class Len:
    """Both length bounds in one object; `max_length=None` leaves the upper end open.

    It unpacks into `MinLen` / `MaxLen` the way annotated-types' grouped metadata
    does, so any reader of that protocol understands it.
    """

    min_length: int
    max_length: int | None = None

    __is_annotated_types_grouped_metadata__ = True

    def __iter__(self) -> Iterator[MinLen | MaxLen]:
        """Yields the single bounds it stands for (a zero minimum is no bound)."""
        if self.min_length > 0:
            yield MinLen(self.min_length)
        if self.max_length is not None:
            yield MaxLen(self.max_length)


@dataclass(frozen=True, slots=True)
class Pattern:
    """The str must contain a match of the regular expression `pattern` (`re.search`,
    as JSON Schema does); anchor it with ^...$ to match the whole value."""

    pattern: str


@dataclass(frozen=True, slots=True)
class Sensitive:
    """The value is a secret: masked in logs and never echoed in error messages;
    documented as writeOnly (and format "password" for strings)."""


@dataclass(frozen=True, slots=True)
class Title:
    """A short title for the documentation (JSON Schema "title")."""

    title: str


@dataclass(frozen=True, slots=True)
class Description:
    """A longer explanation for the documentation (JSON Schema "description")."""

    description: str


@dataclass(frozen=True, slots=True, init=False)
class Examples:
    """Example values for the documentation (JSON Schema "examples")."""

    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", values)
