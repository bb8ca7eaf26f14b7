"""The in-memory object store: one global resourceVersion, per-resource indexes, history for watches.

Stored objects are never changed in place: every write builds a new dict (sharing untouched subtrees),
so responses, watch events and history can hold references without copying the store.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import datetime
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kubetask_local import _errors as errors
from kubetask_local._objects import (
    check_name,
    generated_name,
    now,
    pod_defaults,
    pod_qos_class,
    pod_update_causes,
    timestamp,
    validate_pod,
)
from kubetask_local._resources import GENERATION_KINDS, Registry, ResourceType, crd_resources

StoreKey = tuple[str, str]  # (group, plural): one storage for all served versions of a resource
Obj = dict[str, Any]
# A custom-resource hook: (resource, new object, old object or None) -> the defaulted, pruned object.
Validator = Callable[[ResourceType, Obj, Obj | None], Obj]

CRD_KEY: StoreKey = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES_KEY: StoreKey = ("", "namespaces")
NODES_KEY: StoreKey = ("", "nodes")
PODS_KEY: StoreKey = ("", "pods")
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    resource_version: int
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    old: Obj | None


@dataclasses.dataclass(eq=False)
class Watcher:
    """One open watch: the store feeds it; the HTTP side drains it."""

    namespace: str | None
    queue: asyncio.Queue[WatchEvent | None] = dataclasses.field(default_factory=asyncio.Queue)

    def close(self) -> None:
        self.queue.put_nowait(None)


def store_key(resource: ResourceType) -> StoreKey:
    return (resource.group, resource.plural)


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _owner_uids(obj: Obj | None) -> set[str]:
    refs = _meta(obj or {}).get("ownerReferences") or []
    return {ref["uid"] for ref in refs if isinstance(ref, dict) and isinstance(ref.get("uid"), str)}


def crd_with_status(crd: Obj) -> Obj:
    """Check a CRD as the real server does and give it the status it reports once names are accepted."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = _meta(crd).get("name", "")
    causes = []
    for field in ("group", "names", "versions", "scope"):
        if not spec.get(field):
            causes.append((f"spec.{field}", "Required value"))
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append((f"spec.names.{field}", "Required value"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if not causes and name != expected:
        causes.append(("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if causes:
        raise errors.invalid(
            group="apiextensions.k8s.io", kind="CustomResourceDefinition", name=name, causes=causes
        )
    stamp = timestamp()
    accepted = {
        "plural": names["plural"],
        "singular": names.get("singular", names["kind"].lower()),
        "kind": names["kind"],
        "listKind": names.get("listKind", names["kind"] + "List"),
        **({"shortNames": names["shortNames"]} if names.get("shortNames") else {}),
        **({"categories": names["categories"]} if names.get("categories") else {}),
    }
    conditions = [
        {"type": kind, "status": "True", "lastTransitionTime": stamp, "reason": reason, "message": message}
        for kind, reason, message in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    stored = [version["name"] for version in spec.get("versions") or [] if version.get("storage")]
    return {**crd, "status": {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}}


class Store:
    def __init__(self, registry: Registry, *, history_limit: int = 50_000) -> None:
        self.registry = registry
        self.validator: Validator | None = None
        self._history_limit = history_limit
        self._rv = 1
        self._objects: dict[StoreKey, dict[str, dict[str, Obj]]] = collections.defaultdict(dict)
        self._history: dict[StoreKey, collections.deque[WatchEvent]] = collections.defaultdict(
            collections.deque
        )
        self._horizon: dict[StoreKey, int] = collections.defaultdict(int)
        self._watchers: dict[StoreKey, set[Watcher]] = collections.defaultdict(set)
        self._by_uid: dict[str, tuple[StoreKey, str, str]] = {}
        self._dependents: dict[str, set[str]] = collections.defaultdict(set)  # owner uid -> dependent uids
        self._namespace_sizes: collections.Counter[str] = collections.Counter()
        self._applied: dict[str, dict[str, Any]] = {}  # uid -> field manager -> last applied config
        self._gc_pending: set[str] = set()
        self._gc_scheduled = False
        for name in INITIAL_NAMESPACES:
            self.create(self._resource(NAMESPACES_KEY), None, {"metadata": {"name": name}})

    # ------------------------------------------------------------------ reading

    @property
    def resource_version(self) -> int:
        return self._rv

    def _resource(self, key: StoreKey) -> ResourceType:
        for resource in self.registry:
            if store_key(resource) == key:
                return resource
        raise errors.internal(f"resource {key!r} is not registered")

    def find(self, resource: ResourceType, namespace: str | None, name: str) -> Obj | None:
        return self._objects[store_key(resource)].get(namespace or "", {}).get(name)

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.find(resource, namespace, name)
        if obj is None:
            raise errors.not_found(group=resource.group, plural=resource.plural, name=name)
        return obj

    def iter_objects(self, resource: ResourceType, namespace: str | None) -> Iterator[Obj]:
        """Objects in (namespace, name) order: the order of the real server's lists and continue tokens."""
        by_namespace = self._objects[store_key(resource)]
        namespaces = (
            [namespace or ""] if namespace is not None or not resource.namespaced else sorted(by_namespace)
        )
        if not resource.namespaced:
            namespaces = [""]
        for space in namespaces:
            objects = by_namespace.get(space, {})
            for name in sorted(objects):
                yield objects[name]

    def events_since(self, resource: ResourceType, resource_version: int) -> list[WatchEvent] | None:
        """History after a resourceVersion, or None when it is older than what is kept (410 Gone)."""
        key = store_key(resource)
        if resource_version < self._horizon[key]:
            return None
        return [event for event in self._history[key] if event.resource_version > resource_version]

    def oldest_resource_version(self, resource: ResourceType) -> int:
        return self._horizon[store_key(resource)]

    def subscribe(self, resource: ResourceType, namespace: str | None) -> Watcher:
        watcher = Watcher(namespace=namespace if resource.namespaced else None)
        self._watchers[store_key(resource)].add(watcher)
        return watcher

    def unsubscribe(self, resource: ResourceType, watcher: Watcher) -> None:
        self._watchers[store_key(resource)].discard(watcher)

    def close_all_watches(self) -> int:
        count = 0
        for watchers in self._watchers.values():
            for watcher in list(watchers):
                watcher.close()
                count += 1
        return count

    def compact(self) -> None:
        """Forget all watch history (as etcd compaction does): older resourceVersions then get 410."""
        for key in list(self._history):
            self._history[key].clear()
            self._horizon[key] = self._rv

    def applied_config(self, uid: str, manager: str) -> Any:
        return self._applied.get(uid, {}).get(manager)

    def remember_applied(self, uid: str, manager: str, config: Any) -> None:
        self._applied.setdefault(uid, {})[manager] = config

    # ------------------------------------------------------------------ writing: the common path

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _emit(self, key: StoreKey, kind: str, obj: Obj, old: Obj | None) -> None:
        event = WatchEvent(self._rv, kind, obj, old)
        history = self._history[key]
        history.append(event)
        if len(history) > self._history_limit:
            dropped = history.popleft()
            self._horizon[key] = dropped.resource_version
        namespace = _meta(obj).get("namespace")
        for watcher in self._watchers.get(key, ()):
            if watcher.namespace is None or watcher.namespace == namespace:
                watcher.queue.put_nowait(event)

    def _put(self, resource: ResourceType, obj: Obj, old: Obj | None) -> None:
        key = store_key(resource)
        meta = _meta(obj)
        namespace, name, uid = meta.get("namespace") or "", meta["name"], meta["uid"]
        self._objects[key].setdefault(namespace, {})[name] = obj
        if old is None:
            self._by_uid[uid] = (key, namespace, name)
            self._namespace_sizes[namespace] += 1
        self._index_owners(uid, old, obj)
        self._emit(key, "MODIFIED" if old is not None else "ADDED", obj, old)
        if key == CRD_KEY:
            self._sync_crd(obj, old)

    def _remove(self, resource: ResourceType, obj: Obj) -> None:
        """Remove the object for good: DELETED event, then garbage collection of its dependents."""
        key = store_key(resource)
        meta = _meta(obj)
        namespace, name, uid = meta.get("namespace") or "", meta["name"], meta["uid"]
        self._objects[key].get(namespace, {}).pop(name, None)
        self._by_uid.pop(uid, None)
        self._namespace_sizes[namespace] -= 1
        self._index_owners(uid, obj, None)
        self._applied.pop(uid, None)
        final = {**obj, "metadata": {**meta, "resourceVersion": self._next_rv()}}
        self._emit(key, "DELETED", final, obj)
        if key == CRD_KEY:
            self._drop_crd(obj)
        if uid in self._dependents:
            self._gc_pending.add(uid)
            self._schedule_gc()
        self._release_foreground_owners(obj)
        if namespace and self._namespace_sizes[namespace] == 0:
            self._finish_namespace(namespace)

    def _index_owners(self, uid: str, old: Obj | None, new: Obj | None) -> None:
        before = _owner_uids(old)
        after = _owner_uids(new)
        for owner in before - after:
            self._dependents[owner].discard(uid)
            if not self._dependents[owner]:
                del self._dependents[owner]
        for owner in after - before:
            self._dependents[owner].add(uid)

    # ------------------------------------------------------------------ create

    def create(
        self, resource: ResourceType, namespace: str | None, body: Obj, *, dry_run: bool = False
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body must be a JSON object, got {type(body).__name__}")
        meta = dict(_meta(body))
        if resource.namespaced:
            body_namespace = meta.get("namespace")
            if namespace and body_namespace and body_namespace != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = namespace or body_namespace or "default"
            self._require_namespace(namespace)
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
            namespace = None
        self._check_kind(resource, body)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = generated_name(str(meta["generateName"]))
                while self.find(resource, namespace, meta["name"]) is not None:
                    meta["name"] = generated_name(str(meta["generateName"]))
            else:
                raise errors.invalid(
                    group=resource.group,
                    kind=resource.kind,
                    name="",
                    causes=[("metadata.name", "Required value: name or generateName is required")],
                )
        name = meta["name"]
        check_name(name, kind=resource.kind, group=resource.group, label=resource.plural == "namespaces")
        if self.find(resource, namespace, name) is not None:
            raise errors.already_exists(group=resource.group, plural=resource.plural, name=name)
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timestamp()
        if self._has_generation(resource):
            meta["generation"] = 1
        obj: Obj = {**body, "apiVersion": resource.api_version, "kind": resource.kind, "metadata": meta}
        obj = self._builtin_create_defaults(resource, obj)
        if resource.custom and resource.has_status:
            obj.pop("status", None)
        obj = self._validate(resource, obj, None)
        if dry_run:
            return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._put(resource, obj, None)
        if resource.plural == "namespaces" and not resource.group:
            self._populate_namespace(name)
        owners = [ref.get("uid") for ref in meta.get("ownerReferences") or [] if isinstance(ref, dict)]
        if owners and not any(owner in self._by_uid for owner in owners):
            self._gc_pending.add(meta["uid"])  # a dependent of owners that are gone: collect it
            self._schedule_gc()
        return obj

    def _require_namespace(self, namespace: str) -> None:
        space = self._objects[NAMESPACES_KEY].get("", {}).get(namespace)
        if space is None:
            raise errors.not_found(group="", plural="namespaces", name=namespace)
        if _meta(space).get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                details={"name": namespace, "kind": "namespaces"},
            )

    def _check_kind(self, resource: ResourceType, body: Obj) -> None:
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind is not None and kind != resource.kind:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({resource.api_version})"
                if api_version not in (None, resource.api_version)
                else f"the kind in the data ({kind!r}) does not match the expected kind ({resource.kind!r})"
            )

    def _has_generation(self, resource: ResourceType) -> bool:
        return resource.custom or resource.kind in GENERATION_KINDS

    def _spec_status_split(self, resource: ResourceType) -> bool:
        return resource.has_status

    def _builtin_create_defaults(self, resource: ResourceType, obj: Obj) -> Obj:
        if store_key(resource) == CRD_KEY:
            return crd_with_status(obj)
        if resource.group or resource.custom:
            return obj
        if resource.plural == "pods":
            causes = validate_pod(obj)
            if causes:
                raise errors.invalid(group="", kind="Pod", name=obj["metadata"]["name"], causes=causes)
            obj = pod_defaults(obj)
            obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj)}
        elif resource.plural == "namespaces":
            labels = {
                **(obj["metadata"].get("labels") or {}),
                "kubernetes.io/metadata.name": obj["metadata"]["name"],
            }
            obj["metadata"]["labels"] = labels
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        elif resource.plural == "secrets":
            obj = self._secret_defaults(obj)
        return obj

    def _secret_defaults(self, obj: Obj) -> Obj:
        string_data = obj.pop("stringData", None) or {}
        data = dict(obj.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        if data:
            obj["data"] = data
        obj.setdefault("type", "Opaque")
        return obj

    def _populate_namespace(self, namespace: str) -> None:
        """What the namespace controllers add to a new namespace: the default service account."""
        accounts = self._resource(("", "serviceaccounts"))
        if self.find(accounts, namespace, "default") is None:
            self.create(accounts, namespace, {"metadata": {"name": "default"}})

    def _validate(self, resource: ResourceType, obj: Obj, old: Obj | None) -> Obj:
        if resource.custom and self.validator is not None:
            return self.validator(resource, obj, old)
        return obj

    # ------------------------------------------------------------------ update (PUT, PATCH, apply)

    def update(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        new: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Replace the object (PUT, or the result of a patch), keeping what the server owns."""
        old = self.get(resource, namespace, name)
        if not isinstance(new, dict):
            raise errors.bad_request(f"the body must be a JSON object, got {type(new).__name__}")
        self._check_kind(resource, new)
        meta = dict(_meta(new))
        old_meta = _meta(old)
        given_rv = meta.get("resourceVersion")
        if given_rv not in (None, "") and str(given_rv) != old_meta["resourceVersion"]:
            raise errors.stale_resource_version(group=resource.group, plural=resource.plural, name=name)
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        obj = self._written_object(resource, old, new, meta, subresource=subresource)
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        if store_key(resource) == CRD_KEY:
            obj = crd_with_status(obj)
        if resource.plural == "secrets" and not resource.group:
            obj = self._secret_defaults(obj)
        if resource.plural == "pods" and not resource.group and subresource != "status":
            obj = pod_defaults(obj)
            causes = pod_update_causes(old, obj)
            if causes:
                raise errors.invalid(group="", kind="Pod", name=name, causes=causes)
        obj = self._validate(resource, obj, old)
        if self._has_generation(resource) and self._spec_changed(resource, old, obj):
            obj["metadata"] = {**obj["metadata"], "generation": int(old_meta.get("generation", 1)) + 1}
        if dry_run:
            return obj
        if {**obj, "metadata": {**obj["metadata"], "resourceVersion": old_meta["resourceVersion"]}} == old:
            return old  # a no-op write does not bump resourceVersion (as in the real server)
        obj["metadata"] = {**obj["metadata"], "resourceVersion": self._next_rv()}
        meta = obj["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not self._awaits_kubelet(resource, obj)
        ):
            self._put(resource, obj, old)
            self._remove(resource, obj)
            return obj
        self._put(resource, obj, old)
        if meta.get("deletionTimestamp") and resource.plural == "namespaces" and not resource.group:
            self._finish_namespace(name)
        return obj

    def _written_object(
        self, resource: ResourceType, old: Obj, new: Obj, meta: dict[str, Any], *, subresource: str | None
    ) -> Obj:
        """What a write stores: status only through /status, server-owned metadata always from the old."""
        old_meta = _meta(old)
        name = old_meta["name"]
        if subresource == "status":
            # Only status moves; the rest (metadata included) stays as stored.
            obj: Obj = {key: value for key, value in old.items() if key != "status"}
            if "status" in new:
                obj["status"] = new["status"]
            obj["metadata"] = dict(old_meta)
        else:
            obj = dict(new)
            if self._spec_status_split(resource):
                if "status" in old:
                    obj["status"] = old["status"]
                else:
                    obj.pop("status", None)
            for field in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "namespace",
                "name",
            ):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    raise errors.invalid(
                        group=resource.group,
                        kind=resource.kind,
                        name=name,
                        causes=[
                            (
                                "metadata.finalizers",
                                f"Forbidden: no new finalizers can be added if the object is being deleted, "
                                f"found new finalizers {sorted(added)!r}",
                            )
                        ],
                    )
            obj["metadata"] = meta
        return obj

    def bind(self, resource: ResourceType, namespace: str | None, name: str, node: str) -> Obj:
        """Place a pod on a node (``spec.nodeName`` plus the PodScheduled condition), once."""
        old = self.get(resource, namespace, name)
        bound = (old.get("spec") or {}).get("nodeName")
        if bound:
            raise errors.conflict(
                group="", plural="pods", name=name, why=f'pod {name} is already assigned to node "{bound}"'
            )
        if _meta(old).get("deletionTimestamp"):
            raise errors.conflict(
                group="", plural="pods", name=name, why="pod is being deleted, cannot be assigned"
            )
        status = dict(old.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": timestamp(),
            }
        )
        status["conditions"] = conditions
        obj = {
            **old,
            "spec": {**(old.get("spec") or {}), "nodeName": node},
            "status": status,
            "metadata": {**_meta(old), "resourceVersion": self._next_rv()},
        }
        self._put(resource, obj, old)
        return obj

    def _spec_changed(self, resource: ResourceType, old: Obj, new: Obj) -> bool:
        ignored = (
            {"metadata", "status"}
            if self._spec_status_split(resource) or not resource.custom
            else {"metadata"}
        )
        keys = (set(old) | set(new)) - ignored - {"apiVersion", "kind"}
        return any(old.get(key) != new.get(key) for key in keys)

    def _awaits_kubelet(self, resource: ResourceType, obj: Obj) -> bool:
        """A pod with a grace period on a live node stays until the node deletes it with grace 0."""
        if resource.plural != "pods" or resource.group:
            return False
        return int(_meta(obj).get("deletionGracePeriodSeconds") or 0) > 0 and self._node_manages(obj)

    def _node_manages(self, pod: Obj) -> bool:
        node = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        return (
            bool(node)
            and phase not in ("Succeeded", "Failed")
            and (node in self._objects[NODES_KEY].get("", {}))
        )

    # ------------------------------------------------------------------ delete

    def delete(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        *,
        grace_period: int | None = None,
        propagation: str | None = None,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Delete as the real server does; answers the last state and whether it is gone already."""
        old = self.get(resource, namespace, name)
        old_meta = _meta(old)
        self._check_preconditions(resource, old_meta, preconditions)
        propagation = propagation or "Background"
        if propagation not in ("Background", "Foreground", "Orphan"):
            raise errors.bad_request(
                f"propagationPolicy: Unsupported value: {propagation!r}: supported values: "
                '"Foreground", "Background", "Orphan"'
            )
        if dry_run:
            return old, False
        finalizers = list(old_meta.get("finalizers") or [])
        is_pod = resource.plural == "pods" and not resource.group
        is_namespace = resource.plural == "namespaces" and not resource.group
        if propagation == "Orphan":
            self._orphan_dependents(old_meta["uid"])
        elif (
            propagation == "Foreground"
            and self._dependents.get(old_meta["uid"])
            and FOREGROUND not in finalizers
        ):
            finalizers.append(FOREGROUND)
        grace = self._grace_period(resource, old, grace_period)
        pending = bool(finalizers) or grace > 0 or is_namespace
        if not pending:
            self._remove(resource, old)
            return old, True
        meta = dict(old_meta)
        changed = False
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = timestamp(now() + datetime.timedelta(seconds=grace))
            meta["deletionGracePeriodSeconds"] = grace
            changed = True
        elif is_pod and grace < int(meta.get("deletionGracePeriodSeconds") or 0):
            meta["deletionGracePeriodSeconds"] = grace
            changed = True
        if finalizers != list(old_meta.get("finalizers") or []):
            meta["finalizers"] = finalizers
            changed = True
        obj = {**old, "metadata": meta}
        if is_namespace and (old.get("status") or {}).get("phase") != "Terminating":
            obj["status"] = {**(old.get("status") or {}), "phase": "Terminating"}
            changed = True
        if is_pod and grace == 0 and not finalizers:
            self._remove(resource, old)
            return old, True
        if changed:
            meta["resourceVersion"] = self._next_rv()
            self._put(resource, obj, old)
        if propagation in ("Background", "Foreground"):
            self._gc_pending.add(old_meta["uid"])
            self._schedule_gc()
        if is_namespace:
            self._delete_namespace_content(name)
            self._finish_namespace(name)
        return obj, False

    def _check_preconditions(
        self, resource: ResourceType, old_meta: Mapping[str, Any], preconditions: Mapping[str, Any] | None
    ) -> None:
        for field in ("uid", "resourceVersion"):
            wanted = (preconditions or {}).get(field)
            label = "UID" if field == "uid" else "ResourceVersion"
            if wanted and wanted != old_meta.get(field):
                raise errors.conflict(
                    group=resource.group,
                    plural=resource.plural,
                    name=old_meta["name"],
                    why=(
                        f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: "
                        f"{old_meta.get(field)}"
                    ),
                )

    def _grace_period(self, resource: ResourceType, old: Obj, requested: int | None) -> int:
        """Pods on a live node get a grace period (the node finishes them); everything else goes at once."""
        if resource.plural != "pods" or resource.group or not self._node_manages(old):
            return 0
        spec_grace = (old.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        return int(spec_grace if requested is None else requested)

    def _orphan_dependents(self, owner_uid: str) -> None:
        for dependent_uid in list(self._dependents.get(owner_uid, ())):
            located = self._by_uid.get(dependent_uid)
            if located is None:
                continue
            key, namespace, name = located
            dependent = self._objects[key][namespace][name]
            meta = _meta(dependent)
            refs = [ref for ref in meta.get("ownerReferences") or [] if ref.get("uid") != owner_uid]
            new_meta = {**meta, "ownerReferences": refs, "resourceVersion": self._next_rv()}
            if not refs:
                new_meta.pop("ownerReferences")
            self._put(self._resource(key), {**dependent, "metadata": new_meta}, dependent)

    # ------------------------------------------------------------------ garbage collection & namespaces

    def _schedule_gc(self) -> None:
        if self._gc_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.collect_garbage()
            return
        self._gc_scheduled = True
        loop.call_soon(self.collect_garbage)

    def collect_garbage(self) -> None:
        """Background cascade: delete dependents whose owners are all gone or in foreground deletion."""
        self._gc_scheduled = False
        for _ in range(100_000):
            if not self._gc_pending:
                return
            uid = self._gc_pending.pop()
            if uid not in self._by_uid or FOREGROUND in (
                _meta(self._by_uid_obj(uid)).get("finalizers") or []
            ):  # an owner that is gone: its dependents go too
                candidates = set(self._dependents.get(uid, ()))
            elif self._owners_gone(uid):  # created with owners that do not exist
                candidates = {uid}
            else:
                candidates = set()
            for dependent_uid in candidates:
                self._collect_one(dependent_uid)

    def _owners_gone(self, uid: str) -> bool:
        located = self._by_uid.get(uid)
        if located is None:
            return False
        key, namespace, name = located
        refs = _meta(self._objects[key][namespace][name]).get("ownerReferences") or []
        return bool(refs) and not any(ref.get("uid") in self._by_uid for ref in refs)

    def _collect_one(self, uid: str) -> None:
        located = self._by_uid.get(uid)
        if located is None:
            return
        key, namespace, name = located
        obj = self._objects[key][namespace][name]
        refs = _meta(obj).get("ownerReferences") or []
        live_owners = [
            ref
            for ref in refs
            if ref.get("uid") in self._by_uid
            and not _meta(self._by_uid_obj(ref["uid"])).get("deletionTimestamp")
        ]
        if live_owners or _meta(obj).get("deletionTimestamp"):
            return
        self.delete(self._resource(key), namespace or None, name, propagation="Background")

    def _by_uid_obj(self, uid: str) -> Obj:
        key, namespace, name = self._by_uid[uid]
        return self._objects[key][namespace][name]

    def _release_foreground_owners(self, removed: Obj) -> None:
        """When the last dependent of an owner in foreground deletion goes, the owner's finalizer goes."""
        for ref in _meta(removed).get("ownerReferences") or []:
            owner_uid = ref.get("uid")
            if owner_uid not in self._by_uid or self._dependents.get(owner_uid):
                continue
            owner = self._by_uid_obj(owner_uid)
            finalizers = _meta(owner).get("finalizers") or []
            if FOREGROUND in finalizers:
                key, namespace, name = self._by_uid[owner_uid]
                remaining = [f for f in finalizers if f != FOREGROUND]
                self.update(
                    self._resource(key),
                    namespace or None,
                    name,
                    {**owner, "metadata": {**_meta(owner), "finalizers": remaining}},
                )

    def _delete_namespace_content(self, namespace: str) -> None:
        for resource in self.registry:
            if not resource.namespaced:
                continue
            objects = self._objects[store_key(resource)].get(namespace, {})
            for name in list(objects):
                obj = objects.get(name)
                if obj is not None and not _meta(obj).get("deletionTimestamp"):
                    self.delete(
                        resource, namespace, name, grace_period=0 if resource.plural == "pods" else None
                    )

    def _finish_namespace(self, namespace: str) -> None:
        space = self._objects[NAMESPACES_KEY].get("", {}).get(namespace)
        if space is None or not _meta(space).get("deletionTimestamp") or self._namespace_sizes[namespace] > 0:
            return
        if _meta(space).get("finalizers"):
            return
        self._remove(self._resource(NAMESPACES_KEY), space)

    # ------------------------------------------------------------------ CRDs

    def _sync_crd(self, crd: Obj, old: Obj | None) -> None:
        for resource in crd_resources(old or {}):
            self.registry.remove(resource.key)
        for resource in crd_resources(crd):
            self.registry.add(resource)

    def _drop_crd(self, crd: Obj) -> None:
        resources = crd_resources(crd)
        if resources:
            key = store_key(resources[0])
            for objects in list(self._objects.get(key, {}).values()):
                for obj in list(objects.values()):
                    self._remove(resources[0], obj)
        for resource in resources:
            self.registry.remove(resource.key)
