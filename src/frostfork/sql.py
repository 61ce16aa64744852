"""The type tree → SQLite DDL, so the database enforces what the API validates.

    create_table(NewUser)
    # CREATE TABLE IF NOT EXISTS "new_user" (
    #     "name" TEXT NOT NULL CHECK (length("name") >= 3) CHECK (length("name") <= 32),
    #     "age" INTEGER NOT NULL CHECK ("age" >= 0) CHECK ("age" <= 150)
    # )

Columns, by field type:
  - int → INTEGER; a field named `id` of type int (or int | None) is the
    INTEGER PRIMARY KEY, the rowid alias SQLite fills in when it is NULL;
  - bool → INTEGER with CHECK (col IN (0, 1)); float → REAL; str → TEXT;
    bytes → BLOB; Decimal → NUMERIC; datetime / date / time / UUID → TEXT;
  - Literal and Enum → INTEGER when every value is an int, else TEXT, with
    CHECK (col IN (...));
  - anything else (models, lists, dicts, unions of several types, Any) → TEXT
    holding JSON, without checks.
NOT NULL unless the type admits None (or a TypedDict key may be absent). DEFAULT
for str / int / float / bool / Decimal / Enum defaults; factories have none.
CHECKs: Gt / Ge / Lt / Le (and MultipleOf on int) for numbers; MinLen / MaxLen /
Len as length(col) on str (characters) and bytes (bytes). Pattern has no CHECK:
SQLite has no regular expressions unless the application registers a REGEXP
function, and a table must not depend on that.
"""

from __future__ import annotations

import decimal
import enum
import math
import re
from typing import Any, cast

from frostfork import typenode as tn
from frostfork.schema import SchemaError, node_for
from frostfork.typenode import Field, Node

__all__ = ["create_table"]

_AFFINITY = {
    tn.INT: "INTEGER", tn.BOOL: "INTEGER", tn.FLOAT: "REAL", tn.STR: "TEXT", tn.BYTES: "BLOB",
    tn.DECIMAL: "NUMERIC", tn.DATETIME: "TEXT", tn.DATE: "TEXT", tn.TIME: "TEXT",
    tn.UUID: "TEXT",
}

_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
_LENGTHS = (("min_len", ">="), ("max_len", "<="))


def create_table(model: type, *, table: str | None = None) -> str:
    """CREATE TABLE IF NOT EXISTS for a dataclass / TypedDict / frostfork.Model class;
    the table is named after the class in snake_case unless `table` is given."""
    node = node_for(model, where=getattr(model, "__name__", ""))
    if node.kind != tn.MODEL:
        raise SchemaError(f"create_table needs a dataclass, TypedDict or frostfork.Model, "
                          f"not {model!r}")
    name = table or _snake_case(node.cls.__name__)  # type: ignore[union-attr]
    columns = ",\n    ".join(_column(field) for field in node.fields)
    return f"CREATE TABLE IF NOT EXISTS {_quote(name)} (\n    {columns}\n)"


def _column(field: Field) -> str:
    """One column definition: name, type, nullability, default, checks."""
    node, nullable = _unwrap_optional(field.node)
    column = _quote(field.name)
    if field.name == "id" and node.kind == tn.INT:
        parts = [column, "INTEGER PRIMARY KEY"]
    else:
        parts = [column, _affinity(node)]
        if not (nullable or field.optional_key):
            parts.append("NOT NULL")
        default = _literal(field.default) if field.default is not tn.MISSING else None
        if default is not None:
            parts.append(f"DEFAULT {default}")
    parts.extend(f"CHECK ({check})" for check in _checks(column, node))
    return " ".join(parts)


def _unwrap_optional(node: Node) -> tuple[Node, bool]:
    """`T | None` is column type T, nullable; the node to describe and whether NULL fits."""
    if node.kind == tn.UNION:
        options = [option for option in node.args if option.kind != tn.NONE]
        nullable = len(options) < len(node.args)
        return (options[0] if len(options) == 1 else node), nullable
    if node.kind in (tn.LITERAL, tn.ENUM):
        return node, None in node.values
    return node, node.kind in (tn.NONE, tn.ANY)


def _affinity(node: Node) -> str:
    """The column's declared type; JSON text for everything structured."""
    if node.kind in (tn.LITERAL, tn.ENUM):
        values = [value for value in node.values if value is not None]
        return "INTEGER" if all(isinstance(value, int) for value in values) else "TEXT"
    return _AFFINITY.get(node.kind, "TEXT")


def _checks(column: str, node: Node) -> list[str]:
    """The CHECK expressions the node's type and constraints call for."""
    constraints = node.constraints
    if node.kind == tn.BOOL:
        return [f"{column} IN (0, 1)"]
    if node.kind in (tn.LITERAL, tn.ENUM):
        literals = [_literal(value) for value in node.values if value is not None]
        if any(lit is None for lit in literals):
            return []  # a choice SQL cannot spell: no CHECK rather than a wrong one
        return [f"{column} IN ({', '.join(cast(list[str], literals))})"]
    checks = []
    if node.kind in (tn.INT, tn.FLOAT, tn.DECIMAL):
        checks += [f"{column} {op} {_literal(constraints[key])}"
                   for key, op in _BOUNDS if key in constraints]
        if node.kind == tn.INT and type(constraints.get("multiple_of")) is int:
            checks.append(f"{column} % {constraints['multiple_of']} = 0")
    if node.kind in (tn.STR, tn.BYTES):
        checks += [f"length({column}) {op} {constraints[key]}"
                   for key, op in _LENGTHS if key in constraints]
    return checks


def _literal(value: Any) -> str | None:
    """A Python value as an SQL literal, or None when it is not a simple one."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None


def _quote(identifier: str) -> str:
    """An identifier in double quotes, inner quotes doubled, so any name is safe."""
    return '"' + identifier.replace('"', '""') + '"'


def _snake_case(name: str) -> str:
    """NewUser → new_user, HTTPLog → http_log."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
