"""Typed decoding of built-in kinds, as the real server's strict JSON decoder does it.

A real API server decodes a built-in object into its Go struct before anything else: a value of the wrong
JSON type is a 400 naming the Go struct field, a quantity that does not parse or Secret data that is not
base64 is a 400, and fields the struct does not have are dropped (a ``Warning`` header, or a 400 with
``fieldValidation=Strict``). The field types come from the official OpenAPI definitions that
``kubernetes-validate`` bundles; only what a schema cannot say (how Go parses quantities, times and bytes,
and how it words its errors) is written here.

Sources: k8s.io/apimachinery/pkg/runtime/serializer/json (strict decoding, sigs.k8s.io/json),
encoding/json's UnmarshalTypeError ("json: cannot unmarshal X into Go struct field S.path of type T"),
k8s.io/apimachinery/pkg/api/resource/quantity.go (ErrFormatWrong), apis/meta/v1/time.go and micro_time.go
(RFC 3339 and RFC 3339 with microseconds).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import decimal
import functools
import importlib.resources
import json
import re
from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver._resources import ResourceType

Schema = Mapping[str, Any]

# The schema set matching the Kubernetes version the local cluster reports (see _discovery.SERVER_VERSION).
_SCHEMA_VERSION = "v1.36.0-local-strict"
_REF_PREFIX = "#/$defs/"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
_MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"

QUANTITY_FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
_QUANTITY_SYNTAX = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_SUFFIXES = {
    "": decimal.Decimal(1),
    "n": decimal.Decimal("1e-9"),
    "u": decimal.Decimal("1e-6"),
    "m": decimal.Decimal("1e-3"),
    "k": decimal.Decimal("1e3"),
    "M": decimal.Decimal("1e6"),
    "G": decimal.Decimal("1e9"),
    "T": decimal.Decimal("1e12"),
    "P": decimal.Decimal("1e15"),
    "E": decimal.Decimal("1e18"),
    "Ki": decimal.Decimal(2**10),
    "Mi": decimal.Decimal(2**20),
    "Gi": decimal.Decimal(2**30),
    "Ti": decimal.Decimal(2**40),
    "Pi": decimal.Decimal(2**50),
    "Ei": decimal.Decimal(2**60),
}
_EXPONENT = re.compile(r"^[eE][-+]?[0-9]+$")

# Go's time layouts: RFC3339 (metav1.Time) and RFC3339Micro (metav1.MicroTime).
_RFC3339 = "2006-01-02T15:04:05Z07:00"
_RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
_LAYOUT_ELEMENTS = (
    ("2006", r"[0-9]{4}"),
    ("-", "-"),
    ("01", r"[0-9]{2}"),
    ("-", "-"),
    ("02", r"[0-9]{2}"),
    ("T", "T"),
    ("15", r"[0-9]{2}"),
    (":", ":"),
    ("04", r"[0-9]{2}"),
    (":", ":"),
    ("05", r"[0-9]{2}"),
)


def parse_quantity(text: str) -> decimal.Decimal | None:
    """The value of a Kubernetes quantity (``500m``, ``1Gi``, ``1e3``), or None when it does not parse."""
    match = _QUANTITY_SYNTAX.match(text)
    if match is None:
        return None
    number, suffix = match.groups()
    try:
        value = decimal.Decimal(number)
    except decimal.InvalidOperation:
        return None
    if suffix in _SUFFIXES:
        return value * _SUFFIXES[suffix]
    if _EXPONENT.match(suffix):
        return value * decimal.Decimal(10) ** int(suffix[1:])
    return None


@functools.cache
def _definitions() -> dict[str, Any]:
    """The ``$defs`` of the official schemas (loaded once, on the first built-in write)."""
    files = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / _SCHEMA_VERSION
    document = json.loads((files / "_definitions.json").read_text())
    definitions: dict[str, Any] = document["$defs"]
    return definitions


def definitions() -> Mapping[str, Any]:
    """The official definitions by name (``io.k8s.api.core.v1.Pod``), as JSON Schema."""
    return _definitions()


def definition_for(resource: ResourceType) -> str | None:
    """The official definition of a built-in kind, or None (custom resources, kinds not in the schemas)."""
    return None if resource.custom else _definition_of(resource.group, resource.version, resource.kind)


def definition_of_kind(group: str, version: str, kind: str) -> str | None:
    return _definition_of(group, version, kind)


@functools.cache
def _definition_of(group: str, version: str, kind: str) -> str | None:
    for name, schema in _definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            wanted = (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (group, version, kind)
            if wanted and not name.endswith("List"):
                return name
    return None


def _go_type_name(definition: str) -> str:
    parts = definition.split(".")
    return f"{parts[-2]}.{parts[-1]}"


def _json_kind(value: Any) -> str:
    """How Go's decoder names the JSON value it could not store."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclasses.dataclass
class _Decoding:
    kind: str
    version: str
    unknown: list[str] = dataclasses.field(default_factory=list)

    def fail(self, message: str) -> errors.ApiError:
        return errors.bad_request(
            f'{self.kind} in version "{self.version}" cannot be handled as a {self.kind}: {message}'
        )


@dataclasses.dataclass(frozen=True)
class Decoded:
    obj: dict[str, Any]
    unknown_fields: list[str]


def decode(resource: ResourceType, body: Mapping[str, Any]) -> Decoded:
    """The body as the Go struct holds it: nulls and unknown fields dropped (their paths are returned).

    Raises 400 as the real decoder does for values of the wrong type, bad quantities, times and base64.
    Kinds without an official definition are returned unchanged.
    """
    definition = _definition_of(resource.group, resource.version, resource.kind)
    if definition is None or resource.custom:
        return Decoded(dict(body), [])
    state = _Decoding(kind=resource.kind, version=resource.version)
    schema = _definitions()[definition]
    result = _struct(state, definition, schema, body, json_path="", go_path="", root=True)
    return Decoded(result, state.unknown)


def _resolve(schema: Schema) -> tuple[str | None, Schema]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        name = ref[len(_REF_PREFIX) :]
        return name, _definitions()[name]
    return None, schema


def _base_type(schema: Schema) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [item for item in kind if item != "null"]
        return kinds[0] if kinds else None
    return kind if isinstance(kind, str) else None


def _go_type(schema: Schema) -> str:
    name, schema = _resolve(schema)
    if name is not None:
        return _go_type_name(name)
    kind = _base_type(schema)
    if kind == "array":
        return "[]" + _go_type(schema.get("items") or {})
    if kind == "object":
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            return "map[string]" + _go_type(additional)
        return "map[string]interface {}"
    if kind == "integer":
        return str(schema.get("format") or "int64")
    return {"string": "string", "boolean": "bool", "number": "float64"}.get(kind or "", "interface {}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _struct(
    state: _Decoding,
    definition: str,
    schema: Schema,
    value: Mapping[str, Any],
    *,
    json_path: str,
    go_path: str,
    root: bool = False,
) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    struct_name = definition.rsplit(".", 1)[-1]
    result: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if root and key in ("apiVersion", "kind"):
            result[key] = item
            continue
        field_schema = properties.get(key)
        if field_schema is None:
            state.unknown.append(_join(json_path, key))
            continue
        result[key] = _value(
            state,
            field_schema,
            item,
            json_path=_join(json_path, key),
            go_path=_join(go_path, key),
            struct_name=struct_name,
        )
    return result


def _type_error(state: _Decoding, value: Any, schema: Schema, *, go_path: str, struct_name: str) -> Exception:
    shown = _json_kind(value)
    if shown == "number" and isinstance(value, float):
        shown = f"number {json.dumps(value)}"
    field, go_type = f"{struct_name}.{go_path}", _go_type(schema)
    return state.fail(f"json: cannot unmarshal {shown} into Go struct field {field} of type {go_type}")


def _value(
    state: _Decoding, schema: Schema, value: Any, *, json_path: str, go_path: str, struct_name: str
) -> Any:
    name, resolved = _resolve(schema)
    if name == _QUANTITY:
        return _quantity(state, value)
    if name == _INT_OR_STRING:
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise state.fail(f"json: cannot unmarshal {_json_kind(value)} into Go value of type int32")
    if name in (_TIME, _MICRO_TIME):
        if not isinstance(value, str):
            raise state.fail(f"json: cannot unmarshal {_json_kind(value)} into Go value of type string")
        error = time_error(value, micro=name == _MICRO_TIME)
        if error is not None:
            raise state.fail(error)
        return value
    kind = _base_type(resolved)
    if kind == "object":
        if not isinstance(value, Mapping):
            raise _type_error(state, value, schema, go_path=go_path, struct_name=struct_name)
        if "properties" in resolved and name is not None:
            return _struct(state, name, resolved, value, json_path=json_path, go_path=go_path)
        additional = resolved.get("additionalProperties")
        if isinstance(additional, Mapping):
            return {
                key: _value(
                    state,
                    additional,
                    item,
                    json_path=_join(json_path, key),
                    go_path=go_path,
                    struct_name=struct_name,
                )
                for key, item in value.items()
                if item is not None
            }
        return dict(value)  # free-form (RawExtension, JSON): kept as sent
    if kind == "array":
        if not isinstance(value, list):
            raise _type_error(state, value, schema, go_path=go_path, struct_name=struct_name)
        items = resolved.get("items") or {}
        return [
            _value(
                state,
                items,
                item,
                json_path=f"{json_path}[{index}]",
                go_path=go_path,
                struct_name=struct_name,
            )
            for index, item in enumerate(value)
        ]
    if kind == "string":
        if not isinstance(value, str):
            raise _type_error(state, value, schema, go_path=go_path, struct_name=struct_name)
        if resolved.get("format") == "byte":
            position = base64_error_position(value)
            if position is not None:
                raise state.fail(f"illegal base64 data at input byte {position}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(state, value, schema, go_path=go_path, struct_name=struct_name)
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(state, value, schema, go_path=go_path, struct_name=struct_name)
        bits = 32 if resolved.get("format") == "int32" else 64
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise state.fail(
                f"json: cannot unmarshal number {value} into Go struct field {struct_name}.{go_path} "
                f"of type int{bits}"
            )
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(state, value, schema, go_path=go_path, struct_name=struct_name)
        return value
    return value


def _quantity(state: _Decoding, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise state.fail(QUANTITY_FORMAT_ERROR)
    if isinstance(value, str) and parse_quantity(value) is None:
        raise state.fail(QUANTITY_FORMAT_ERROR)
    return value if isinstance(value, str) else json.dumps(value)


def base64_error_position(text: str) -> int | None:
    """Where Go's ``base64.StdEncoding`` stops on the text, or None when it decodes."""
    try:
        base64.b64decode(text.encode(), validate=True)
        return None
    except (binascii.Error, ValueError, UnicodeEncodeError):
        pass
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for index, char in enumerate(text):
        if char not in alphabet and char not in "\r\n":
            return index
    return len(text) - len(text) % 4


def time_error(text: str, *, micro: bool) -> str | None:
    """Go's ``time.Parse`` error for a timestamp in the layout of metav1.Time or metav1.MicroTime."""
    layout = _RFC3339_MICRO if micro else _RFC3339
    rest = text
    for element, pattern in _LAYOUT_ELEMENTS:
        match = re.match(pattern, rest)
        if match is None:
            return f'parsing time "{text}" as "{layout}": cannot parse "{rest}" as "{element}"'
        rest = rest[match.end() :]
    if micro:
        match = re.match(r"\.[0-9]{6}", rest)
        if match is None:
            return f'parsing time "{text}" as "{layout}": cannot parse "{rest}" as ".000000"'
        rest = rest[match.end() :]
    else:
        fraction = re.match(r"\.[0-9]+", rest)
        if fraction is not None:  # Go accepts fractional seconds after the seconds of any layout
            rest = rest[fraction.end() :]
    zone = re.match(r"Z|[+-][0-9]{2}:[0-9]{2}", rest)
    if zone is None:
        return f'parsing time "{text}" as "{layout}": cannot parse "{rest}" as "Z07:00"'
    rest = rest[zone.end() :]
    if rest:
        return f'parsing time "{text}": extra text: "{rest}"'
    return None
