"""Kubernetes API requests -> store operations -> responses in the shapes clients expect."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp.web
import yaml

from kubetask_local import _errors as errors
from kubetask_local import _patch, _protobuf, _schema, _tables
from kubetask_local._events import core_field_selector, from_core, is_events_v1
from kubetask_local._logs import LogSource, serve_logs
from kubetask_local._objects import Obj, timestamp
from kubetask_local._resources import Registry, ResourceType
from kubetask_local._scale import scale_of, with_replicas
from kubetask_local._selectors import Predicate, parse_field_selector, parse_label_selector
from kubetask_local._store import Store
from kubetask_local._watch import serve_watch

JSON = "application/json"


def json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


@dataclasses.dataclass(frozen=True)
class Target:
    """A parsed resource URL."""

    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


def parse_target(registry: Registry, path: str) -> Target | None:
    """Resolve ``/api/v1/...`` and ``/apis/g/v/...`` paths of served resources; None for anything else."""
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) >= 3 and segments[0] == "api":
        group, version, rest = "", segments[1], segments[2:]
    elif len(segments) >= 4 and segments[0] == "apis":
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        return None
    watch_path = bool(rest) and rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        candidate = registry.get(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = registry.get(group, version, rest[0])
    if resource is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    return Target(resource, namespace, name, subresource, watch_path)


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


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


class ResourceHandlers:
    """The verbs on resource URLs. Everything but watch and logs answers synchronously from the store."""

    def __init__(self, store: Store, *, bookmark_interval: float) -> None:
        self.store = store
        self.bookmark_interval = bookmark_interval
        self.log_source: LogSource | None = None
        self.watch_drop_after: Callable[[], float | None] = lambda: None

    # ------------------------------------------------------------------ dispatch

    async def handle(
        self, raw: aiohttp.web.BaseRequest, target: Target, body: bytes
    ) -> aiohttp.web.StreamResponse:
        params = dict(raw.query)
        method = raw.method.upper()
        accept = raw.headers.get("Accept", "")
        content_type = raw.headers.get("Content-Type", JSON).split(";")[0].strip().lower()
        resource, sub = target.resource, target.subresource
        if sub is not None and sub not in resource.subresources and sub != "finalize":
            raise errors.not_found(
                group=resource.group, plural=f"{resource.plural}/{sub}", name=target.name or ""
            )
        if resource.namespaced and target.namespace is None and target.name is not None:
            raise errors.not_found(group=resource.group, plural=resource.plural, name=target.name)
        if sub == "scale":
            return self._scale(target, method, body, content_type)
        if sub == "binding":
            if method != "POST":
                raise errors.method_not_allowed(f"{method} is not supported on pods/binding; POST a Binding")
            return self._bind(target, decode_body(body, content_type))
        if sub == "log":
            return await self._logs(raw, target, params)
        if method == "GET" and sub is None and (target.watch_path or _truthy(params.get("watch"))):
            return await self._watch(raw, target, params, accept)  # a collection, or one object by name
        if target.name is None:
            if method == "GET":
                return json_response(self._list(target, params, accept))
            if method == "POST":
                return self._create(target, params, decode_body(body, content_type))
            if method == "DELETE":
                return json_response(self._delete_collection(target, params))
            raise errors.method_not_allowed(f"{method} is not supported on the collection {raw.path}")
        if method == "GET":
            obj = self.store.get(resource, target.namespace, target.name)
            return json_response(self._render(resource, obj, accept))
        if method == "PUT":
            return self._replace(target, params, decode_body(body, content_type))
        if method == "PATCH":
            return self._patch(target, params, decode_body(body, content_type), content_type)
        if method == "DELETE":
            return self._delete(target, params, decode_body(body, content_type))
        raise errors.method_not_allowed(f"{method} is not supported on {raw.path}")

    # ------------------------------------------------------------------ rendering

    def _render(self, resource: ResourceType, obj: Obj, accept: str) -> Any:
        obj = self._versioned(resource, obj)
        if "as=Table" in accept:
            return _tables.table(resource, [obj], resource_version=obj["metadata"].get("resourceVersion", ""))
        if "as=PartialObjectMetadata" in accept:
            return {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        return obj

    @staticmethod
    def _versioned(resource: ResourceType, obj: Obj) -> Obj:
        """The object as the requested version shows it."""
        if is_events_v1(resource) and obj.get("apiVersion") == "v1":
            return from_core(obj)
        if obj.get("apiVersion") != resource.api_version:
            return {**obj, "apiVersion": resource.api_version}
        return obj

    # ------------------------------------------------------------------ list & watch

    def _predicates(self, resource: ResourceType, params: Mapping[str, str]) -> list[Predicate]:
        field_selector = params.get("fieldSelector")
        if field_selector and is_events_v1(resource):
            field_selector = core_field_selector(field_selector)
        predicates = [
            parse_label_selector(params.get("labelSelector")),
            parse_field_selector(field_selector, kind=resource.kind, custom=resource.custom),
        ]
        return [predicate for predicate in predicates if predicate is not None]

    def _list(self, target: Target, params: Mapping[str, str], accept: str) -> Any:
        resource = target.resource
        predicates = self._predicates(resource, params)
        limit = int(params.get("limit") or 0)
        start_after = None
        if params.get("continue"):
            start_after = self._decode_continue(resource, params["continue"])
        items: list[Obj] = []
        continue_token, remaining = None, 0
        for obj in self.store.iter_objects(resource, target.namespace):
            meta = obj["metadata"]
            position = f"{meta.get('namespace', '')}/{meta['name']}"
            if start_after is not None and position <= start_after:
                continue
            if not all(predicate(obj) for predicate in predicates):
                continue
            if limit and len(items) >= limit:
                remaining += 1
                continue
            items.append(self._versioned(resource, obj))
        if remaining:
            last = items[-1]["metadata"]
            continue_token = self._encode_continue(f"{last.get('namespace', '')}/{last['name']}")
        resource_version = str(self.store.resource_version)
        if "as=Table" in accept:
            return _tables.table(
                resource,
                items,
                resource_version=resource_version,
                include_object=params.get("includeObject", "Metadata"),
                continue_token=continue_token,
                remaining=remaining,
            )
        metadata: dict[str, Any] = {"resourceVersion": resource_version}
        if continue_token:
            metadata["continue"] = continue_token
            metadata["remainingItemCount"] = remaining
        if "as=PartialObjectMetadataList" in accept:
            return {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "items": [
                    {
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": item["metadata"],
                    }
                    for item in items
                ],
            }
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": metadata,
            "items": items,
        }

    def _encode_continue(self, position: str) -> str:
        token = {"v": "meta.k8s.io/v1", "rv": self.store.resource_version, "start": position}
        return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()

    def _decode_continue(self, resource: ResourceType, token: str) -> str:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            position, rv = str(data["start"]), int(data["rv"])
        except (ValueError, KeyError, TypeError) as error:
            raise errors.bad_request(f"continue key is not valid: {token!r}") from error
        if rv < self.store.oldest_resource_version(resource):
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter."
            )
        return position

    async def _watch(
        self,
        raw: aiohttp.web.BaseRequest,
        target: Target,
        params: Mapping[str, str],
        accept: str,
    ) -> aiohttp.web.StreamResponse:
        resource = target.resource
        predicates = self._predicates(resource, params)
        if target.name is not None:
            name = target.name
            predicates.append(lambda obj: (obj.get("metadata") or {}).get("name") == name)
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        return await serve_watch(
            raw,
            store=self.store,
            resource=resource,
            namespace=target.namespace,
            predicates=predicates,
            resource_version=params.get("resourceVersion"),
            timeout_seconds=timeout,
            bookmarks=_truthy(params.get("allowWatchBookmarks")),
            send_initial_events=_truthy(params.get("sendInitialEvents")),
            bookmark_interval=self.bookmark_interval,
            drop_after=self.watch_drop_after(),
            render=lambda obj: self._render(resource, obj, accept),
        )

    # ------------------------------------------------------------------ writes

    def _strict_check(self, resource: ResourceType, obj: Any, params: Mapping[str, str]) -> None:
        if (
            params.get("fieldValidation") == "Strict"
            and resource.custom
            and resource.schema is not None
            and isinstance(obj, Mapping)
        ):
            unknown = _schema.unknown_fields(resource.schema, obj)
            if unknown:
                raise errors.bad_request(
                    "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in unknown)
                )

    def _create(self, target: Target, params: Mapping[str, str], body: Any) -> aiohttp.web.Response:
        if target.subresource is not None:
            raise errors.method_not_allowed(f"POST is not supported on {target.subresource}")
        self._strict_check(target.resource, body, params)
        obj = self.store.create(
            target.resource, target.namespace, body, dry_run=params.get("dryRun") == "All"
        )
        return json_response(self._versioned(target.resource, obj), status=201)

    def _replace(self, target: Target, params: Mapping[str, str], body: Any) -> aiohttp.web.Response:
        assert target.name is not None
        self._strict_check(target.resource, body, params)
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
            dry_run=params.get("dryRun") == "All",
        )
        return json_response(self._versioned(target.resource, obj))

    def _patch(
        self,
        target: Target,
        params: Mapping[str, str],
        patch: Any,
        content_type: str,
    ) -> aiohttp.web.Response:
        assert target.name is not None
        resource = target.resource
        dry_run = params.get("dryRun") == "All"
        sub = "status" if target.subresource == "status" else None
        if content_type == "application/apply-patch+yaml":
            return self._apply(target, params, patch, sub=sub)
        old = self._versioned(resource, self.store.get(resource, target.namespace, target.name))
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
        self._strict_check(resource, new, params)
        obj = self.store.update(
            resource, target.namespace, target.name, new, subresource=sub, dry_run=dry_run
        )
        return json_response(self._versioned(resource, obj))

    def _apply(
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
        self._strict_check(resource, applied, params)
        dry_run = params.get("dryRun") == "All"
        existing = self.store.find(resource, target.namespace, target.name)
        existing = self._versioned(resource, existing) if existing is not None else None
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
            obj = self.store.create(resource, target.namespace, body, dry_run=dry_run)
            status = 201
        else:
            previous = self.store.applied_config(existing["metadata"]["uid"], manager)
            merged = _patch.apply_merge(existing, applied, previous)
            managers = [
                m for m in existing["metadata"].get("managedFields") or [] if m.get("manager") != manager
            ]
            merged["metadata"] = {**merged.get("metadata", {}), "managedFields": [*managers, entry]}
            if "resourceVersion" not in meta:
                merged["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            obj = self.store.update(
                resource, target.namespace, target.name, merged, subresource=sub, dry_run=dry_run
            )
            status = 200
        if not dry_run:
            self.store.remember_applied(obj["metadata"]["uid"], manager, applied)
        return json_response(self._versioned(resource, obj), status=status)

    def _scale(self, target: Target, method: str, body: bytes, content_type: str) -> aiohttp.web.Response:
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

    def _bind(self, target: Target, binding: Any) -> aiohttp.web.Response:
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

    def _delete(self, target: Target, params: Mapping[str, str], options: Any) -> aiohttp.web.Response:
        assert target.name is not None
        options = options if isinstance(options, Mapping) else {}
        grace = options.get("gracePeriodSeconds", params.get("gracePeriodSeconds"))
        propagation = options.get("propagationPolicy") or params.get("propagationPolicy")
        if propagation is None and options.get("orphanDependents") is True:
            propagation = "Orphan"
        dry_run = "All" in (options.get("dryRun") or []) or params.get("dryRun") == "All"
        resource = target.resource
        obj, gone = self.store.delete(
            resource,
            target.namespace,
            target.name,
            grace_period=int(grace) if grace is not None else None,
            propagation=propagation,
            preconditions=options.get("preconditions"),
            dry_run=dry_run,
        )
        if gone and not resource.custom and resource.plural not in ("pods", "namespaces"):
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
        return json_response(self._versioned(resource, obj), status=200 if gone else 202)

    def _delete_collection(self, target: Target, params: Mapping[str, str]) -> Any:
        resource = target.resource
        predicates = self._predicates(resource, params)
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

    # ------------------------------------------------------------------ logs

    async def _logs(
        self,
        raw: aiohttp.web.BaseRequest,
        target: Target,
        params: Mapping[str, str],
    ) -> aiohttp.web.StreamResponse:
        return await serve_logs(
            raw,
            store=self.store,
            target_namespace=target.namespace or "default",
            pod_name=target.name or "",
            params=params,
            source=self.log_source,
            pods=target.resource,
        )


def _fields_v1(applied: Any) -> Any:
    """The managedFields set of an applied configuration, in the ``f:`` notation of FieldsV1."""
    if isinstance(applied, Mapping):
        return {
            f"f:{key}": _fields_v1(value)
            for key, value in applied.items()
            if key not in ("apiVersion", "kind") and value is not None
        }
    return {}
