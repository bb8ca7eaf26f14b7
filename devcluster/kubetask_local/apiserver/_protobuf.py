"""The Kubernetes protobuf encoding of built-in kinds, decoded driven by schemas.

kubectl (``create``, ``run``, ``apply`` of built-in kinds), Helm's release storage and other Go clients send
``application/vnd.kubernetes.protobuf`` bodies. One decoder serves every built-in kind: the value types come
from the official OpenAPI schemas (``_typed``); what protobuf adds -- each field's number, whether its Go
field is a pointer (which keeps an explicit zero such as ``enableServiceLinks: false``) and which embedded
structs JSON inlines (``Volume.VolumeSource``) -- comes from ``_protobuf_fields.json``, generated from the Go
types of k8s.io/api and k8s.io/apimachinery by devcluster/scripts/generate_protobuf_fields.py. A field number
the table does not know answers 415 naming it, so nothing is ever dropped silently.

Sources: k8s.io/apimachinery/pkg/runtime/serializer/protobuf (the ``k8s\x00`` magic and the
runtime.Unknown envelope), the generated.proto files (wrapper messages: Quantity, Time, MicroTime,
IntOrString, RawExtension), and Go's protobuf marshalling, which writes non-pointer fields even when zero --
JSON's ``omitempty`` leaves those out, so they are dropped here too.
"""

from __future__ import annotations

import base64
import datetime
import functools
import importlib.resources
import json
import struct
from collections.abc import Iterator, Mapping
from typing import Any

from kubetask_local.apiserver._errors import ApiError, bad_request
from kubetask_local.apiserver._typed import definition_of_kind, definitions

MAGIC = b"k8s\x00"
Fields = list[tuple[int, int, Any]]  # (field number, wire type, value)


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise bad_request("the protobuf body ends inside a varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    position = 0
    value: int | bytes
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise bad_request(f"unsupported protobuf wire type {wire} in field {number}")
        yield number, wire, value


def _text(value: bytes) -> str:
    return value.decode("utf-8")


def _grouped(data: bytes) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for number, _, value in _fields(data):
        grouped.setdefault(number, []).append(value)
    return grouped


def _time(data: bytes) -> str | None:
    """A Time or MicroTime; the zero time is JSON's null (left out)."""
    fields = _grouped(data)
    seconds, nanos = fields.get(1, [0])[0], fields.get(2, [0])[0]
    if not seconds and not nanos:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{nanos // 1000:06d}Z" if nanos else "Z")


# Field tables: definition -> field number -> (JSON name, flags): "*" a pointer, "=<definition>" inlined.
FieldTable = Mapping[str, Mapping[int, tuple[str, str]]]


@functools.cache
def field_table() -> FieldTable:
    text = importlib.resources.files(__package__).joinpath("_protobuf_fields.json").read_text()
    return {
        definition: {int(number): (entry[0], entry[1]) for number, entry in fields.items()}
        for definition, fields in json.loads(text).items()
    }


_REF = "#/$defs/"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
_TIMES = ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime")


def _unsupported_field(definition: str, number: int) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"protobuf field {number} of {definition} is not supported by this emulator; send JSON",
    )


def _kind_of(schema: Any) -> tuple[str, Any]:
    """(``ref``|``array``|``map``|scalar type, detail) of a property schema."""
    if "$ref" in schema:
        return "ref", schema["$ref"][len(_REF) :]
    for combined in ("allOf", "oneOf", "anyOf"):
        refs = [item for item in schema.get(combined) or () if isinstance(item, Mapping) and "$ref" in item]
        if refs:
            return "ref", refs[0]["$ref"][len(_REF) :]
    kind = schema.get("type")
    kind = next((item for item in kind if item != "null"), None) if isinstance(kind, list) else kind
    if kind == "array":
        return "array", schema.get("items") or {}
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map", schema["additionalProperties"]
    return str(kind), schema.get("format")


def _scalar(kind: str, detail: Any, wire: int, value: Any) -> Any:
    if kind == "string":
        return base64.b64encode(value).decode() if detail == "byte" else _text(value)
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return value - (1 << 64) if value >= 1 << 63 else value  # varints carry negatives as 64-bit
    if kind == "number" and wire == 1:
        return struct.unpack("<d", value)[0]
    if kind == "number" and wire == 5:
        return struct.unpack("<f", value)[0]
    raise bad_request(f"unsupported protobuf scalar of type {kind} (wire type {wire})")


def _packed(kind: str, value: bytes) -> list[Any]:
    """A packed repeated scalar (wire type 2 for a varint field)."""
    items, position = [], 0
    while position < len(value):
        item, position = _varint(value, position)
        items.append(_scalar(kind, None, 0, item))
    return items


def _value(schema: Any, wire: int, value: Any) -> Any:
    kind, detail = _kind_of(schema)
    if kind == "ref":
        if detail == _QUANTITY:
            return _text(_grouped(value).get(1, [b""])[0])
        if detail in _TIMES:
            return _time(value)
        if detail == _INT_OR_STRING:
            fields = _grouped(value)
            return _text(fields.get(3, [b""])[0]) if fields.get(1, [0])[0] == 1 else fields.get(2, [0])[0]
        if detail == _RAW_EXTENSION:
            raw = _grouped(value).get(1, [b""])[0]
            return json.loads(raw) if raw else None
        return _message(detail, value)
    return _scalar(kind, detail, wire, value)


def _is_zero(value: Any) -> bool:
    """What JSON's omitempty leaves out: Go's protobuf encoding writes zero values of non-pointer fields."""
    return not isinstance(value, float) and value in ("", 0, False, None, {}, [])


def _message(definition: str, data: bytes, *, inlined_into: str | None = None) -> dict[str, Any]:
    """One message as JSON; an embedded struct's fields are named after the schema of the message JSON
    inlines it into (``inlined_into``), since the schemas fold such structs into their parents."""
    numbers = field_table().get(definition)
    if numbers is None:
        if data:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"protobuf messages of type {definition} are not supported by this emulator; send JSON",
            )
        return {}
    properties = definitions()[inlined_into or definition].get("properties") or {}
    result: dict[str, Any] = {}
    explicit: set[str] = set()  # pointer fields: an explicit zero is kept
    for number, wire, value in _fields(data):
        name, flags = numbers.get(number, ("", ""))
        if flags.startswith("="):  # an embedded struct: its fields are the parent's in JSON
            result.update(_message(flags[1:], value, inlined_into=inlined_into or definition))
            continue
        if name not in properties:
            raise _unsupported_field(definition, number)
        kind, detail = _kind_of(properties[name])
        if kind == "array":
            item_kind, _ = _kind_of(detail)
            if wire == 2 and item_kind in ("integer", "boolean"):
                result.setdefault(name, []).extend(_packed(item_kind, value))
            else:
                result.setdefault(name, []).append(_value(detail, wire, value))
        elif kind == "map":
            entry = _grouped(value)
            key = _text(entry.get(1, [b""])[0])
            result.setdefault(name, {})[key] = _value(detail, 2, entry.get(2, [b""])[0])
        else:
            result[name] = _value(properties[name], wire, value)
            if "*" in flags:
                explicit.add(name)
    return {
        key: item
        for key, item in result.items()
        if (key in explicit and item is not None) or not _is_zero(item) or isinstance(item, list)
    }


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded Kubernetes object as the JSON-shaped dict the rest of the server works with."""
    if not body.startswith(MAGIC):
        raise bad_request("a protobuf body must start with the Kubernetes magic bytes 'k8s\\x00'")
    envelope = _grouped(body[len(MAGIC) :])
    type_meta = _grouped(envelope.get(1, [b""])[0])
    api_version = _text(type_meta.get(1, [b""])[0])
    kind = _text(type_meta.get(2, [b""])[0])
    definition = _definition(api_version, kind)
    if definition is None:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"protobuf bodies of kind {kind!r} ({api_version}) are not supported by this emulator; send JSON "
            "(kinds of the built-in API groups are)",
        )
    obj = _message(definition, envelope.get(2, [b""])[0])
    if kind != "DeleteOptions":
        obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj


_DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"


def _definition(api_version: str, kind: str) -> str | None:
    """The official definition of a kind sent as protobuf; DeleteOptions come under any group's version."""
    if kind == "DeleteOptions":
        return _DELETE_OPTIONS
    group, _, version = api_version.rpartition("/")
    definition = definition_of_kind(group, version, kind)
    return definition if definition in field_table() else None
