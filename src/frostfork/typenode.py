"""The type tree: what a type hint plus its Annotated metadata means to frostfork.

`frostfork.schema.node_for(hint)` builds it once per type, at registration.
Three consumers read the same tree, so one declaration drives all of them:
  - the C schema compiler (`_core.compile`), which validates and decodes JSON;
  - `frostfork.openapi` (JSON Schema 2020-12 / OpenAPI 3.1);
  - `frostfork.sql` (SQLite DDL with CHECK constraints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Node kinds. Scalars have no args.
ANY, NONE, BOOL, INT, FLOAT, STR, BYTES = "any", "none", "bool", "int", "float", "str", "bytes"
DATETIME, DATE, TIME, UUID, DECIMAL = "datetime", "date", "time", "uuid", "decimal"
LIST, SET, FROZENSET, VARTUPLE = "list", "set", "frozenset", "vartuple"  # args = (item,)
TUPLE = "tuple"      # args = (item0, item1, ...) fixed length
DICT = "dict"        # args = (value,) ; keys are str
UNION = "union"      # args = options, in declaration order (None last if optional)
LITERAL = "literal"  # values = the allowed values (str / int / bool / None)
ENUM = "enum"        # cls = the Enum class, values = its members' values
MODEL = "model"      # cls, fields, model_kind, forbid_extra

MODEL_DATACLASS, MODEL_TYPEDDICT, MODEL_FROSTFORK = "dataclass", "typeddict", "model"

# Constraint keys (all optional) in Node.constraints:
#   numbers: gt, ge, lt, le, multiple_of
#   str / bytes / list / set / tuple / dict: min_len, max_len
#   str: pattern (a regex source string; matched with re.search semantics, as JSON Schema does)


@dataclass(eq=False)
class Node:
    kind: str
    args: tuple[Node, ...] = ()
    constraints: dict[str, Any] = field(default_factory=dict)
    sensitive: bool = False
    values: tuple[Any, ...] = ()
    cls: type | None = None
    fields: tuple[Field, ...] = ()
    model_kind: str = ""
    forbid_extra: bool = False
    # dataclasses: the init=False fields (never read from input; the decoder sets
    # those with a default, as __init__ does, the encoder writes them), and whether
    # the decoder calls __post_init__ after
    late: tuple[Field, ...] = ()
    post_init: bool = False
    # documentation only (JSON Schema title/description/examples)
    title: str | None = None
    description: str | None = None
    examples: tuple[Any, ...] = ()


MISSING: Any = object()  # a Field without a default


@dataclass(eq=False)
class Field:
    name: str                  # attribute / key in Python
    node: Node
    default: Any = MISSING     # a value, or MISSING when required
    default_factory: Any = None  # a zero-arg callable, or None
    optional_key: bool = False   # TypedDict total=False: may be absent, no default

    @property
    def required(self) -> bool:
        return not self.optional_key and self.default is MISSING and self.default_factory is None
