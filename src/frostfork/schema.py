"""Type hints → the type tree (`frostfork.typenode.Node`), once per type, at registration.

    node_for(Annotated[str, MinLen(3)])          # Node(kind="str", constraints={"min_len": 3})
    node_for(NewUser, where="create_user.user")  # Node(kind="model", fields=(...))

Everything a hint can mean is decided here, so the C schema compiler, the
OpenAPI writer and the SQL writer all read one answer. A constraint that cannot
apply to its type, and a type frostfork cannot decode, are `SchemaError`s whose
message starts with where they were written (`NewUser.age: ...`).

Metadata rules:
  - frostfork's constraints and annotated-types' (`Gt`, `Interval`, `Len`, ...) are
    read alike; grouped metadata (anything with `__is_annotated_types_grouped_metadata__`)
    is unpacked; any other object (e.g. `Header("X-Id")`, `Predicate`) is ignored.
  - repeated bounds intersect: `Annotated[Annotated[int, Ge(0)], Ge(5)]` means ge=5;
    two different `Pattern`s or `MultipleOf`s on one type are an error.
  - constraints on a union go to each non-None option (`Annotated[str | None, MinLen(3)]`);
    `Sensitive` marks the union and every option; titles and descriptions stay where written.
  - model nodes are shared (one per class in a tree, so recursive models form cycles);
    metadata on a model reference lands on a shallow copy that shares the fields.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import re
import types
import typing
import uuid
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, NotRequired, Required, Union

from frostfork import constraints as ff
from frostfork import typenode as tn
from frostfork.typenode import Field, Node

try:  # optional: its classes are understood when it is installed
    import annotated_types as at
except ImportError:
    at = None  # type: ignore[assignment]

__all__ = ["SchemaError", "node_for"]


class SchemaError(TypeError):
    """A type hint or its metadata that frostfork cannot turn into a validator."""


def node_for(hint: Any, *, where: str = "") -> Node:
    """The type tree for `hint`; `where` (e.g. "create_user.user") prefixes error messages."""
    return _Builder().build(hint, where)


_SCALARS: dict[Any, str] = {
    str: tn.STR, int: tn.INT, float: tn.FLOAT, bool: tn.BOOL, bytes: tn.BYTES,
    None: tn.NONE, type(None): tn.NONE, Any: tn.ANY,
    datetime.datetime: tn.DATETIME, datetime.date: tn.DATE, datetime.time: tn.TIME,
    uuid.UUID: tn.UUID, decimal.Decimal: tn.DECIMAL,
}

_ARRAYS: dict[Any, str] = {list: tn.LIST, set: tn.SET, frozenset: tn.FROZENSET}

# Containers without parameters hold Any.
_BARE: dict[Any, Any] = {
    list: list[Any], set: set[Any], frozenset: frozenset[Any], tuple: tuple[Any, ...],
    dict: dict[str, Any], typing.List: list[Any], typing.Set: set[Any],
    typing.FrozenSet: frozenset[Any], typing.Tuple: tuple[Any, ...], typing.Dict: dict[str, Any],
}

_NUMERIC_KINDS = (tn.INT, tn.FLOAT, tn.DECIMAL)
_LENGTH_KINDS = (tn.STR, tn.BYTES, tn.LIST, tn.TUPLE, tn.VARTUPLE, tn.SET, tn.FROZENSET, tn.DICT)
_APPLIES_TO = {
    "gt": _NUMERIC_KINDS, "ge": _NUMERIC_KINDS, "lt": _NUMERIC_KINDS, "le": _NUMERIC_KINDS,
    "multiple_of": _NUMERIC_KINDS,
    "min_len": _LENGTH_KINDS, "max_len": _LENGTH_KINDS,
    "pattern": (tn.STR,),
}
_APPLIES_TO_TEXT = {
    _NUMERIC_KINDS: "int, float, Decimal",
    _LENGTH_KINDS: "str, bytes, list, tuple, set, frozenset, dict",
    (tn.STR,): "str",
}

_KIND_NAMES = {
    tn.ANY: "Any", tn.NONE: "None", tn.BOOL: "bool", tn.INT: "int", tn.FLOAT: "float",
    tn.STR: "str", tn.BYTES: "bytes", tn.DATETIME: "datetime", tn.DATE: "date",
    tn.TIME: "time", tn.UUID: "UUID", tn.DECIMAL: "Decimal", tn.LIST: "list", tn.SET: "set",
    tn.FROZENSET: "frozenset", tn.VARTUPLE: "tuple", tn.TUPLE: "tuple", tn.DICT: "dict",
    tn.UNION: "Union", tn.LITERAL: "Literal",
}

# How a new bound combines with one already there: the tighter wins.
_TIGHTEN = {"gt": max, "ge": max, "lt": min, "le": min, "min_len": max, "max_len": min}


# Metadata class → (Node.constraints key, attribute holding the value).
_READERS: dict[type, tuple[str, str]] = {
    ff.Gt: ("gt", "gt"), ff.Ge: ("ge", "ge"), ff.Lt: ("lt", "lt"), ff.Le: ("le", "le"),
    ff.MultipleOf: ("multiple_of", "multiple_of"),
    ff.MinLen: ("min_len", "min_length"), ff.MaxLen: ("max_len", "max_length"),
    ff.Pattern: ("pattern", "pattern"),
}
_DOC_CLASSES: tuple[type, ...] = (ff.Title, ff.Description, ff.Examples)

if at is not None:
    _READERS.update({
        at.Gt: ("gt", "gt"), at.Ge: ("ge", "ge"), at.Lt: ("lt", "lt"), at.Le: ("le", "le"),
        at.MultipleOf: ("multiple_of", "multiple_of"),
        at.MinLen: ("min_len", "min_length"), at.MaxLen: ("max_len", "max_length"),
    })
    if hasattr(at, "Doc"):  # PEP 727 Doc: a description (not in every version)
        _DOC_CLASSES += (getattr(at, "Doc"),)


_FieldReader = Callable[[type, dict[str, Any]], list[Field]]


class _Builder:
    """One tree's construction: remembers model nodes by class so recursion closes."""

    def __init__(self) -> None:
        self.models: dict[type, Node] = {}
        self.model_copies: list[tuple[Node, Node]] = []

    def build(self, hint: Any, where: str) -> Node:
        """The root node, with model copies given their (by now complete) fields."""
        root = self.node(hint, where)
        for copy, original in self.model_copies:
            copy.fields, copy.late, copy.post_init = (original.fields, original.late,
                                                      original.post_init)
        return root

    def node(self, hint: Any, where: str) -> Node:
        """Dispatches on the shape of the hint."""
        origin = typing.get_origin(hint)
        if origin is Annotated:
            return self.annotated(hint, where)
        if origin in (Required, NotRequired):
            return self.node(typing.get_args(hint)[0], where)
        if _is_hashable(hint) and hint in _SCALARS:
            return Node(_SCALARS[hint])
        if _is_hashable(hint) and hint in _BARE:
            return self.node(_BARE[hint], where)
        if origin in (Union, types.UnionType):
            return self.union(typing.get_args(hint), where)
        if origin is Literal:
            return _literal(typing.get_args(hint), where)
        if origin is not None:
            return self.container(origin, typing.get_args(hint), where)
        if hasattr(hint, "__supertype__"):  # typing.NewType
            return self.node(hint.__supertype__, where)
        if isinstance(hint, type):
            return self.class_node(hint, where)
        raise SchemaError(f"{_at(where)}unsupported type {hint!r}")

    def annotated(self, hint: Any, where: str) -> Node:
        """The underlying type's node with the metadata applied to it."""
        node = self.node(hint.__origin__, where)
        for item in _flatten_metadata(hint.__metadata__):
            node = self.apply(node, item, where)
        return node

    def apply(self, node: Node, item: Any, where: str) -> Node:
        """One metadata object on `node`; returns the node to keep (a copy for models)."""
        if type(item) in _READERS:
            key, attribute = _READERS[type(item)]
            _constrain(node, key, getattr(item, attribute), type(item).__name__, where)
            return node
        if isinstance(item, ff.Sensitive):
            return self.mark_sensitive(node)
        if isinstance(item, _DOC_CLASSES):
            node = self.own(node)
            _document(node, item)
        return node

    def mark_sensitive(self, node: Node) -> Node:
        """A secret union is secret whichever option matches."""
        node = self.own(node)
        node.sensitive = True
        if node.kind == tn.UNION:
            node.args = tuple(self.mark_sensitive(option) for option in node.args)
        return node

    def own(self, node: Node) -> Node:
        """A node safe to change: model nodes are shared, so they are copied."""
        if node.kind != tn.MODEL:
            return node
        copy = dataclasses.replace(node, constraints={})
        self.model_copies.append((copy, node))
        return copy

    def union(self, options: tuple[Any, ...], where: str) -> Node:
        """Nested unions flattened; None at most once, and last."""
        nodes: list[Node] = []
        for option in options:
            node = self.node(option, where)
            nodes.extend(node.args if node.kind == tn.UNION else (node,))
        others = [n for n in nodes if n.kind != tn.NONE]
        nones = [n for n in nodes if n.kind == tn.NONE][:1]
        return Node(tn.UNION, args=tuple(others + nones))

    def container(self, origin: Any, args: tuple[Any, ...], where: str) -> Node:
        """list / set / frozenset / tuple / dict; other generics are unsupported."""
        if origin in _ARRAYS:
            return Node(_ARRAYS[origin], args=(self.node(args[0], where),))
        if origin is tuple:
            return self.tuple_node(args, where)
        if origin is dict:
            return self.dict_node(args, where)
        raise SchemaError(f"{_at(where)}unsupported type {_name(origin)}")

    def tuple_node(self, args: tuple[Any, ...], where: str) -> Node:
        """tuple[T, ...] is any length of T; tuple[A, B] is exactly those (tuple[()]: none)."""
        if len(args) == 2 and args[1] is Ellipsis:
            return Node(tn.VARTUPLE, args=(self.node(args[0], where),))
        return Node(tn.TUPLE, args=tuple(self.node(a, where) for a in args))

    def dict_node(self, args: tuple[Any, ...], where: str) -> Node:
        """JSON object keys are strings, so dict keys must be plain str."""
        key, value = args
        if key is not str:
            raise SchemaError(f"{_at(where)}dict keys must be str, not {_name(key)}")
        return Node(tn.DICT, args=(self.node(value, where),))

    def class_node(self, cls: type, where: str) -> Node:
        """Enums and the three model flavours; any other class is unsupported."""
        if issubclass(cls, enum.Enum):
            return _enum(cls, where)
        if cls in self.models:
            return self.models[cls]
        if getattr(cls, "__frostfork_model__", False) is True:  # first: it may also be a dataclass
            return self.model(cls, tn.MODEL_FROSTFORK, self.frostfork_fields,
                              forbid_extra=bool(getattr(cls, "__forbid_extra__", False)))
        if dataclasses.is_dataclass(cls):
            node = self.model(cls, tn.MODEL_DATACLASS, self.dataclass_fields)
            node.late = tuple(self.dataclass_late_fields(cls))
            node.post_init = callable(getattr(cls, "__post_init__", None))
            return node
        if _is_typeddict(cls):
            return self.model(cls, tn.MODEL_TYPEDDICT, self.typeddict_fields)
        raise SchemaError(f"{_at(where)}unsupported type {_name(cls)} (not a dataclass, "
                          "TypedDict, Enum or frostfork.Model)")

    def model(self, cls: type, model_kind: str, read_fields: _FieldReader,
              forbid_extra: bool = False) -> Node:
        """Registers the node before reading fields, so a field naming `cls` finds it."""
        node = Node(tn.MODEL, cls=cls, model_kind=model_kind, forbid_extra=forbid_extra)
        self.models[cls] = node
        node.fields = tuple(read_fields(cls, _type_hints(cls)))
        return node

    def dataclass_fields(self, cls: type, hints: dict[str, Any]) -> list[Field]:
        """Fields the constructor takes (init=False ones cannot be passed in)."""
        return [
            Field(f.name, self.node(hints[f.name], f"{cls.__name__}.{f.name}"),
                  default=tn.MISSING if f.default is dataclasses.MISSING else f.default,
                  default_factory=None if f.default_factory is dataclasses.MISSING
                  else f.default_factory)
            for f in dataclasses.fields(cls) if f.init
        ]

    def dataclass_late_fields(self, cls: type) -> list[Field]:
        """The init=False fields: never read from the input; the decoder sets those
        __init__ sets (after the others), and the encoder writes them. InitVar
        pseudo-fields are refused: the input has no place for __post_init__'s
        arguments."""
        initvar = getattr(dataclasses, "_FIELD_INITVAR", None)
        for f in getattr(cls, "__dataclass_fields__", {}).values():
            if initvar is not None and getattr(f, "_field_type", None) is initvar:
                raise SchemaError(f"{cls.__name__}.{f.name}: InitVar fields are not supported "
                                  "(decoding cannot pass them to __post_init__)")
        hints = _type_hints(cls)
        slots = "__slots__" in cls.__dict__
        out = []
        for f in dataclasses.fields(cls):
            if f.init:
                continue
            # __init__ sets such a field when it has a factory, or a plain default on
            # a slots class; otherwise the class attribute holds the default, and so
            # does nothing on the instance here
            default = f.default if slots else dataclasses.MISSING
            try:  # its type only says whether it is Sensitive: nothing is validated
                node = self.node(hints[f.name], f"{cls.__name__}.{f.name}")
            except (SchemaError, TypeError, KeyError):
                node = tn.Node(tn.ANY)
            out.append(Field(f.name, node,
                             default=tn.MISSING if default is dataclasses.MISSING else default,
                             default_factory=None if f.default_factory is dataclasses.MISSING
                             else f.default_factory))
        return out

    def typeddict_fields(self, cls: type, hints: dict[str, Any]) -> list[Field]:
        """Keys that are not required may be absent (optional_key), with no default."""
        return [Field(name, self.node(hint, f"{cls.__name__}.{name}"),
                      optional_key=not _typeddict_requires(cls, name, hint))
                for name, hint in hints.items()]

    def frostfork_fields(self, cls: type, hints: dict[str, Any]) -> list[Field]:
        """Public annotated attributes, defaults from the class's two tables."""
        defaults = getattr(cls, "__frostfork_defaults__", {})
        factories = getattr(cls, "__frostfork_factories__", {})
        return [
            Field(name, self.node(hint, f"{cls.__name__}.{name}"),
                  default=defaults.get(name, tn.MISSING), default_factory=factories.get(name))
            for name, hint in hints.items()
            if not name.startswith("_") and not _is_classvar(hint)
        ]


def _at(where: str) -> str:
    """The message prefix naming the place, or nothing when unknown."""
    return f"{where}: " if where else ""


def _name(hint: Any) -> str:
    """A type's short name for messages."""
    return getattr(hint, "__name__", None) or repr(hint)


def _describe(node: Node) -> str:
    """What a node is, in the words a user wrote it with."""
    if node.kind in (tn.MODEL, tn.ENUM):
        return node.cls.__name__  # type: ignore[union-attr]
    return _KIND_NAMES[node.kind]


def _is_hashable(hint: Any) -> bool:
    """Some hints (e.g. Literal of a list) are unhashable and skip the dict lookups."""
    try:
        hash(hint)
    except TypeError:
        return False
    return True


def _is_typeddict(cls: type) -> bool:
    """typing's and typing_extensions' TypedDicts both (is_typeddict knows only one)."""
    return issubclass(cls, dict) and hasattr(cls, "__required_keys__")


def _typeddict_requires(cls: type, name: str, hint: Any) -> bool:
    """__required_keys__, unless the resolved hint says Required / NotRequired: string
    annotations (`from __future__ import annotations`) hide those from the class."""
    origin = typing.get_origin(hint)
    if origin in (Required, NotRequired):
        return origin is Required
    return name in cls.__required_keys__  # type: ignore[attr-defined]


def _is_classvar(hint: Any) -> bool:
    """ClassVar and ClassVar[T] are class attributes, not fields."""
    return hint is ClassVar or typing.get_origin(hint) is ClassVar


def _type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations (also string ones), the class itself visible for self-reference."""
    try:
        return typing.get_type_hints(cls, localns={cls.__name__: cls}, include_extras=True)
    except Exception as exc:  # NameError, TypeError, SyntaxError from evaluating strings
        raise SchemaError(f"{cls.__name__}: cannot resolve type hints: {exc}") from exc


def _flatten_metadata(items: typing.Iterable[Any]) -> typing.Iterator[Any]:
    """Grouped metadata (Interval, Len, ...) unpacked, recursively."""
    for item in items:
        if getattr(item, "__is_annotated_types_grouped_metadata__", False) is True:
            yield from _flatten_metadata(item)
        else:
            yield item


def _literal(values: tuple[Any, ...], where: str) -> Node:
    """Literal values must be JSON scalars the decoder can compare against."""
    for value in values:
        if value is not None and type(value) not in (str, int, bool):
            raise SchemaError(f"{_at(where)}Literal values must be str, int, bool or None, "
                              f"not {value!r}")
    return Node(tn.LITERAL, values=values)


def _enum(cls: type[enum.Enum], where: str) -> Node:
    """An Enum decodes from its members' values, so those must be JSON scalars."""
    values = tuple(member.value for member in cls)
    for value in values:
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise SchemaError(f"{_at(where)}{cls.__name__} values must be str, int, float, "
                              f"bool or None to come from JSON, not {value!r}")
    return Node(tn.ENUM, cls=cls, values=values)


def _constrain(node: Node, key: str, value: Any, label: str, where: str) -> None:
    """Checks that the constraint fits, then merges it into the node (or each union option)."""
    if node.kind == tn.UNION:
        for option in node.args:
            if option.kind != tn.NONE:
                _constrain(option, key, value, label, where)
        return
    kinds = _APPLIES_TO[key]
    if node.kind not in kinds:
        raise SchemaError(f"{_at(where)}{label} applies to {_APPLIES_TO_TEXT[kinds]} "
                          f"— not {_describe(node)}")
    _check_value(key, value, label, where)
    old = node.constraints.get(key)
    if old is None or old == value:
        node.constraints[key] = value
    elif key in _TIGHTEN:
        node.constraints[key] = _TIGHTEN[key](old, value)
    else:
        raise SchemaError(f"{_at(where)}two different {label} constraints ({old!r} and "
                          f"{value!r}) on one type")


def _check_value(key: str, value: Any, label: str, where: str) -> None:
    """Catches constraint values that could never be checked (wrong type, bad regex)."""
    if key == "pattern":
        if not isinstance(value, str):
            raise SchemaError(f"{_at(where)}{label} needs a regex string, not {value!r}")
        try:
            re.compile(value)
        except re.error as exc:
            raise SchemaError(f"{_at(where)}{label} {value!r} is not a valid regular "
                              f"expression: {exc}") from exc
    elif key in ("min_len", "max_len"):
        if type(value) is not int or value < 0:
            raise SchemaError(f"{_at(where)}{label} needs an int >= 0, not {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        raise SchemaError(f"{_at(where)}{label} needs a number, not {value!r}")
    elif key == "multiple_of" and not value > 0:
        raise SchemaError(f"{_at(where)}{label} needs a number > 0, not {value!r}")


def _document(node: Node, item: Any) -> None:
    """Title / Description / Examples (and PEP 727 Doc) go to the doc attributes."""
    if isinstance(item, ff.Title):
        node.title = item.title
    elif isinstance(item, ff.Examples):
        node.examples = node.examples + item.values
    elif isinstance(item, ff.Description):
        node.description = item.description
    else:
        node.description = item.documentation
