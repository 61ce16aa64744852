"""The type tree → JSON Schema 2020-12 and OpenAPI 3.1 documents.

    json_schema(NewUser)                              # {"$ref": "#/$defs/NewUser", "$defs": ...}
    openapi_document("Users", "1.0", [RouteDoc(...)])  # {"openapi": "3.1.0", ...}

Representation choices (what the C decoder and encoder accept and write):
  - Decimal is a string, {"type": "string", "format": "decimal"}, so no precision
    is lost on the way through JavaScript clients. JSON Schema cannot bound a
    number held in a string, so numeric constraints on Decimal are not written.
  - bytes are base64 strings ("contentEncoding": "base64"); their length bounds
    count decoded bytes, which JSON Schema cannot express, so they are not written.
    Fixed tuples state their length with minItems = maxItems; bounds add nothing.
  - Models are named by class name ("$defs" / "components.schemas"); a second,
    different class with the same name gets "Name_2", and so on.
  - Metadata on a model reference (a description, Sensitive) sits next to "$ref".
  - Sensitive is "writeOnly": true, plus "format": "password" on strings.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import enum
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast

from frostfork import typenode as tn
from frostfork.schema import node_for
from frostfork.typenode import Field, Node

__all__ = ["ParamDoc", "RouteDoc", "json_schema", "openapi_document"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass
class ParamDoc:
    """One parameter read from the request line or headers."""

    name: str
    location: str  # "path" | "query" | "header" | "cookie" | "form" (a body field)
    node: Node | None  # None for a file
    required: bool
    kind: str = "value"  # form only: "value", "file" (UploadFile) or "model" (the whole form)
    is_list: bool = False  # a file parameter taking every file sent under the name


@dataclass
class RouteDoc:
    """What the OpenAPI document says about one route (built by the app at registration)."""

    method: str
    path: str  # a template such as "/users/{id}"
    operation_id: str
    summary: str | None
    description: str | None
    params: list[ParamDoc]
    body: Node | None
    body_required: bool
    response: Node | None
    status_code: int = 200
    tags: list[str] = field(default_factory=list)
    deprecated: bool = False
    # more responses: status -> {"description": str, "node": Node | None, ...Response Object}
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    # security schemes read (frostfork.security); each also lands in components
    security: list[Any] = field(default_factory=list)


def json_schema(hint_or_node: Any) -> dict[str, Any]:
    """A standalone JSON Schema 2020-12 document; models go to "$defs"."""
    node = hint_or_node if isinstance(hint_or_node, Node) else node_for(hint_or_node)
    writer = _SchemaWriter("#/$defs/")
    schema = {"$schema": DIALECT, **writer.schema(node)}
    if writer.defs:
        schema["$defs"] = writer.defs
    return schema


def openapi_document(title: str, version: str, routes: list[RouteDoc]) -> dict[str, Any]:
    """An OpenAPI 3.1.0 document; models shared by routes appear once in components."""
    writer = _SchemaWriter("#/components/schemas/", reserved=_VALIDATION_SCHEMAS)
    paths: dict[str, dict[str, Any]] = {}
    schemes: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, writer)
        for scheme in route.security:
            _add_scheme(schemes, scheme)
    schemas = dict(writer.defs)
    if any(_validates(route) for route in routes):
        schemas.update(_VALIDATION_SCHEMAS)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
    }
    components: dict[str, Any] = {}
    if schemas:
        components["schemas"] = schemas
    if schemes:
        components["securitySchemes"] = schemes
    if components:
        document["components"] = components
    return document


def _add_scheme(schemes: dict[str, dict[str, Any]], scheme: Any) -> None:
    """Two different schemes may not share a name: the routes' security lists
    refer to them by it."""
    name, spec = scheme.scheme_name, scheme.openapi()
    if schemes.setdefault(name, spec) != spec:
        raise ValueError(f"two different security schemes are named {name!r}: "
                         f"give one a scheme_name=")


# FastAPI's 422 body, so clients written against FastAPI read frostfork's errors unchanged.
# "input" is absent when the value is Sensitive.
_VALIDATION_SCHEMAS: dict[str, Any] = {
    "HTTPValidationError": {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {
            "detail": {
                "title": "Detail",
                "type": "array",
                "items": {"$ref": "#/components/schemas/ValidationError"},
            },
        },
    },
    "ValidationError": {
        "title": "ValidationError",
        "type": "object",
        "properties": {
            "loc": {
                "title": "Location",
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"},
            "input": {"title": "Input"},
        },
        "required": ["loc", "msg", "type"],
    },
}

_VALIDATION_RESPONSE = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}},
    },
}


def _validates(route: RouteDoc) -> bool:
    """Only routes that read parameters or a body can answer 422."""
    return bool(route.params) or route.body is not None


def _operation(route: RouteDoc, writer: _SchemaWriter) -> dict[str, Any]:
    """One Operation Object."""
    operation: dict[str, Any] = {"operationId": route.operation_id}
    if route.tags:
        operation["tags"] = list(route.tags)
    if route.summary:
        operation["summary"] = route.summary
    if route.description:
        operation["description"] = route.description
    if route.deprecated:
        operation["deprecated"] = True
    if route.security:
        operation["security"] = [{s.scheme_name: []} for s in route.security]
    params = [p for p in route.params if p.location != "form"]
    form = [p for p in route.params if p.location == "form"]
    if params:
        operation["parameters"] = [_parameter(p, writer) for p in params]
    if form:
        operation["requestBody"] = _form_body(form, writer)
    if route.body is not None:
        operation["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": {"schema": writer.schema(route.body)}},
        }
    response = {} if route.response is None else writer.schema(route.response)
    success: dict[str, Any] = {"description": "Successful Response"}
    if route.status_code not in (204, 304) and route.status_code >= 200:
        success["content"] = {"application/json": {"schema": response}}
    operation["responses"] = {str(route.status_code): success}
    if _validates(route):
        operation["responses"]["422"] = _VALIDATION_RESPONSE
    if route.security:
        operation["responses"]["401"] = {"description": "Not authenticated"}
    for status, extra in route.responses.items():
        operation["responses"][status] = _response(status, extra, writer)
    return operation


def _response(status: str, extra: dict[str, Any], writer: _SchemaWriter) -> dict[str, Any]:
    """A Response Object from a route's responses={...} entry: its own keys,
    a description (the reason phrase unless given) and the model's schema."""
    out = {k: v for k, v in extra.items() if k != "node"}
    if "description" not in out:
        try:
            out["description"] = HTTPStatus(int(status)).phrase
        except ValueError:
            out["description"] = "Response"
    node = extra.get("node")
    if node is not None:
        out.setdefault("content", {})["application/json"] = {"schema": writer.schema(node)}
    return out


def _form_body(form: list[ParamDoc], writer: _SchemaWriter) -> dict[str, Any]:
    """A form body: multipart/form-data when a file is among its fields, else
    urlencoded; a form bound to a model is described by the model's schema."""
    media = ("multipart/form-data" if any(p.kind == "file" for p in form)
             else "application/x-www-form-urlencoded")
    model = next((p for p in form if p.kind == "model"), None)
    if model is not None and len(form) == 1:
        assert model.node is not None
        return {"required": model.required, "content": {media: {"schema": writer.schema(model.node)}}}
    props: dict[str, Any] = {}
    for p in form:
        if p.kind == "file":
            one = {"type": "string", "format": "binary"}
            props[p.name] = {"type": "array", "items": one} if p.is_list else one
        elif p.node is not None:
            props[p.name] = writer.schema(p.node)
    schema: dict[str, Any] = {"type": "object", "properties": props}
    required = [p.name for p in form if p.required]
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {media: {"schema": schema}}}


def _parameter(param: ParamDoc, writer: _SchemaWriter) -> dict[str, Any]:
    """One Parameter Object; OpenAPI requires path parameters to be required."""
    parameter: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        "required": param.required or param.location == "path",
        "schema": writer.schema(param.node) if param.node is not None else {},
    }
    if param.node is not None and param.node.description:
        parameter["description"] = param.node.description
    return parameter


_PLAIN: dict[str, dict[str, Any]] = {
    tn.ANY: {}, tn.NONE: {"type": "null"}, tn.BOOL: {"type": "boolean"},
    tn.INT: {"type": "integer"}, tn.FLOAT: {"type": "number"}, tn.STR: {"type": "string"},
    tn.BYTES: {"type": "string", "contentEncoding": "base64"},
    tn.DATETIME: {"type": "string", "format": "date-time"},
    tn.DATE: {"type": "string", "format": "date"},
    tn.TIME: {"type": "string", "format": "time"},
    tn.UUID: {"type": "string", "format": "uuid"},
    tn.DECIMAL: {"type": "string", "format": "decimal"},
}

_NUMBER_KEYWORDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum",
                    "le": "maximum", "multiple_of": "multipleOf"}
_LENGTH_KEYWORDS = {
    tn.STR: ("minLength", "maxLength"),
    tn.LIST: ("minItems", "maxItems"), tn.VARTUPLE: ("minItems", "maxItems"),
    tn.SET: ("minItems", "maxItems"), tn.FROZENSET: ("minItems", "maxItems"),
    tn.DICT: ("minProperties", "maxProperties"),
}


class _SchemaWriter:
    """Turns nodes into schemas, collecting each model class once under a unique name."""

    def __init__(self, ref_prefix: str, reserved: dict[str, Any] | None = None) -> None:
        self.ref_prefix = ref_prefix
        self.reserved = set(reserved or ())
        self.names: dict[type, str] = {}
        self.defs: dict[str, Any] = {}

    def schema(self, node: Node) -> dict[str, Any]:
        """The schema for a node: its shape, then constraints, secrecy and docs."""
        schema = self.shape(node)
        schema.update(_constraint_keywords(node))
        if node.sensitive:
            schema["writeOnly"] = True
            if node.kind == tn.STR:
                schema["format"] = "password"
        schema.update(_doc_keywords(node))
        return schema

    def shape(self, node: Node) -> dict[str, Any]:
        """The kind-specific part of the schema."""
        kind = node.kind
        if kind in _PLAIN:
            return dict(_PLAIN[kind])
        if kind in (tn.LIST, tn.VARTUPLE):
            return {"type": "array", "items": self.schema(node.args[0])}
        if kind in (tn.SET, tn.FROZENSET):
            return {"type": "array", "items": self.schema(node.args[0]), "uniqueItems": True}
        if kind == tn.TUPLE:
            return {"type": "array", "prefixItems": [self.schema(a) for a in node.args],
                    "items": False, "minItems": len(node.args), "maxItems": len(node.args)}
        if kind == tn.DICT:
            return {"type": "object", "additionalProperties": self.schema(node.args[0])}
        if kind == tn.UNION:
            return {"anyOf": [self.schema(option) for option in node.args]}
        if kind == tn.LITERAL:
            return _choice(node.values)
        if kind == tn.ENUM:
            return {"title": node.cls.__name__, **_choice(node.values)}  # type: ignore[union-attr]
        return {"$ref": self.ref_prefix + self.model_name(node)}

    def model_name(self, node: Node) -> str:
        """The model's definition name, writing the definition on first sight."""
        cls = node.cls
        if cls not in self.names:
            name = self.unique_name(cls.__name__)  # type: ignore[union-attr]
            self.names[cls] = name  # type: ignore[index]
            self.defs[name] = {}  # reserves the place; a recursive field finds the name
            self.defs[name] = self.model_schema(node)
        return self.names[cls]  # type: ignore[index]

    def unique_name(self, name: str) -> str:
        """`name`, or `name_2`, `name_3`, ... when another class took it."""
        taken = self.reserved | set(self.names.values())
        candidate, number = name, 2
        while candidate in taken:
            candidate, number = f"{name}_{number}", number + 1
        return candidate

    def model_schema(self, node: Node) -> dict[str, Any]:
        """An object schema with one property per field."""
        schema: dict[str, Any] = {
            "title": node.cls.__name__,  # type: ignore[union-attr]
            "type": "object",
            "properties": {f.name: self.field_schema(f) for f in node.fields},
        }
        required = [f.name for f in node.fields if f.required]
        if required:
            schema["required"] = required
        if node.forbid_extra:
            schema["additionalProperties"] = False
        return schema

    def field_schema(self, field: Field) -> dict[str, Any]:
        """A property's schema, with its default when JSON can show it."""
        schema = self.schema(field.node)
        default = _json_value(field.default) if field.default is not tn.MISSING else _NO_JSON
        if default is not _NO_JSON:
            schema["default"] = default
        return schema


def _constraint_keywords(node: Node) -> dict[str, Any]:
    """Node.constraints in JSON Schema words (see the module docstring for omissions)."""
    keywords: dict[str, Any] = {}
    constraints = node.constraints
    if node.kind in (tn.INT, tn.FLOAT):
        for key, keyword in _NUMBER_KEYWORDS.items():
            if key in constraints:
                keywords[keyword] = _json_number(constraints[key])
    if node.kind in _LENGTH_KEYWORDS:
        min_keyword, max_keyword = _LENGTH_KEYWORDS[node.kind]
        if "min_len" in constraints:
            keywords[min_keyword] = constraints["min_len"]
        if "max_len" in constraints:
            keywords[max_keyword] = constraints["max_len"]
    if "pattern" in constraints:
        keywords["pattern"] = constraints["pattern"]
    return keywords


def _doc_keywords(node: Node) -> dict[str, Any]:
    """title / description / examples, examples in their JSON form."""
    keywords: dict[str, Any] = {}
    if node.title is not None:
        keywords["title"] = node.title
    if node.description is not None:
        keywords["description"] = node.description
    examples = [_json_value(example) for example in node.examples]
    if examples and not _any_no_json(examples):
        keywords["examples"] = examples
    return keywords


def _choice(values: tuple[Any, ...]) -> dict[str, Any]:
    """"const" for one value, "enum" for several, with "type" when they share one."""
    schema: dict[str, Any] = {"const": values[0]} if len(values) == 1 else {"enum": list(values)}
    types = {_json_type(value) for value in values}
    if len(types) == 1:
        schema["type"] = types.pop()
    return schema


def _json_type(value: Any) -> str:
    """The JSON Schema type name of a scalar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "string"


def _json_number(value: Any) -> int | float:
    """A bound as a JSON number (Decimal bounds on int / float nodes)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return cast("int | float", value)


_NO_JSON: Any = object()  # a value JSON cannot show


def _json_value(value: Any) -> Any:
    """The value as frostfork's encoder writes it, or _NO_JSON."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NO_JSON
    if isinstance(value, enum.Enum):
        return _json_value(value.value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_json_value(item) for item in value]
        return _NO_JSON if _any_no_json(items) else items
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        members = {key: _json_value(item) for key, item in value.items()}
        return _NO_JSON if _any_no_json(members.values()) else members
    return _NO_JSON


def _any_no_json(values: Iterable[Any]) -> bool:
    """Whether some converted value could not be shown (by identity: values may define ==)."""
    return any(value is _NO_JSON for value in values)
