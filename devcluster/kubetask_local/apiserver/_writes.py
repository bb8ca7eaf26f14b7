"""The writing verbs on resource URLs: create, replace, patch (merge, JSON, strategic, apply), delete,
deletecollection, and the ``binding`` and ``scale`` subresources."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp.web

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver import _patch, _schema, _typed
from kubetask_local.apiserver._objects import timestamp
from kubetask_local.apiserver._ownership import conflict_error, conflicts
from kubetask_local.apiserver._resources import ResourceType
from kubetask_local.apiserver._scale import scale_of, with_replicas
from kubetask_local.apiserver._store import Store
from kubetask_local.apiserver._targets import Target
from kubetask_local.apiserver._wire import decode_body, json_response, selection_predicates, versioned

_RETURN_DELETED_OBJECT = {("", "pods"), ("", "namespaces"), ("", "services"), ("", "serviceaccounts")}


class Writes:
    def __init__(self, store: Store) -> None:
        self.store = store

    def decode(self, resource: ResourceType, obj: Any, params: Mapping[str, str]) -> tuple[Any, list[str]]:
        """The body as the real server decodes it, and the ``Warning`` headers it earns.

        Built-in kinds are decoded into their official types (``_typed``): wrong JSON types are a 400 and
        unknown fields are dropped. Unknown fields are a 400 with ``fieldValidation=Strict``, silently dropped
        with ``Ignore`` and a warning each otherwise (``Warn``, the default), as in
        https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation.
        """
        if not isinstance(obj, Mapping):
            return obj, []
        unknown: list[str] = []
        if resource.custom:
            if resource.schema is not None:
                unknown = _schema.unknown_fields(resource.schema, obj)
        else:
            decoded = _typed.decode(resource, obj)
            obj, unknown = decoded.obj, decoded.unknown_fields
        validation = params.get("fieldValidation", "Warn")
        if validation not in ("Strict", "Warn", "Ignore", ""):
            raise errors.bad_request(
                f"fieldValidation parameter unsupported: {validation}, must be one of Ignore, Warn or Strict"
            )
        if unknown and validation == "Strict":
            message = "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in unknown)
            if not resource.custom:
                message = (
                    f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                    f"{resource.kind}: {message}"
                )
            raise errors.bad_request(message)
        if validation == "Ignore":
            return obj, []
        return obj, [f'unknown field "{path}"' for path in unknown]

    def create(self, target: Target, params: Mapping[str, str], body: Any) -> aiohttp.web.Response:
        if target.subresource is not None:
            raise errors.method_not_allowed(f"POST is not supported on {target.subresource}")
        body, warnings = self.decode(target.resource, body, params)
        obj = self.store.create(
            target.resource, target.namespace, body, dry_run=dry_run(params), warnings=warnings
        )
        return with_warnings(json_response(versioned(target.resource, obj), status=201), warnings)

    def replace(self, target: Target, params: Mapping[str, str], body: Any) -> aiohttp.web.Response:
        assert target.name is not None
        body, warnings = self.decode(target.resource, body, params)
        meta = body.get("metadata") if isinstance(body, Mapping) else None
        if target.resource.custom and not (isinstance(meta, Mapping) and meta.get("resourceVersion")):
            # Custom resources allow no unconditional update, as in the real server.
            raise errors.invalid(
                group=target.resource.group,
                kind=target.resource.kind,
                name=target.name,
                causes=[("metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")],
            )
        sub = "status" if target.subresource == "status" else None
        obj = self.store.update(
            target.resource,
            target.namespace,
            target.name,
            body,
            subresource=sub,
            dry_run=dry_run(params, options="UpdateOptions"),
        )
        return with_warnings(json_response(versioned(target.resource, obj)), warnings)

    def patch(
        self,
        target: Target,
        params: Mapping[str, str],
        patch: Any,
        content_type: str,
    ) -> aiohttp.web.Response:
        assert target.name is not None
        resource = target.resource
        sub = "status" if target.subresource == "status" else None
        if content_type == "application/apply-patch+yaml":
            return self.apply(target, params, patch, sub=sub)
        old = versioned(resource, self.store.get(resource, target.namespace, target.name))
        if content_type == "application/json-patch+json":
            new = _patch.json_patch(old, patch)
        elif content_type == "application/merge-patch+json":
            new = _patch.merge_patch(old, patch)
        elif content_type == "application/strategic-merge-patch+json":
            if resource.custom:
                raise errors.unsupported_media_type(content_type)
            new = _patch.strategic_merge_patch(old, patch)
        else:
            raise errors.unsupported_media_type(content_type)
        new, warnings = self.decode(resource, new, params)
        obj = self.store.update(
            resource,
            target.namespace,
            target.name,
            new,
            subresource=sub,
            dry_run=dry_run(params, options="PatchOptions"),
        )
        return with_warnings(json_response(versioned(resource, obj)), warnings)

    def apply(
        self, target: Target, params: Mapping[str, str], applied: Any, *, sub: str | None
    ) -> aiohttp.web.Response:
        assert target.name is not None
        resource = target.resource
        manager = params.get("fieldManager")
        if not manager:
            raise errors.bad_request("PATCH /apply requires a non-empty fieldManager query parameter")
        if not isinstance(applied, dict):
            raise errors.bad_request(f"the applied configuration must be an object, got {applied!r}")
        meta = applied.get("metadata") or {}
        if meta.get("name") not in (None, target.name):
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on "
                f"the URL ({target.name})"
            )
        applied, warnings = self.decode(resource, applied, params)
        is_dry_run = dry_run(params, options="PatchOptions")
        existing = self.store.find(resource, target.namespace, target.name)
        existing = versioned(resource, existing) if existing is not None else None
        entry = {
            "manager": manager,
            "operation": "Apply",
            "apiVersion": resource.api_version,
            "time": timestamp(),
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_v1(applied),
        }
        if existing is None:
            if sub is not None:
                raise errors.not_found(group=resource.group, plural=resource.plural, name=target.name)
            body = {**applied, "metadata": {**meta, "name": target.name, "managedFields": [entry]}}
            obj = self.store.create(resource, target.namespace, body, dry_run=is_dry_run, warnings=warnings)
            status = 201
        else:
            uid = existing["metadata"]["uid"]
            found = conflicts(applied, self.store.other_appliers(uid, manager), self.store.forfeited(uid))
            if found and params.get("force", "").lower() != "true":
                raise conflict_error(found, api_version=resource.api_version)
            if not is_dry_run:
                for other, path in found:
                    self.store.forfeited(uid).setdefault(other, set()).add(path)
            previous = self.store.applied_config(uid, manager)
            merged = _patch.apply_merge(existing, applied, previous)
            managers = [
                m for m in existing["metadata"].get("managedFields") or [] if m.get("manager") != manager
            ]
            merged["metadata"] = {**merged.get("metadata", {}), "managedFields": [*managers, entry]}
            if "resourceVersion" not in meta:
                merged["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            obj = self.store.update(
                resource, target.namespace, target.name, merged, subresource=sub, dry_run=is_dry_run
            )
            status = 200
        if not is_dry_run:
            self.store.remember_applied(obj["metadata"]["uid"], manager, applied)
        return with_warnings(json_response(versioned(resource, obj), status=status), warnings)

    def scale(self, target: Target, method: str, body: bytes, content_type: str) -> aiohttp.web.Response:
        assert target.name is not None
        resource = target.resource
        obj = self.store.get(resource, target.namespace, target.name)
        if method == "GET":
            return json_response(scale_of(resource, obj))
        if method == "PUT":
            wanted = decode_body(body, content_type)
        elif method == "PATCH" and content_type == "application/json-patch+json":
            wanted = _patch.json_patch(scale_of(resource, obj), decode_body(body, content_type))
        elif method == "PATCH" and content_type in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ):
            wanted = _patch.merge_patch(scale_of(resource, obj), decode_body(body, content_type))
        else:
            raise errors.method_not_allowed(
                f"{method} {content_type} is not supported on the scale subresource"
            )
        updated = self.store.update(
            resource, target.namespace, target.name, with_replicas(resource, obj, wanted)
        )
        return json_response(scale_of(resource, updated))

    def bind(self, target: Target, binding: Any) -> aiohttp.web.Response:
        """``pods/binding``: what a scheduler posts to place a pod on a node."""
        assert target.name is not None
        node = ((binding or {}).get("target") or {}).get("name") if isinstance(binding, Mapping) else None
        if not node:
            raise errors.invalid(
                group="", kind="Binding", name=target.name, causes=[("target.name", "Required value")]
            )
        self.store.bind(target.resource, target.namespace, target.name, str(node))
        return json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
            status=201,
        )

    def delete(self, target: Target, params: Mapping[str, str], options: Any) -> aiohttp.web.Response:
        assert target.name is not None
        options = options if isinstance(options, Mapping) else {}
        grace = options.get("gracePeriodSeconds", params.get("gracePeriodSeconds"))
        propagation = options.get("propagationPolicy") or params.get("propagationPolicy")
        if propagation is None and options.get("orphanDependents") is True:
            propagation = "Orphan"
        is_dry_run = "All" in (options.get("dryRun") or []) or dry_run(params, options="DeleteOptions")
        resource = target.resource
        obj, gone = self.store.delete(
            resource,
            target.namespace,
            target.name,
            grace_period=int(grace) if grace is not None else None,
            propagation=propagation,
            preconditions=options.get("preconditions"),
            dry_run=is_dry_run,
        )
        # Stores with ReturnDeletedObject answer the deleted object, the others a Status (pods, services,
        # serviceaccounts, namespaces: pkg/registry/core/*/storage/storage.go).
        if gone and not resource.custom and (resource.group, resource.plural) not in _RETURN_DELETED_OBJECT:
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": target.name,
                        "group": resource.group,
                        "kind": resource.plural,
                        "uid": obj["metadata"]["uid"],
                    },
                }
            )
        return json_response(versioned(resource, obj), status=200 if gone else 202)

    def delete_collection(self, target: Target, params: Mapping[str, str]) -> Any:
        resource = target.resource
        predicates = selection_predicates(resource, params)
        chosen = [
            obj
            for obj in self.store.iter_objects(resource, target.namespace)
            if all(predicate(obj) for predicate in predicates)
        ]
        deleted = []
        for obj in chosen:
            meta = obj["metadata"]
            if self.store.find(resource, meta.get("namespace"), meta["name"]) is None:
                continue
            last, _ = self.store.delete(
                resource, meta.get("namespace"), meta["name"], propagation=params.get("propagationPolicy")
            )
            deleted.append(last)
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "items": deleted,
        }


def _fields_v1(applied: Any) -> Any:
    """The managedFields set of an applied configuration, in the ``f:`` notation of FieldsV1."""
    if isinstance(applied, Mapping):
        return {
            f"f:{key}": _fields_v1(value)
            for key, value in applied.items()
            if key not in ("apiVersion", "kind") and value is not None
        }
    return {}


def dry_run(params: Mapping[str, str], *, options: str = "CreateOptions") -> bool:
    """Whether the write is a dry run; a ``dryRun`` value other than ``All`` is refused, never persisted.

    k8s.io/apimachinery/pkg/apis/meta/v1/validation: ValidateDryRun answers 422 on the request's options kind.
    """
    value = params.get("dryRun")
    if value is None or value == "":
        return False
    if value != "All":
        raise errors.ApiError(
            422,
            "Invalid",
            f'{options}.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{{"{value}"}}: '
            'supported values: "All"',
            details={
                "group": "meta.k8s.io",
                "kind": options,
                "causes": [
                    {
                        "reason": "FieldValueNotSupported",
                        "message": f'Unsupported value: []string{{"{value}"}}: supported values: "All"',
                        "field": "dryRun",
                    }
                ],
            },
        )
    return True


def with_warnings(response: aiohttp.web.Response, warnings: list[str]) -> aiohttp.web.Response:
    """Add one ``Warning: 299 - "..."`` header per warning, as the real server does (RFC 7234 format)."""
    for warning in warnings:
        response.headers.add("Warning", "299 - " + json.dumps(warning))
    return response
