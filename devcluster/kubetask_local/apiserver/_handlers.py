"""Kubernetes API requests dispatched by verb: reads (get, list, watch, logs) here, writes in ``_writes``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp.web

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver import _tables
from kubetask_local.apiserver._attach import serve_attach
from kubetask_local.apiserver._logs import LogSource, serve_logs
from kubetask_local.apiserver._objects import Obj
from kubetask_local.apiserver._resources import ResourceType
from kubetask_local.apiserver._store import Store
from kubetask_local.apiserver._targets import Target
from kubetask_local.apiserver._watch import serve_watch
from kubetask_local.apiserver._wire import (
    JSON,
    decode_body,
    json_response,
    render,
    selection_predicates,
    versioned,
)
from kubetask_local.apiserver._writes import Writes


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


# Pod subresources of a real API server that the local cluster leaves out: a clear answer, not a 404 that
# reads as if the pod were missing.
_UNSERVED_POD_SUBRESOURCES = {
    "exec": "its pods are processes on this machine, so run the command here; kubectl logs and attach work",
    "portforward": "its pods are processes on this machine and listen on 127.0.0.1 directly",
    "proxy": "its pods are processes on this machine and listen on 127.0.0.1 directly",
    "eviction": "there is no disruption controller; delete the pod instead",
    "ephemeralcontainers": "the local node runs no ephemeral containers",
    "resize": "the local node does not resize containers",
}


class ResourceHandlers:
    """The verbs on resource URLs. Everything but watch and logs answers synchronously from the store."""

    def __init__(self, store: Store, *, bookmark_interval: float) -> None:
        self.store = store
        self.writes = Writes(store)
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
        if resource.plural == "pods" and not resource.group and sub in _UNSERVED_POD_SUBRESOURCES:
            raise errors.bad_request(
                f"pods/{sub} is not served by the kubetask local cluster: {_UNSERVED_POD_SUBRESOURCES[sub]}"
            )
        if sub is not None and sub not in resource.subresources and sub != "finalize":
            raise errors.not_found(
                group=resource.group, plural=f"{resource.plural}/{sub}", name=target.name or ""
            )
        if resource.namespaced and target.namespace is None and target.name is not None:
            raise errors.not_found(group=resource.group, plural=resource.plural, name=target.name)
        if sub == "scale":
            return self.writes.scale(target, method, body, content_type)
        if sub == "binding":
            if method != "POST":
                raise errors.method_not_allowed(f"{method} is not supported on pods/binding; POST a Binding")
            return self.writes.bind(target, decode_body(body, content_type))
        if sub == "log":
            return await self._logs(raw, target, params)
        if sub == "attach":
            return await serve_attach(
                raw,
                store=self.store,
                pods=resource,
                target_namespace=target.namespace or "default",
                pod_name=target.name or "",
                params=params,
                source=self.log_source,
            )
        if method == "GET" and sub is None and (target.watch_path or _truthy(params.get("watch"))):
            return await self._watch(raw, target, params, accept)  # a collection, or one object by name
        if target.name is None:
            if method == "GET":
                return json_response(self._list(target, params, accept))
            if method == "POST":
                return self.writes.create(target, params, decode_body(body, content_type))
            if method == "DELETE":
                return json_response(self.writes.delete_collection(target, params))
            raise errors.method_not_allowed(f"{method} is not supported on the collection {raw.path}")
        if method == "GET":
            obj = self.store.get(resource, target.namespace, target.name)
            return json_response(render(resource, obj, accept))
        if method == "PUT":
            return self.writes.replace(target, params, decode_body(body, content_type))
        if method == "PATCH":
            return self.writes.patch(target, params, decode_body(body, content_type), content_type)
        if method == "DELETE":
            return self.writes.delete(target, params, decode_body(body, content_type))
        raise errors.method_not_allowed(f"{method} is not supported on {raw.path}")

    # ------------------------------------------------------------------ list & watch

    def _list(self, target: Target, params: Mapping[str, str], accept: str) -> Any:
        resource = target.resource
        check_list_options(params, watch=False)
        predicates = selection_predicates(resource, params)
        limit = int(params.get("limit") or 0)
        start_after = None
        if params.get("continue"):
            start_after = self._decode_continue(resource, params["continue"])
        items: list[Obj] = []
        continue_token, remaining = None, 0
        listed_version = self.store.resource_version
        objects: Iterable[Obj] = self.store.iter_objects(resource, target.namespace)
        if params.get("resourceVersionMatch") == "Exact":
            listed_version = int(params["resourceVersion"])
            objects = self._objects_at(target, listed_version)
        elif params.get("resourceVersionMatch") == "NotOlderThan":
            self._require_not_newer(params["resourceVersion"])
        for obj in objects:
            meta = obj["metadata"]
            position = f"{meta.get('namespace', '')}/{meta['name']}"
            if start_after is not None and position <= start_after:
                continue
            if not all(predicate(obj) for predicate in predicates):
                continue
            if limit and len(items) >= limit:
                remaining += 1
                continue
            items.append(versioned(resource, obj))
        if remaining:
            last = items[-1]["metadata"]
            continue_token = self._encode_continue(f"{last.get('namespace', '')}/{last['name']}")
        resource_version = str(listed_version)
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

    def _require_not_newer(self, text: str) -> None:
        """A version the store has not reached: the real server waits up to 3 s for it, then answers 504; this
        one answers at once (its writes are synchronous, so waiting could not help)."""
        wanted = _parse_version(text)
        if wanted > self.store.resource_version:
            raise errors.ApiError(
                504,
                "Timeout",
                f"Too large resource version: {wanted}, current: {self.store.resource_version}",
                details={
                    "causes": [
                        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                    ],
                    "retryAfterSeconds": 1,
                },
            )

    def _objects_at(self, target: Target, version: int) -> list[Obj]:
        """The collection as it was at ``version`` (``resourceVersionMatch=Exact``), rebuilt from the current
        objects by undoing the history after it; 410 once that history is compacted, as etcd answers."""
        self._require_not_newer(str(version))
        events = self.store.events_since(target.resource, version)
        if events is None:
            raise errors.gone(
                f"too old resource version: {version} ({self.store.oldest_resource_version(target.resource)})"
            )
        state = {
            (obj["metadata"].get("namespace", ""), obj["metadata"]["name"]): obj
            for obj in self.store.iter_objects(target.resource, target.namespace)
        }
        for event in reversed(events):
            meta = event.obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if target.namespace is not None and key[0] != target.namespace:
                continue
            if event.type == "ADDED":
                state.pop(key, None)
            elif event.old is not None:
                state[key] = event.old
        return [state[key] for key in sorted(state)]

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
        check_list_options(params, watch=True)
        predicates = selection_predicates(resource, params)
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
            render=lambda obj: render(resource, obj, accept),
        )

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


def _parse_version(text: str) -> int:
    try:
        return int(text)
    except ValueError as error:
        raise errors.bad_request(f'invalid resource version "{text}"') from error


def check_list_options(params: Mapping[str, str], *, watch: bool) -> None:
    """ValidateListOptions (k8s.io/apimachinery/pkg/apis/meta/internalversion/validation): misuse of
    ``resourceVersionMatch`` is 422 Invalid on ``ListOptions.meta.k8s.io``."""
    match = params.get("resourceVersionMatch", "")
    version = params.get("resourceVersion", "")
    forbidden = "resourceVersionMatch is forbidden"
    why = ""
    if not match:
        return
    if watch:
        if not _truthy(params.get("sendInitialEvents")):
            why = f"Forbidden: {forbidden} for watch unless sendInitialEvents is provided"
    elif match not in ("Exact", "NotOlderThan"):
        why = f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan", ""'
    elif not version:
        why = f"Forbidden: {forbidden} unless resourceVersion is provided"
    elif params.get("continue"):
        why = f"Forbidden: {forbidden} when continue is provided"
    elif match == "Exact" and version == "0":
        why = 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
    if why:
        raise errors.invalid(
            group="meta.k8s.io", kind="ListOptions", name="", causes=[("resourceVersionMatch", why)]
        )
