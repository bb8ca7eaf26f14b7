"""OpenAPI v3 documents: enough for kubectl to validate server-side (``fieldValidation``) and to pick
merge patches for custom resources; CRD schemas and the official schemas of built-in kinds (converted from
the JSON Schema that ``kubernetes-validate`` bundles) are published for ``kubectl explain``."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from kubetask_local.apiserver._resources import Registry, ResourceType
from kubetask_local.apiserver._typed import definition_for, definitions

_JSON_SCHEMA_REF = "#/$defs/"
_OPENAPI_REF = "#/components/schemas/"

_PARAMETERS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
]
_CUSTOM_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


def _gv_path(resource: ResourceType) -> str:
    return f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"


def _schema_name(resource: ResourceType) -> str:
    official = definition_for(resource)
    if official is not None:
        return official
    group = ".".join(reversed(resource.group.split("."))) if resource.group else "io.k8s.api.core"
    return f"{group}.{resource.version}.{resource.kind}"


def _gvk(resource: ResourceType) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind}


def _operations(resource: ResourceType) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{_schema_name(resource)}"}
    patch: dict[str, Any] = {
        "operationId": f"patch{resource.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": _gvk(resource),
        "parameters": _PARAMETERS,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
    }
    if resource.custom:
        # No strategic merge patch for custom resources: kubectl then sends JSON merge patches.
        patch["requestBody"] = {
            "content": {kind: {"schema": {"type": "object"}} for kind in _CUSTOM_PATCH_TYPES}
        }
    common = {
        "x-kubernetes-group-version-kind": _gvk(resource),
        "parameters": _PARAMETERS,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
    }
    return {
        "get": {"operationId": f"read{resource.kind}", "x-kubernetes-action": "get", **common},
        "put": {"operationId": f"replace{resource.kind}", "x-kubernetes-action": "put", **common},
        "delete": {"operationId": f"delete{resource.kind}", "x-kubernetes-action": "delete", **common},
        "patch": patch,
    }


def group_version_document(registry: Registry, gv_path: str) -> dict[str, Any] | None:
    resources = [resource for resource in registry if _gv_path(resource) == gv_path]
    if not resources:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for resource in resources:
        template = (
            f"/{gv_path}/namespaces/{{namespace}}/{resource.plural}/{{name}}"
            if resource.namespaced
            else f"/{gv_path}/{resource.plural}/{{name}}"
        )
        paths[template] = _operations(resource)
        official = definition_for(resource)
        if official is not None:
            schemas.update(official_schemas(official))
            continue
        schema = (
            dict(resource.schema)
            if resource.schema is not None
            else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        )
        schemas[_schema_name(resource)] = {**schema, "x-kubernetes-group-version-kind": [_gvk(resource)]}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.36.0-kubetask-local"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def index(registry: Registry) -> dict[str, Any]:
    """``/openapi/v3``: one entry per group-version, with a hash that changes when its document does."""
    paths = {}
    for gv_path in sorted({_gv_path(resource) for resource in registry}):
        document = group_version_document(registry, gv_path)
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()
        paths[gv_path] = {"serverRelativeURL": f"/openapi/v3/{gv_path}?hash={digest}"}
    return {"paths": paths}


def _to_openapi(schema: Any, referenced: set[str]) -> Any:
    """JSON Schema (``type: [t, "null"]``, ``#/$defs/`` refs) as OpenAPI 3.0 (``type: t``, component refs)."""
    if isinstance(schema, list):
        return [_to_openapi(item, referenced) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(_JSON_SCHEMA_REF):
            name = value[len(_JSON_SCHEMA_REF) :]
            referenced.add(name)
            result[key] = _OPENAPI_REF + name
        elif key == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            if kinds:
                result[key] = kinds[0]
            if "null" in value:
                result["nullable"] = True
        elif key in ("properties", "patternProperties"):
            result[key] = {name: _to_openapi(item, referenced) for name, item in value.items()}
        else:
            result[key] = _to_openapi(value, referenced)
    return result


@functools.cache
def official_schemas(root: str) -> dict[str, Any]:
    """The definition ``root`` and every definition it reaches, in OpenAPI 3.0 form."""
    converted: dict[str, Any] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        if name in converted:
            continue
        referenced: set[str] = set()
        converted[name] = _to_openapi(definitions()[name], referenced)
        pending.extend(referenced - converted.keys())
    return converted
