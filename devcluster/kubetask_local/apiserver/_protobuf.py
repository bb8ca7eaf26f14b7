"""The Kubernetes protobuf encoding, for the few kinds typed Go clients send that way.

Helm's release storage writes Secrets (or ConfigMaps) and deletes them with protobuf bodies and has no JSON
fallback, so those kinds are decoded here; other kinds answer 415 naming the kind.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable, Iterator
from typing import Any

from kubetask_local.apiserver._errors import ApiError, bad_request

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


def _map(entries: list[bytes], *, as_base64: bool = False) -> dict[str, str]:
    result = {}
    for entry in entries:
        key, value = "", b""
        for number, _, item in _fields(entry):
            if number == 1:
                key = _text(item)
            elif number == 2:
                value = item
        result[key] = base64.b64encode(value).decode() if as_base64 else _text(value)
    return result


def _grouped(data: bytes) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for number, _, value in _fields(data):
        grouped.setdefault(number, []).append(value)
    return grouped


def _time(data: bytes) -> str:
    seconds = _grouped(data).get(1, [0])[0]
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_reference(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    reference: dict[str, Any] = {}
    for number, name in ((5, "apiVersion"), (1, "kind"), (3, "name"), (4, "uid")):
        if number in fields:
            reference[name] = _text(fields[number][0])
    for number, name in ((6, "controller"), (7, "blockOwnerDeletion")):
        if number in fields:
            reference[name] = bool(fields[number][0])
    return reference


def _object_meta(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    meta: dict[str, Any] = {}
    for number, name in (
        (1, "name"),
        (2, "generateName"),
        (3, "namespace"),
        (5, "uid"),
        (6, "resourceVersion"),
    ):
        if number in fields and fields[number][0]:
            meta[name] = _text(fields[number][0])
    if 7 in fields and fields[7][0]:  # protobuf always carries the int; JSON omits a zero generation
        meta["generation"] = fields[7][0]
    if 8 in fields:
        meta["creationTimestamp"] = _time(fields[8][0])
    if 11 in fields:
        meta["labels"] = _map(fields[11])
    if 12 in fields:
        meta["annotations"] = _map(fields[12])
    if 13 in fields:
        meta["ownerReferences"] = [_owner_reference(item) for item in fields[13]]
    if 14 in fields:
        meta["finalizers"] = [_text(item) for item in fields[14]]
    return meta


def _secret(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    secret: dict[str, Any] = {"metadata": _object_meta(fields[1][0]) if 1 in fields else {}}
    if 2 in fields:
        secret["data"] = _map(fields[2], as_base64=True)
    if 3 in fields:
        secret["type"] = _text(fields[3][0])
    if 4 in fields:
        secret["stringData"] = _map(fields[4])
    if 5 in fields:
        secret["immutable"] = bool(fields[5][0])
    return secret


def _config_map(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    config_map: dict[str, Any] = {"metadata": _object_meta(fields[1][0]) if 1 in fields else {}}
    if 2 in fields:
        config_map["data"] = _map(fields[2])
    if 3 in fields:
        config_map["binaryData"] = _map(fields[3], as_base64=True)
    if 4 in fields:
        config_map["immutable"] = bool(fields[4][0])
    return config_map


def _namespace(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    namespace: dict[str, Any] = {"metadata": _object_meta(fields[1][0]) if 1 in fields else {}}
    if 2 in fields:
        spec = _grouped(fields[2][0])
        namespace["spec"] = {"finalizers": [_text(item) for item in spec.get(1, [])]}
    return namespace


def _service_account(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    account: dict[str, Any] = {"metadata": _object_meta(fields[1][0]) if 1 in fields else {}}
    if 3 in fields:
        account["imagePullSecrets"] = [{"name": _text(_grouped(item).get(1, [b""])[0])} for item in fields[3]]
    if 4 in fields:
        account["automountServiceAccountToken"] = bool(fields[4][0])
    return account


def _delete_options(data: bytes) -> dict[str, Any]:
    fields = _grouped(data)
    options: dict[str, Any] = {}
    if 1 in fields:
        options["gracePeriodSeconds"] = fields[1][0]
    if 2 in fields:
        conditions = _grouped(fields[2][0])
        options["preconditions"] = {
            name: _text(conditions[number][0])
            for number, name in ((1, "uid"), (2, "resourceVersion"))
            if number in conditions
        }
    if 3 in fields:
        options["orphanDependents"] = bool(fields[3][0])
    if 4 in fields:
        options["propagationPolicy"] = _text(fields[4][0])
    if 5 in fields:
        options["dryRun"] = [_text(item) for item in fields[5]]
    return options


_DECODERS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    "Secret": _secret,
    "ConfigMap": _config_map,
    "Namespace": _namespace,
    "ServiceAccount": _service_account,
    "DeleteOptions": _delete_options,
}


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded Kubernetes object as the JSON-shaped dict the rest of the server works with."""
    if not body.startswith(MAGIC):
        raise bad_request("a protobuf body must start with the Kubernetes magic bytes 'k8s\\x00'")
    envelope = _grouped(body[len(MAGIC) :])
    type_meta = _grouped(envelope.get(1, [b""])[0])
    api_version = _text(type_meta.get(1, [b""])[0])
    kind = _text(type_meta.get(2, [b""])[0])
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"protobuf bodies of kind {kind!r} are not supported by this emulator; send JSON "
            f"(supported protobuf kinds: {sorted(_DECODERS)})",
        )
    obj = decoder(envelope.get(2, [b""])[0])
    if kind != "DeleteOptions":
        obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj
