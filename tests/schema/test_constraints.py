"""The constraint vocabulary, annotated-types compatibility, and where constraints may go."""

from __future__ import annotations

import dataclasses
import decimal
import subprocess
import sys
from dataclasses import dataclass
from typing import Annotated, Iterator, Optional

import annotated_types as at
import pytest

from frostfork import constraints as ff
from frostfork import typenode as tn
from frostfork.schema import SchemaError, node_for


@dataclass
class Header:
    """Like the binding metadata the app layer defines: not a constraint, so ignored."""

    name: str


@dataclass
class NewUser:
    age: int


@pytest.mark.parametrize("item,expected", [
    (ff.Gt(1), {"gt": 1}), (ff.Ge(1), {"ge": 1}), (ff.Lt(1), {"lt": 1}), (ff.Le(1), {"le": 1}),
    (ff.MultipleOf(5), {"multiple_of": 5}),
])
def test_numeric_constraints(item, expected):
    for base in (int, float, decimal.Decimal):
        assert node_for(Annotated[base, item]).constraints == expected


@pytest.mark.parametrize("item,expected", [
    (ff.MinLen(2), {"min_len": 2}), (ff.MaxLen(9), {"max_len": 9}),
    (ff.Len(2, 9), {"min_len": 2, "max_len": 9}), (ff.Len(2), {"min_len": 2}),
    (ff.Len(0, 9), {"max_len": 9}),
])
def test_length_constraints(item, expected):
    for base in (str, bytes, list[int], tuple[int, ...], tuple[int, int], set[int],
                 frozenset[int], dict[str, int]):
        assert node_for(Annotated[base, item]).constraints == expected


def test_pattern():
    node = node_for(Annotated[str, ff.Pattern(r"^[a-z]+$")])
    assert node.constraints == {"pattern": r"^[a-z]+$"}


def test_constraints_are_small_frozen_values():
    assert ff.MinLen(3) == ff.MinLen(3) and hash(ff.Gt(1)) == hash(ff.Gt(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ff.MinLen(3).min_length = 4  # type: ignore[misc]
    for cls in (ff.Gt, ff.MinLen, ff.Len, ff.Pattern, ff.Sensitive, ff.Examples):
        assert "__slots__" in vars(cls) and cls.__doc__
    assert ff.Examples(1, "two").values == (1, "two")
    assert list(ff.Len(1, 4)) == [ff.MinLen(1), ff.MaxLen(4)]


def test_docs():
    node = node_for(Annotated[int, ff.Title("Age"), ff.Description("in years"),
                              ff.Examples(30, 40), ff.Examples(50)])
    assert (node.title, node.description, node.examples) == ("Age", "in years", (30, 40, 50))


def test_sensitive():
    assert node_for(Annotated[str, ff.Sensitive()]).sensitive
    assert not node_for(str).sensitive


def test_sensitive_union_marks_every_option():
    node = node_for(Annotated[Optional[str], ff.Sensitive()])
    assert node.sensitive and all(option.sensitive for option in node.args)


def test_sensitive_model_reference_leaves_the_shared_node_alone():
    node = node_for(tuple[NewUser, Annotated[NewUser, ff.Sensitive()]])
    plain, secret = node.args
    assert secret.sensitive and not plain.sensitive
    assert secret.fields is plain.fields


def test_optional_keeps_constraint_on_the_str_node():
    node = node_for(Optional[Annotated[str, ff.MinLen(3)]])
    assert node.constraints == {}
    assert node.args[0].constraints == {"min_len": 3}


def test_constraint_on_a_union_goes_to_its_options():
    node = node_for(Annotated[str | bytes | None, ff.MaxLen(8)])
    assert [o.constraints for o in node.args] == [{"max_len": 8}, {"max_len": 8}, {}]


def test_constraint_on_a_union_must_fit_every_option():
    with pytest.raises(SchemaError, match="f: MinLen applies to .* — not int"):
        node_for(Annotated[str | int, ff.MinLen(3)], where="f")


def test_nested_annotated_merges_and_tightens():
    Positive = Annotated[int, ff.Gt(0), ff.Le(100)]
    node = node_for(Annotated[Positive, ff.Gt(-5), ff.Le(10), ff.Title("t")])
    assert node.constraints == {"gt": 0, "le": 10}
    assert node.title == "t"
    Short = Optional[Annotated[str, ff.MaxLen(10), ff.MinLen(1)]]
    node = node_for(Annotated[Short, ff.MaxLen(20), ff.MinLen(2)])
    assert node.args[0].constraints == {"max_len": 10, "min_len": 2}


def test_same_pattern_twice_is_fine_different_ones_are_not():
    Slug = Annotated[str, ff.Pattern("^[a-z]+$")]
    assert node_for(Annotated[Slug, ff.Pattern("^[a-z]+$")]).constraints == {"pattern": "^[a-z]+$"}
    with pytest.raises(SchemaError, match="two different Pattern constraints"):
        node_for(Annotated[Slug, ff.Pattern("^x")])
    with pytest.raises(SchemaError, match="two different MultipleOf constraints"):
        node_for(Annotated[int, ff.MultipleOf(2), ff.MultipleOf(3)])


def test_unknown_metadata_is_ignored():
    node = node_for(Annotated[str, Header("X-Request-Id"), "a string", 42, object(),
                              at.Predicate(str.isupper), ff.MinLen(1)])
    assert node.kind == tn.STR and node.constraints == {"min_len": 1}


# pydantic's constrained-type aliases, written with annotated-types as pydantic documents them.
PositiveInt = Annotated[int, at.Gt(0)]
NonNegativeFloat = Annotated[float, at.Ge(0)]
NegativeInt = Annotated[int, at.Lt(0)]
NonPositiveInt = Annotated[int, at.Le(0)]
Percent = Annotated[float, at.Interval(ge=0, le=100)]
Even = Annotated[int, at.MultipleOf(2)]
ShortStr = Annotated[str, at.Len(1, 16)]
Tags = Annotated[list[str], at.MinLen(1), at.MaxLen(5)]


@pytest.mark.parametrize("hint,expected", [
    (PositiveInt, {"gt": 0}), (NonNegativeFloat, {"ge": 0}), (NegativeInt, {"lt": 0}),
    (NonPositiveInt, {"le": 0}), (Percent, {"ge": 0, "le": 100}), (Even, {"multiple_of": 2}),
    (ShortStr, {"min_len": 1, "max_len": 16}), (Tags, {"min_len": 1, "max_len": 5}),
    (Annotated[int, at.Interval(gt=1, lt=9)], {"gt": 1, "lt": 9}),
    (Annotated[str, at.Len(0)], {}), (Annotated[str, at.Len(2)], {"min_len": 2}),
])
def test_annotated_types_constraints(hint, expected):
    assert node_for(hint).constraints == expected


def test_annotated_types_and_frostfork_mix():
    node = node_for(Annotated[PositiveInt, ff.Le(10), at.Ge(3)])
    assert node.constraints == {"gt": 0, "le": 10, "ge": 3}


def test_annotated_types_predicates_and_units_are_ignored():
    assert node_for(at.LowerCase[str]).constraints == {}
    assert node_for(at.IsFinite[float]).kind == tn.FLOAT
    assert node_for(Annotated[float, at.Unit("m/s")]).constraints == {}


def test_annotated_types_doc_is_a_description():
    assert node_for(Annotated[int, at.doc("how many")]).description == "how many"


def test_any_grouped_metadata_is_unpacked():
    @dataclass(frozen=True)
    class FieldInfo(at.GroupedMetadata):
        gt: int
        max_length: int

        def __iter__(self) -> Iterator[object]:
            yield at.Gt(self.gt)
            yield ff.Description("from a group")

    node = node_for(Annotated[int, FieldInfo(gt=4, max_length=9)])
    assert node.constraints == {"gt": 4}
    assert node.description == "from a group"


def test_annotated_types_errors_name_the_field():
    @dataclass
    class Form:
        name: Annotated[str, at.Gt(3)]

    with pytest.raises(SchemaError) as info:
        node_for(Form)
    assert str(info.value) == "Form.name: Gt applies to int, float, Decimal — not str"


def test_length_on_int_names_the_field():
    @dataclass
    class NewUser:
        age: Annotated[int, ff.MinLen(3)]

    with pytest.raises(SchemaError) as info:
        node_for(NewUser)
    assert str(info.value) == ("NewUser.age: MinLen applies to str, bytes, list, tuple, set, "
                               "frozenset, dict — not int")


@pytest.mark.parametrize("hint,message", [
    (Annotated[str, ff.Ge(0)], "Ge applies to int, float, Decimal — not str"),
    (Annotated[bool, ff.Le(1)], "Le applies to int, float, Decimal — not bool"),
    (Annotated[int, ff.Pattern("x")], "Pattern applies to str — not int"),
    (Annotated[bytes, ff.Pattern("x")], "Pattern applies to str — not bytes"),
    (Annotated[NewUser, ff.MaxLen(3)], "MaxLen applies to .* — not NewUser"),
    (Annotated[Optional[float], ff.MinLen(1)], "MinLen applies to .* — not float"),
    (Annotated[decimal.Decimal, ff.Len(1)], "MinLen applies to .* — not Decimal"),
    (Annotated[list[int], ff.Gt(0)], "Gt applies to int, float, Decimal — not list"),
    (Annotated[None, ff.Gt(0)], "Gt applies to int, float, Decimal — not None"),
])
def test_constraint_that_cannot_apply(hint, message):
    with pytest.raises(SchemaError, match=f"^route.arg: {message}$"):
        node_for(hint, where="route.arg")


@pytest.mark.parametrize("item,message", [
    (ff.Pattern("(unclosed"), "Pattern '\\(unclosed' is not a valid regular expression"),
    (ff.Pattern(5), "Pattern needs a regex string, not 5"),  # type: ignore[arg-type]
])
def test_bad_pattern(item, message):
    with pytest.raises(SchemaError, match=f"^x: {message}"):
        node_for(Annotated[str, item], where="x")


@pytest.mark.parametrize("item,message", [
    (ff.MinLen(-1), "MinLen needs an int >= 0, not -1"),
    (ff.MaxLen(2.5), "MaxLen needs an int >= 0, not 2.5"),  # type: ignore[arg-type]
    (ff.Gt("0"), "Gt needs a number, not '0'"),  # type: ignore[arg-type]
    (ff.Ge(None), "Ge needs a number, not None"),  # type: ignore[arg-type]
    (ff.MultipleOf(0), "MultipleOf needs a number > 0, not 0"),
])
def test_bad_constraint_values(item, message):
    base = str if isinstance(item, (ff.MinLen, ff.MaxLen)) else int
    with pytest.raises(SchemaError, match=f"^x: {message}$"):
        node_for(Annotated[base, item], where="x")


def test_decimal_bounds_stay_exact():
    node = node_for(Annotated[decimal.Decimal, ff.Ge(decimal.Decimal("0.01"))])
    assert node.constraints == {"ge": decimal.Decimal("0.01")}


def test_works_without_annotated_types():
    code = (
        "import sys; sys.modules['annotated_types'] = None\n"
        "from typing import Annotated\n"
        "from frostfork.constraints import Len\n"
        "from frostfork.schema import node_for\n"
        "print(node_for(Annotated[str, Len(1, 4)]).constraints)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "{'min_len': 1, 'max_len': 4}"
