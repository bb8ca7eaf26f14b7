"""Structural schemas of CRDs: defaulting, pruning and validation with the real server's error wording."""

from __future__ import annotations

import copy
import datetime
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver import _cel
from kubetask_local.apiserver._errors import invalid
from kubetask_local.apiserver._resources import ResourceType

Schema = Mapping[str, Any]
Causes = list[tuple[str, str]]

_ROOT_KEPT = ("apiVersion", "kind", "metadata")
_TYPE_NAMES = {
    "object": "object",
    "array": "array",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


def _describe(value: Any) -> str:
    """How the real server shows a bad value: JSON scalars, and "object"/"array" for containers."""
    if isinstance(value, Mapping):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return json.dumps(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------------- defaulting & pruning


def apply_defaults(schema: Schema, value: Any) -> Any:
    """Fill ``default`` values of absent properties, recursively (a new object; the input is untouched)."""
    if isinstance(value, Mapping):
        result = dict(value)
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if (key not in result and "default" in sub) or (
                result.get(key) is None and key in result and "default" in sub and not sub.get("nullable")
            ):
                result[key] = copy.deepcopy(sub["default"])
            if key in result:
                result[key] = apply_defaults(sub, result[key])
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            for key, item in list(result.items()):
                if key not in properties:
                    result[key] = apply_defaults(additional, item)
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def _preserves(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def prune(
    schema: Schema, value: Any, *, root: bool = False, path: str = "", dropped: list[str] | None = None
) -> Any:
    """Drop fields the schema does not know (unless it preserves unknown fields); record their paths."""
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        result = {}
        for key, item in value.items():
            if (root or embedded) and key in _ROOT_KEPT:
                result[key] = item  # metadata is the server's: never pruned by the CRD schema
            elif key in properties:
                result[key] = prune(properties[key], item, path=_join(path, key), dropped=dropped)
            elif isinstance(additional, Mapping):
                result[key] = prune(additional, item, path=_join(path, key), dropped=dropped)
            elif ((root or embedded) and key in _ROOT_KEPT) or _preserves(schema) or additional is True:
                result[key] = item
            elif dropped is not None:
                dropped.append(_join(path, key))
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [
            prune(schema["items"], item, path=f"{path}[{index}]", dropped=dropped)
            for index, item in enumerate(value)
        ]
    return value


def unknown_fields(schema: Schema, obj: Mapping[str, Any]) -> list[str]:
    """Paths that pruning would drop: the ``fieldValidation=Strict`` errors."""
    dropped: list[str] = []
    prune(schema, dict(obj), root=True, dropped=dropped)
    return dropped


# ---------------------------------------------------------------------- validation


def _type_ok(schema: Schema, value: Any) -> bool:
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    match kind:
        case None:
            return True
        case "object":
            return isinstance(value, Mapping)
        case "array":
            return isinstance(value, list)
        case "string":
            return isinstance(value, str)
        case "integer":
            return (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer()
            )
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
    return True


def _format_ok(fmt: str, value: str) -> bool:
    try:
        match fmt:
            case "date-time":
                datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            case "date":
                datetime.date.fromisoformat(value)
            case "uuid":
                uuid.UUID(value)
            case "int32" | "int64" | "byte" | "password" | "":
                return True
            case "email":
                return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None
            case "hostname":
                return (
                    re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", value)
                    is not None
                )
            case "duration":
                return re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", value) is not None
            case _:
                return True
    except ValueError:
        return False
    return True


def validate(schema: Schema, value: Any, path: str, causes: Causes) -> None:
    """Collect ``(field, message)`` causes of a value against a structural schema."""
    if value is None:
        if not schema.get("nullable"):
            kind = schema.get("type", "object")
            causes.append((path, f'Invalid value: "null": {path} in body must be of type {kind}: "null"'))
        return
    if not _type_ok(schema, value):
        kind = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        shown = _TYPE_NAMES.get(_json_type(value), _json_type(value))
        causes.append((path, f'Invalid value: "{shown}": {path} in body must be of type {kind}: "{shown}"'))
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(json.dumps(item) for item in schema["enum"])
        causes.append((path, f"Unsupported value: {json.dumps(value)}: supported values: {supported}"))
    if isinstance(value, str):
        _validate_string(schema, value, path, causes)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(schema, value, path, causes)
    elif isinstance(value, list):
        _validate_array(schema, value, path, causes)
    elif isinstance(value, Mapping):
        _validate_object(schema, value, path, causes)
    _validate_combinators(schema, value, path, causes)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _validate_string(schema: Schema, value: str, path: str, causes: Causes) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        causes.append((path, f"Too long: may not be more than {schema['maxLength']} bytes"))
    if "minLength" in schema and len(value) < schema["minLength"]:
        causes.append(
            (
                path,
                f"Invalid value: {json.dumps(value)}: {path} in body should be at least "
                f"{schema['minLength']} chars long",
            )
        )
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        causes.append(
            (path, f"Invalid value: {json.dumps(value)}: {path} in body should match '{schema['pattern']}'")
        )
    if "format" in schema and not _format_ok(str(schema["format"]), value):
        causes.append(
            (
                path,
                f"Invalid value: {json.dumps(value)}: {path} in body must be of type "
                f"{schema['format']}: {json.dumps(value)}",
            )
        )


def _validate_number(schema: Schema, value: float, path: str, causes: Causes) -> None:
    if "minimum" in schema:
        low = schema["minimum"]
        if value < low or (schema.get("exclusiveMinimum") is True and value == low):
            relation = (
                "greater than" if schema.get("exclusiveMinimum") is True else "greater than or equal to"
            )
            causes.append(
                (path, f"Invalid value: {json.dumps(value)}: {path} in body should be {relation} {low}")
            )
    if "maximum" in schema:
        high = schema["maximum"]
        if value > high or (schema.get("exclusiveMaximum") is True and value == high):
            relation = "less than" if schema.get("exclusiveMaximum") is True else "less than or equal to"
            causes.append(
                (path, f"Invalid value: {json.dumps(value)}: {path} in body should be {relation} {high}")
            )
    if "multipleOf" in schema and value % schema["multipleOf"]:
        causes.append(
            (
                path,
                f"Invalid value: {json.dumps(value)}: {path} in body should be a multiple of "
                f"{schema['multipleOf']}",
            )
        )


def _validate_array(schema: Schema, value: list[Any], path: str, causes: Causes) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        causes.append((path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        causes.append(
            (
                path,
                f"Invalid value: {len(value)}: {path} in body should have at least "
                f"{schema['minItems']} items",
            )
        )
    if schema.get("uniqueItems") or schema.get("x-kubernetes-list-type") == "set":
        seen: list[Any] = []
        for index, item in enumerate(value):
            if item in seen:
                causes.append((f"{path}[{index}]", f"Duplicate value: {json.dumps(item)}"))
            seen.append(item)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            validate(items, item, f"{path}[{index}]", causes)


def _validate_object(schema: Schema, value: Mapping[str, Any], path: str, causes: Causes) -> None:
    for key in schema.get("required") or []:
        if key not in value:
            causes.append((_join(path, key), "Required value"))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        causes.append((path, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        causes.append(
            (
                path,
                f"Invalid value: {len(value)}: {path} in body should have at least "
                f"{schema['minProperties']} properties",
            )
        )
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            validate(properties[key], item, _join(path, key), causes)
        elif isinstance(additional, Mapping):
            validate(additional, item, _join(path, key), causes)


def _passes(schema: Schema, value: Any, path: str) -> bool:
    causes: Causes = []
    validate({**schema, "nullable": True} if value is None else schema, value, path, causes)
    return not causes


def _validate_combinators(schema: Schema, value: Any, path: str, causes: Causes) -> None:
    shown = _describe(value)
    name = path or "<root>"
    if "oneOf" in schema:
        passing = sum(1 for option in schema["oneOf"] if _passes(option, value, path))
        if passing != 1:
            causes.append(
                (
                    path,
                    f"Invalid value: {shown}: {name} in body must validate one and only one schema (oneOf)",
                )
            )
    if "anyOf" in schema and not any(_passes(option, value, path) for option in schema["anyOf"]):
        causes.append(
            (path, f"Invalid value: {shown}: {name} in body must validate at least one schema (anyOf)")
        )
    if "allOf" in schema:
        for option in schema["allOf"]:
            validate(option, value, path, causes)
    if "not" in schema and _passes(schema["not"], value, path):
        causes.append((path, f"Invalid value: {shown}: {name} in body must not validate the schema (not)"))


# ---------------------------------------------------------------------- the whole custom resource


def admit(resource: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """Default, prune and validate a custom resource; 422 Invalid naming every bad field."""
    schema = resource.schema
    if schema is None:
        return obj
    meta = obj.get("metadata") or {}
    admitted: dict[str, Any] = prune(schema, apply_defaults(schema, obj), root=True)
    admitted["metadata"] = meta
    causes: Causes = []
    body = {key: value for key, value in admitted.items() if key not in _ROOT_KEPT}
    body_schema = {
        **schema,
        "properties": {
            key: value for key, value in (schema.get("properties") or {}).items() if key not in _ROOT_KEPT
        },
    }
    body_schema["required"] = [key for key in schema.get("required") or [] if key not in _ROOT_KEPT]
    validate(body_schema, body, "", causes)
    if not causes:
        causes.extend(_cel.check_rules(schema, admitted, old, path=""))
    if causes:
        raise invalid(group=resource.group, kind=resource.kind, name=str(meta.get("name", "")), causes=causes)
    return admitted
