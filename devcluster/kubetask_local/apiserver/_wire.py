"""What goes over the wire: request bodies decoded, objects shown in the requested version and shape."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp.web
import yaml

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver import _protobuf, _tables
from kubetask_local.apiserver._events import core_field_selector, from_core, is_events_v1
from kubetask_local.apiserver._objects import Obj
from kubetask_local.apiserver._resources import ResourceType
from kubetask_local.apiserver._selectors import Predicate, parse_field_selector, parse_label_selector

JSON = "application/json"


def json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> aiohttp.web.Response:
    # A newline ends the body, as Go's json.Encoder (the real server's JSON serializer) writes it.
    return aiohttp.web.Response(
        body=json.dumps(body, separators=(",", ":")).encode() + b"\n",
        status=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


# encoding/json's maxNestingDepth, which the real server's decoders inherit: deeper bodies are a 400.
MAX_NESTING_DEPTH = 10_000
# Python frames that one nesting level can take on the way through the server (decoding, pruning,
# copying, comparing, encoding); the server raises the interpreter's recursion limit to this times the
# nesting limit so that what the real server stores, this one stores too (see ApiServer.start).
FRAMES_PER_LEVEL = 4
RECURSION_LIMIT = MAX_NESTING_DEPTH * FRAMES_PER_LEVEL + 1000


def decode_body(body: bytes, content_type: str) -> Any:
    if not body.strip():
        return None
    if "protobuf" in content_type:
        return _protobuf.decode(body)
    try:
        decoded = yaml.safe_load(body) if "yaml" in content_type else json.loads(body)
    except RecursionError:
        raise _too_deep(body) from None
    except (ValueError, yaml.YAMLError) as error:
        raise errors.bad_request(
            f"the body of the request could not be decoded as {content_type or JSON}: {error}"
        ) from error
    if nesting_depth(decoded) > MAX_NESTING_DEPTH:
        raise _too_deep(body)
    return decoded


def nesting_depth(value: Any) -> int:
    """How deeply objects and arrays nest in a decoded document (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _too_deep(body: bytes) -> errors.ApiError:
    """The real server's answer: its decoder stops at the first bracket past encoding/json's depth limit
    (scanner.go: ``invalid character '{' exceeded max depth``), reported through the serializer's
    ``couldn't get version/kind; json parse error`` (runtime/serializer/json/meta.go)."""
    depth, opener, in_string, escaped = 0, "{", False, False
    for char in body.decode(errors="replace"):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                opener = char
                break
        elif char in "}]":
            depth -= 1
    return errors.bad_request(
        f"couldn't get version/kind; json parse error: invalid character '{opener}' exceeded max depth"
    )


def render(resource: ResourceType, obj: Obj, accept: str) -> Any:
    obj = versioned(resource, obj)
    if "as=Table" in accept:
        return _tables.table(resource, [obj], resource_version=obj["metadata"].get("resourceVersion", ""))
    if "as=PartialObjectMetadata" in accept:
        return {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }
    return obj


def versioned(resource: ResourceType, obj: Obj) -> Obj:
    """The object as the requested version shows it."""
    if is_events_v1(resource) and obj.get("apiVersion") == "v1":
        return from_core(obj)
    if obj.get("apiVersion") != resource.api_version:
        return {**obj, "apiVersion": resource.api_version}
    return obj


def selection_predicates(resource: ResourceType, params: Mapping[str, str]) -> list[Predicate]:
    field_selector = params.get("fieldSelector")
    if field_selector and is_events_v1(resource):
        field_selector = core_field_selector(field_selector)
    predicates = [
        parse_label_selector(params.get("labelSelector")),
        parse_field_selector(field_selector, kind=resource.kind, custom=resource.custom),
    ]
    return [predicate for predicate in predicates if predicate is not None]
