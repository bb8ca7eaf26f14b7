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
    return aiohttp.web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def decode_body(body: bytes, content_type: str) -> Any:
    if not body.strip():
        return None
    if "protobuf" in content_type:
        return _protobuf.decode(body)
    try:
        if "yaml" in content_type:
            return yaml.safe_load(body)
        return json.loads(body)
    except (ValueError, yaml.YAMLError) as error:
        raise errors.bad_request(
            f"the body of the request could not be decoded as {content_type or JSON}: {error}"
        ) from error


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
