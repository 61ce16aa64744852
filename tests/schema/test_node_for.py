"""node_for: every supported hint becomes the node the C compiler expects."""

from __future__ import annotations

import datetime
import decimal
import enum
import typing
import uuid
from dataclasses import dataclass, field
from typing import (Annotated, Any, ClassVar, Literal, NewType, NotRequired, Optional, Required,
                    TypedDict, Union)

import pytest

from frostfork import typenode as tn
from frostfork.constraints import Description, MinLen
from frostfork.schema import SchemaError, node_for


class FakeModel:
    """Stands in for frostfork.model.Model: only the marker the schema reader looks for."""

    __frostfork_model__ = True


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass
class Address:
    street: str
    city: str = "Berlin"


@dataclass
class Person:
    name: str
    address: Address
    tags: list[str] = field(default_factory=list)
    nickname: Optional[str] = None
    cached: int = field(default=0, init=False)
    LIMIT: ClassVar[int] = 3


@dataclass
class Tree:
    value: int
    children: list[Tree] = field(default_factory=list)
    parent: Optional[Tree] = None


@dataclass
class Ping:
    pong: Optional[Pong]


@dataclass
class Pong:
    ping: Ping


@dataclass
class Category:
    name: str
    best: Annotated[Category, Description("the best subcategory")] | None = None


class Movie(TypedDict):
    title: str
    year: int


class Draft(TypedDict, total=False):
    title: Required[str]
    notes: str


class Post(TypedDict):
    title: str
    subtitle: NotRequired[str]


class Account(FakeModel):
    id: int
    email: str
    role: str
    labels: list[str]
    registry: ClassVar[dict[str, int]] = {}
    _secret: str
    __forbid_extra__ = True
    __frostfork_defaults__ = {"role": "user"}
    __frostfork_factories__ = {"labels": list}


class Admin(Account):
    level: int


UserId = NewType("UserId", int)


@pytest.mark.parametrize("hint,kind", [
    (str, tn.STR), (int, tn.INT), (float, tn.FLOAT), (bool, tn.BOOL), (bytes, tn.BYTES),
    (None, tn.NONE), (type(None), tn.NONE), (Any, tn.ANY),
    (datetime.datetime, tn.DATETIME), (datetime.date, tn.DATE), (datetime.time, tn.TIME),
    (uuid.UUID, tn.UUID), (decimal.Decimal, tn.DECIMAL),
])
def test_scalars(hint, kind):
    node = node_for(hint)
    assert (node.kind, node.args, node.constraints) == (kind, (), {})


@pytest.mark.parametrize("hint,kind,item", [
    (list[int], tn.LIST, tn.INT), (set[str], tn.SET, tn.STR),
    (frozenset[bytes], tn.FROZENSET, tn.BYTES), (tuple[float, ...], tn.VARTUPLE, tn.FLOAT),
    (dict[str, bool], tn.DICT, tn.BOOL), (typing.List[int], tn.LIST, tn.INT),
    (typing.Dict[str, int], tn.DICT, tn.INT),
    (list, tn.LIST, tn.ANY), (dict, tn.DICT, tn.ANY), (tuple, tn.VARTUPLE, tn.ANY),
    (set, tn.SET, tn.ANY), (frozenset, tn.FROZENSET, tn.ANY), (typing.Tuple, tn.VARTUPLE, tn.ANY),
    (typing.List, tn.LIST, tn.ANY),
])
def test_one_argument_containers(hint, kind, item):
    node = node_for(hint)
    assert node.kind == kind
    assert [a.kind for a in node.args] == [item]


def test_fixed_tuple():
    node = node_for(tuple[int, str, list[float]])
    assert node.kind == tn.TUPLE
    assert [a.kind for a in node.args] == [tn.INT, tn.STR, tn.LIST]
    assert node.args[2].args[0].kind == tn.FLOAT
    assert node_for(tuple[()]).args == ()


def test_nested_containers():
    node = node_for(dict[str, list[tuple[int, ...]]])
    assert node.args[0].kind == tn.LIST
    assert node.args[0].args[0].kind == tn.VARTUPLE
    assert node.args[0].args[0].args[0].kind == tn.INT


@pytest.mark.parametrize("key", [int, bytes, Annotated[str, MinLen(1)], Literal["a"]])
def test_dict_keys_must_be_str(key):
    with pytest.raises(SchemaError, match="handler.body: dict keys must be str"):
        node_for(dict[key, int], where="handler.body")


@pytest.mark.parametrize("hint", [
    Optional[int], Union[int, None], int | None, None | int, Union[None, int],
])
def test_optional_puts_none_last(hint):
    node = node_for(hint)
    assert node.kind == tn.UNION
    assert [a.kind for a in node.args] == [tn.INT, tn.NONE]


def test_union_keeps_declaration_order():
    node = node_for(Union[str, None, int, list[int]])
    assert [a.kind for a in node.args] == [tn.STR, tn.INT, tn.LIST, tn.NONE]


def test_nested_unions_flatten_with_one_none():
    inner = Annotated[Optional[int], Description("inner")]
    node = node_for(Union[inner, str, None])
    assert [a.kind for a in node.args] == [tn.INT, tn.STR, tn.NONE]
    node = node_for(Optional[Annotated[Union[bytes, float], Description("d")]] | str)
    assert [a.kind for a in node.args] == [tn.BYTES, tn.FLOAT, tn.STR, tn.NONE]


def test_literal():
    node = node_for(Literal["a", 1, True, None])
    assert node.kind == tn.LITERAL
    assert node.values == ("a", 1, True, None)


@pytest.mark.parametrize("value", [Color.RED, b"x", 1.5])
def test_literal_values_must_be_json_scalars(value):
    with pytest.raises(SchemaError, match="Literal values must be"):
        node_for(Literal[value])


def test_enum():
    node = node_for(Color)
    assert (node.kind, node.cls, node.values) == (tn.ENUM, Color, ("red", "green"))
    assert node_for(Level).values == (1, 2)


def test_enum_values_must_come_from_json():
    class Point(enum.Enum):
        ORIGIN = (0, 0)

    with pytest.raises(SchemaError, match=r"where: Point values must be .* not \(0, 0\)"):
        node_for(Point, where="where")


def test_newtype_is_its_supertype():
    assert node_for(UserId).kind == tn.INT
    assert node_for(list[UserId]).args[0].kind == tn.INT


def test_dataclass_fields_in_order_with_defaults():
    node = node_for(Person)
    assert (node.kind, node.cls, node.model_kind) == (tn.MODEL, Person, tn.MODEL_DATACLASS)
    assert [f.name for f in node.fields] == ["name", "address", "tags", "nickname"]
    name, address, tags, nickname = node.fields
    assert name.required and name.default is tn.MISSING and name.default_factory is None
    assert address.node.kind == tn.MODEL and address.node.cls is Address
    assert [f.name for f in address.node.fields] == ["street", "city"]
    assert address.node.fields[1].default == "Berlin"
    assert tags.default_factory is list and not tags.required
    assert nickname.default is None and not nickname.required
    assert nickname.node.kind == tn.UNION


def test_typeddict():
    node = node_for(Movie)
    assert (node.kind, node.model_kind) == (tn.MODEL, tn.MODEL_TYPEDDICT)
    assert [(f.name, f.node.kind, f.required) for f in node.fields] == [
        ("title", tn.STR, True), ("year", tn.INT, True)]


def test_typeddict_keys_that_may_be_absent():
    draft = node_for(Draft)
    assert [(f.name, f.required, f.optional_key) for f in draft.fields] == [
        ("title", True, False), ("notes", False, True)]
    assert all(f.default is tn.MISSING and f.default_factory is None for f in draft.fields)
    post = node_for(Post)
    assert [(f.name, f.node.kind, f.required) for f in post.fields] == [
        ("title", tn.STR, True), ("subtitle", tn.STR, False)]


def test_frostfork_model():
    node = node_for(Account)
    assert (node.kind, node.cls, node.model_kind) == (tn.MODEL, Account, tn.MODEL_FROSTFORK)
    assert node.forbid_extra is True
    assert [f.name for f in node.fields] == ["id", "email", "role", "labels"]
    ident, email, role, labels = node.fields
    assert ident.required and email.required
    assert role.default == "user" and not role.required
    assert labels.default_factory is list and labels.node.kind == tn.LIST


def test_frostfork_model_inherits_fields_base_first():
    node = node_for(Admin)
    assert [f.name for f in node.fields] == ["id", "email", "role", "labels", "level"]


def test_frostfork_model_needs_marker_true():
    class Lookalike:
        __frostfork_model__ = "yes"
        x: int

    with pytest.raises(SchemaError, match="unsupported type Lookalike"):
        node_for(Lookalike)


def test_frostfork_marker_wins_over_dataclass():
    @dataclass
    class Both(FakeModel):
        x: int

    assert node_for(Both).model_kind == tn.MODEL_FROSTFORK


def test_forbid_extra_defaults_to_false():
    class Loose(FakeModel):
        x: int

    assert node_for(Loose).forbid_extra is False


def test_recursive_model_is_a_cycle():
    node = node_for(Tree)
    value, children, parent = node.fields
    assert children.node.args[0] is node
    assert parent.node.args[0] is node
    assert value.node.kind == tn.INT


def test_mutually_recursive_models():
    ping = node_for(Ping)
    pong = ping.fields[0].node.args[0]
    assert pong.cls is Pong
    assert pong.fields[0].node is ping


def test_one_node_per_model_class_in_a_tree():
    node = node_for(tuple[Address, list[Address], dict[str, Address]])
    first = node.args[0]
    assert node.args[1].args[0] is first
    assert node.args[2].args[0] is first


def test_metadata_on_a_model_reference_copies_the_node():
    node = node_for(Category)
    best = node.fields[1].node.args[0]
    assert best.cls is Category and best is not node
    assert best.description == "the best subcategory"
    assert best.fields is node.fields  # filled in once Category was complete
    assert node.description is None


def test_where_is_the_field_that_failed():
    @dataclass
    class Holder:
        value: complex

    with pytest.raises(SchemaError) as info:
        node_for(list[Holder], where="ignored for fields")
    assert str(info.value).startswith("Holder.value: unsupported type complex")


@pytest.mark.parametrize("hint,message", [
    (complex, "route.x: unsupported type complex"),
    (object, "route.x: unsupported type object"),
    (typing.Callable[[int], int], "route.x: unsupported type Callable"),
    ("Forward", "route.x: unsupported type 'Forward'"),
])
def test_unsupported_types(hint, message):
    with pytest.raises(SchemaError) as info:
        node_for(hint, where="route.x")
    assert str(info.value).startswith(message)


def test_random_class_is_unsupported():
    class Plain:
        x: int

    with pytest.raises(SchemaError, match="unsupported type Plain .*dataclass, TypedDict, Enum"):
        node_for(Plain)


def test_without_where_there_is_no_prefix():
    with pytest.raises(SchemaError, match="^unsupported type complex"):
        node_for(complex)


def test_unresolvable_forward_reference():
    @dataclass
    class Dangling:
        other: Missing  # noqa: F821

    with pytest.raises(SchemaError, match="Dangling: cannot resolve type hints"):
        node_for(Dangling)


def test_schema_error_is_a_type_error():
    assert issubclass(SchemaError, TypeError)


def test_trees_are_built_fresh_each_call():
    assert node_for(Person) is not node_for(Person)
