"""JSON Schema and OpenAPI output: valid documents that accept and reject what frostfork does."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, TypedDict

import annotated_types as at
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from frostfork.constraints import (Description, Examples, Ge, Gt, Le, Len, Lt, MaxLen, MinLen,
                                   MultipleOf, Pattern, Sensitive, Title)
from frostfork.openapi import ParamDoc, RouteDoc, json_schema, openapi_document
from frostfork.schema import node_for


class Role(enum.Enum):
    ADMIN = "admin"
    USER = "user"


class FakeModel:
    """Stands in for frostfork.model.Model."""

    __frostfork_model__ = True


@dataclass
class Address:
    street: Annotated[str, MinLen(1)]
    zip: Annotated[str, Pattern(r"^\d{5}$")]
    country: str = "DE"


@dataclass
class NewUser:
    name: Annotated[str, MinLen(3), MaxLen(32), Title("User name"), Examples("alice")]
    password: Annotated[str, MinLen(12), Sensitive()]
    age: Annotated[int, Ge(0), Le(150)]
    address: Annotated[Address, Description("where the user lives")]
    role: Role = Role.USER
    tags: Annotated[set[str], MaxLen(5)] = field(default_factory=set)
    score: Annotated[float, Gt(0), Lt(1), MultipleOf(0.25)] = 0.5


@dataclass
class UserOut:
    id: int
    name: str
    address: Address


class Settings(FakeModel):
    theme: Literal["dark", "light"]
    __forbid_extra__ = True


class Patch(TypedDict, total=False):
    name: str
    age: Annotated[int, at.Ge(0)]


@dataclass
class Tree:
    value: int
    children: list[Tree] = field(default_factory=list)


VALID_USER = {
    "name": "alice", "password": "correct horse battery", "age": 30,
    "address": {"street": "Main St 1", "zip": "10115"},
    "role": "admin", "tags": ["a", "b"], "score": 0.75,
}


def checked(hint: Any) -> Draft202012Validator:
    """A validator for hint's schema, after checking the schema itself is valid 2020-12."""
    schema = json_schema(hint)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("hint,expected", [
    (str, {"type": "string"}), (int, {"type": "integer"}), (float, {"type": "number"}),
    (bool, {"type": "boolean"}), (None, {"type": "null"}), (Any, {}),
    (bytes, {"type": "string", "contentEncoding": "base64"}),
    (datetime.datetime, {"type": "string", "format": "date-time"}),
    (datetime.date, {"type": "string", "format": "date"}),
    (datetime.time, {"type": "string", "format": "time"}),
    (uuid.UUID, {"type": "string", "format": "uuid"}),
    (decimal.Decimal, {"type": "string", "format": "decimal"}),
    (list[int], {"type": "array", "items": {"type": "integer"}}),
    (tuple[str, ...], {"type": "array", "items": {"type": "string"}}),
    (set[int], {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
    (frozenset[int], {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
    (tuple[int, str], {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                       "items": False, "minItems": 2, "maxItems": 2}),
    (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
    (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (Literal["x"], {"const": "x", "type": "string"}),
    (Literal[1, 2], {"enum": [1, 2], "type": "integer"}),
    (Literal["a", 1], {"enum": ["a", 1]}),
    (Role, {"title": "Role", "enum": ["admin", "user"], "type": "string"}),
])
def test_plain_schemas(hint, expected):
    schema = json_schema(hint)
    Draft202012Validator.check_schema(schema)
    assert schema == {"$schema": "https://json-schema.org/draft/2020-12/schema", **expected}


@pytest.mark.parametrize("hint,expected", [
    (Annotated[str, Len(2, 5), Pattern("^a")], {"minLength": 2, "maxLength": 5, "pattern": "^a"}),
    (Annotated[int, Gt(1), Lt(9)], {"exclusiveMinimum": 1, "exclusiveMaximum": 9}),
    (Annotated[float, Ge(0.5), Le(2), MultipleOf(0.5)],
     {"minimum": 0.5, "maximum": 2, "multipleOf": 0.5}),
    (Annotated[int, Ge(decimal.Decimal("2"))], {"minimum": 2}),
    (Annotated[list[int], MinLen(1), MaxLen(3)], {"minItems": 1, "maxItems": 3}),
    (Annotated[dict[str, int], MaxLen(4)], {"maxProperties": 4}),
    (Annotated[int, at.Interval(gt=0, le=10)], {"exclusiveMinimum": 0, "maximum": 10}),
])
def test_constraint_keywords(hint, expected):
    schema = json_schema(hint)
    Draft202012Validator.check_schema(schema)
    assert expected.items() <= schema.items()


def test_bounds_not_expressible_in_json_schema_are_left_out():
    assert "minimum" not in json_schema(Annotated[decimal.Decimal, Ge(0)])
    assert "minLength" not in json_schema(Annotated[bytes, MinLen(4)])


def test_sensitive_string_is_a_write_only_password():
    schema = json_schema(Annotated[str, MinLen(12), Sensitive()])
    assert schema["writeOnly"] is True and schema["format"] == "password"
    schema = json_schema(Annotated[Optional[str], Sensitive()])
    assert schema["writeOnly"] is True
    assert schema["anyOf"][0] == {"type": "string", "writeOnly": True, "format": "password"}
    assert json_schema(Annotated[int, Sensitive()]) == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "integer", "writeOnly": True}


def test_docs_and_examples():
    schema = json_schema(Annotated[datetime.date, Title("Birthday"), Description("d"),
                                   Examples(datetime.date(2000, 1, 2))])
    assert schema["title"] == "Birthday" and schema["description"] == "d"
    assert schema["examples"] == ["2000-01-02"]


def test_model_goes_to_defs_with_refs():
    schema = json_schema(NewUser)
    Draft202012Validator.check_schema(schema)
    assert schema["$ref"] == "#/$defs/NewUser"
    user = schema["$defs"]["NewUser"]
    assert user["required"] == ["name", "password", "age", "address"]
    assert user["properties"]["address"] == {"$ref": "#/$defs/Address",
                                             "description": "where the user lives"}
    assert user["properties"]["role"]["default"] == "user"
    assert user["properties"]["score"]["default"] == 0.5
    assert "default" not in user["properties"]["tags"]  # a factory
    assert user["properties"]["name"]["examples"] == ["alice"]
    assert schema["$defs"]["Address"]["properties"]["country"] == {"type": "string",
                                                                    "default": "DE"}


def test_model_instances():
    validator = checked(NewUser)
    assert validator.is_valid(VALID_USER)
    assert validator.is_valid({k: v for k, v in VALID_USER.items()
                               if k in ("name", "password", "age", "address")})


@pytest.mark.parametrize("change", [
    {"name": "al"}, {"name": "x" * 33}, {"password": "short"}, {"age": -1}, {"age": 151},
    {"age": "30"}, {"address": {"street": "", "zip": "10115"}},
    {"address": {"street": "s", "zip": "1011"}}, {"role": "root"}, {"tags": ["a", "a"]},
    {"tags": ["1", "2", "3", "4", "5", "6"]}, {"score": 0}, {"score": 1}, {"score": 0.3},
])
def test_model_rejects_each_constraint(change):
    assert not checked(NewUser).is_valid({**VALID_USER, **change})


def test_missing_required_field_is_rejected():
    instance = dict(VALID_USER)
    del instance["password"]
    assert not checked(NewUser).is_valid(instance)


def test_forbid_extra_and_literal():
    validator = checked(Settings)
    assert validator.is_valid({"theme": "dark"})
    assert not validator.is_valid({"theme": "dark", "font": "mono"})
    assert not validator.is_valid({"theme": "blue"})
    assert checked(NewUser).is_valid({**VALID_USER, "extra": 1})  # not forbidden there


def test_typeddict_optional_keys_are_not_required():
    schema = json_schema(Patch)
    assert "required" not in schema["$defs"]["Patch"]
    validator = checked(Patch)
    assert validator.is_valid({}) and validator.is_valid({"age": 3})
    assert not validator.is_valid({"age": -3})


def test_recursive_model():
    schema = json_schema(Tree)
    tree = schema["$defs"]["Tree"]
    assert tree["properties"]["children"]["items"] == {"$ref": "#/$defs/Tree"}
    validator = checked(Tree)
    assert validator.is_valid({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]})
    assert not validator.is_valid({"value": 1, "children": [{"value": "two"}]})


def test_node_and_hint_give_the_same_schema():
    assert json_schema(node_for(NewUser)) == json_schema(NewUser)


def test_same_class_name_twice_gets_distinct_defs():
    def make() -> type:
        @dataclass
        class Item:
            a: int
        return Item

    first, second = make(), make()
    schema = json_schema(tuple[first, second, first])
    assert [item["$ref"] for item in schema["prefixItems"]] == [
        "#/$defs/Item", "#/$defs/Item_2", "#/$defs/Item"]


# A realistic API: users with nested addresses, query/header/cookie/path parameters,
# and an endpoint without any input.
ROUTES = [
    RouteDoc(
        method="POST", path="/users", operation_id="create_user", summary="Create a user",
        description="Registers a new user.", params=[
            ParamDoc("X-Request-Id", "header", node_for(Annotated[str, MaxLen(64)]), False),
        ],
        body=node_for(NewUser), body_required=True, response=node_for(UserOut)),
    RouteDoc(
        method="GET", path="/users/{id}", operation_id="get_user", summary=None,
        description=None, params=[
            ParamDoc("id", "path", node_for(Annotated[int, Ge(1)]), True),
            ParamDoc("fields", "query",
                     node_for(Annotated[Optional[list[str]], Description("fields to return")]),
                     False),
            ParamDoc("session", "cookie", node_for(Annotated[str, Sensitive()]), False),
        ],
        body=None, body_required=False, response=node_for(UserOut)),
    RouteDoc(
        method="put", path="/users/{id}/settings", operation_id="put_settings", summary=None,
        description=None, params=[ParamDoc("id", "path", node_for(int), False)],
        body=node_for(Settings), body_required=True, response=None),
    RouteDoc(
        method="GET", path="/users", operation_id="list_users", summary="List users",
        description=None, params=[
            ParamDoc("limit", "query", node_for(Annotated[int, Ge(1), Le(100)]), False),
        ],
        body=None, body_required=False, response=node_for(list[UserOut])),
    RouteDoc(
        method="GET", path="/health", operation_id="health", summary=None, description=None,
        params=[], body=None, body_required=False, response=None),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document("Users", "1.2.3", ROUTES)


def test_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Users", "version": "1.2.3"}


def test_paths_and_methods(document):
    assert list(document["paths"]) == ["/users", "/users/{id}", "/users/{id}/settings", "/health"]
    assert set(document["paths"]["/users"]) == {"post", "get"}
    assert document["paths"]["/users/{id}/settings"]["put"]["operationId"] == "put_settings"


def test_models_are_shared_components(document):
    schemas = document["components"]["schemas"]
    assert set(schemas) == {"NewUser", "Address", "UserOut", "Settings",
                            "HTTPValidationError", "ValidationError"}
    post = document["paths"]["/users"]["post"]
    assert post["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewUser"}}}}
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UserOut"}
    assert schemas["UserOut"]["properties"]["address"] == {
        "$ref": "#/components/schemas/Address"}
    assert schemas["Settings"]["additionalProperties"] is False


def test_sensitive_password_and_constraints_in_components(document):
    user = document["components"]["schemas"]["NewUser"]["properties"]
    assert user["password"] == {"type": "string", "minLength": 12, "writeOnly": True,
                                "format": "password"}
    assert user["name"]["minLength"] == 3 and user["name"]["maxLength"] == 32
    assert user["age"]["minimum"] == 0 and user["age"]["maximum"] == 150
    assert user["tags"]["uniqueItems"] is True and user["tags"]["maxItems"] == 5
    address = document["components"]["schemas"]["Address"]["properties"]
    assert address["zip"]["pattern"] == r"^\d{5}$"


def test_parameters(document):
    get_user = document["paths"]["/users/{id}"]["get"]
    id_param, fields, session = get_user["parameters"]
    assert id_param == {"name": "id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}
    assert fields["description"] == "fields to return" and fields["required"] is False
    assert session["schema"]["writeOnly"] is True and session["in"] == "cookie"
    settings = document["paths"]["/users/{id}/settings"]["put"]
    assert settings["parameters"][0]["required"] is True  # path parameters always are


def test_validation_error_response(document):
    for path, method in [("/users", "post"), ("/users/{id}", "get"), ("/users", "get")]:
        response = document["paths"][path][method]["responses"]["422"]
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/HTTPValidationError"}
    assert "422" not in document["paths"]["/health"]["get"]["responses"]
    error = document["components"]["schemas"]["ValidationError"]
    assert set(error["properties"]) == {"type", "loc", "msg", "input"}
    assert error["required"] == ["loc", "msg", "type"]


def test_validation_error_body_matches_fastapi_shape(document):
    validator = component_validator(document, "HTTPValidationError")
    assert validator.is_valid({"detail": [
        {"type": "string_too_short", "loc": ["body", "name"], "msg": "too short", "input": "al"},
        {"type": "missing", "loc": ["body", "address", 0], "msg": "Field required"},
    ]})
    assert not validator.is_valid({"detail": [{"loc": ["body"], "msg": "no type"}]})


def test_component_schemas_validate_instances(document):
    validator = component_validator(document, "NewUser")
    assert validator.is_valid(VALID_USER)
    assert not validator.is_valid({**VALID_USER, "address": {"street": "x", "zip": "abc"}})


def test_no_models_no_components():
    document = openapi_document("Tiny", "0", [ROUTES[-1]])
    validate(document)
    assert "components" not in document


def test_user_model_named_like_the_error_schemas():
    @dataclass
    class ValidationError:
        reason: str

    route = RouteDoc("POST", "/check", "check", None, None, [], node_for(ValidationError),
                     True, None)
    document = openapi_document("Clash", "1", [route])
    validate(document)
    body = document["paths"]["/check"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/ValidationError_2"}
    assert "reason" in document["components"]["schemas"]["ValidationError_2"]["properties"]


def component_validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator for one component, resolving #/components/... refs against the document."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)
