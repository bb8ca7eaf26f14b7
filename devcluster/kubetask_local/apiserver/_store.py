"""The in-memory object store: one global resourceVersion, per-resource indexes, history for watches.

Stored objects are never changed in place: every write builds a new dict (sharing untouched subtrees),
so responses, watch events and history can hold references without copying the store.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver._admission import (
    ROOT_CA_CONFIG_MAP,
    SERVICE_ACCOUNT_VOLUME_PREFIX,
    SYSTEM_PRIORITY_CLASSES,
    admit_default_toleration_seconds,
    admit_pod_security,
    admit_priority,
    admit_quota,
    admit_runtime_class,
    admit_service_account,
    quota_kind_key,
    quota_status,
    root_ca_config_map,
)
from kubetask_local.apiserver._crds import crd_with_status
from kubetask_local.apiserver._events import is_events_v1, to_core
from kubetask_local.apiserver._lifecycle import Lifecycle
from kubetask_local.apiserver._objects import (
    Obj,
    check_name,
    check_path_segment_name,
    generated_name,
    object_meta,
    owner_uids,
    pod_defaults,
    pod_qos_class,
    pod_update_causes,
    timestamp,
)
from kubetask_local.apiserver._rbac import RBAC_GROUP, RbacObjects
from kubetask_local.apiserver._resources import (
    CRD_KEY,
    GENERATION_KINDS,
    NAMESPACES_KEY,
    NODES_KEY,
    Registry,
    ResourceType,
    StoreKey,
    crd_resources,
    store_key,
)
from kubetask_local.apiserver._validation import builtin_causes, metadata_causes

# A custom-resource hook: (resource, new object, old object or None) -> the defaulted, pruned object.
Validator = Callable[[ResourceType, Obj, Obj | None], Obj]

PODS_KEY: StoreKey = ("", "pods")
QUOTAS_KEY: StoreKey = ("", "resourcequotas")
PRIORITY_CLASSES_KEY: StoreKey = ("scheduling.k8s.io", "priorityclasses")
# etcd's default --max-request-bytes (1.5 MiB): a larger object is refused by the storage, and the API server
# passes etcd's error on as a 500 (kubernetes/kubernetes#112152, #74600; etcd server/embed/config.go).
ETCD_MAX_REQUEST_BYTES = 1536 * 1024


def check_storable(obj: Obj) -> None:
    """Refuse an object etcd would refuse: larger than its request limit once serialised."""
    size = len(json.dumps(obj, separators=(",", ":")).encode())
    if size > ETCD_MAX_REQUEST_BYTES:
        raise errors.ApiError(500, "InternalError", "etcdserver: request is too large")


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
    graceful: bool = False  # how a close ends the stream: a proper end, or cut mid-stream

    def close(self, *, graceful: bool) -> None:
        self.graceful = graceful
        self.queue.put_nowait(None)


class Store(Lifecycle):
    def __init__(self, registry: Registry, *, history_limit: int = 50_000) -> None:
        self.registry = registry
        self.validator: Validator | None = None
        self.root_ca_pem: str | None = None
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
        self._forfeited: dict[str, dict[str, set[str]]] = {}  # uid -> field manager -> paths taken over
        self._gc_pending: set[str] = set()
        self._gc_scheduled = False
        for name in INITIAL_NAMESPACES:
            self.create(self._resource(NAMESPACES_KEY), None, {"metadata": {"name": name}})
        self._add_system_priority_classes()

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

    def stats(self) -> dict[str, Any]:
        """Object counts by resource and open watches: what the admin ``stats`` route shows."""
        counts = {
            f"{plural}.{group}" if group else plural: sum(len(objects) for objects in spaces.values())
            for (group, plural), spaces in self._objects.items()
        }
        return {
            "resourceVersion": str(self._rv),
            "objects": {name: count for name, count in sorted(counts.items()) if count},
            "watches": sum(len(watchers) for watchers in self._watchers.values()),
        }

    def close_all_watches(self, *, graceful: bool) -> int:
        """End every open watch: properly (server shutdown) or by cutting it (fault injection)."""
        count = 0
        for watchers in self._watchers.values():
            for watcher in list(watchers):
                watcher.close(graceful=graceful)
                count += 1
        return count

    def compact(self) -> None:
        """Forget all watch history (as etcd compaction does): older resourceVersions then get 410."""
        for key in list(self._history):
            self._history[key].clear()
            self._horizon[key] = self._rv

    def applied_config(self, uid: str, manager: str) -> Any:
        return self._applied.get(uid, {}).get(manager)

    def other_appliers(self, uid: str, manager: str) -> dict[str, Any]:
        """The last applied configurations of the other Apply managers of an object."""
        return {name: config for name, config in self._applied.get(uid, {}).items() if name != manager}

    def forfeited(self, uid: str) -> dict[str, set[str]]:
        """Fields other appliers lost to a forced apply, by manager."""
        return self._forfeited.setdefault(uid, {})

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
        namespace = object_meta(obj).get("namespace")
        for watcher in self._watchers.get(key, ()):
            if watcher.namespace is None or watcher.namespace == namespace:
                watcher.queue.put_nowait(event)

    def _put(self, resource: ResourceType, obj: Obj, old: Obj | None) -> None:
        key = store_key(resource)
        meta = object_meta(obj)
        namespace, name, uid = meta.get("namespace") or "", meta["name"], meta["uid"]
        self._objects[key].setdefault(namespace, {})[name] = obj
        if old is None:
            self._by_uid[uid] = (key, namespace, name)
            self._namespace_sizes[namespace] += 1
        self._index_owners(uid, old, obj)
        self._emit(key, "MODIFIED" if old is not None else "ADDED", obj, old)
        if key == CRD_KEY:
            self._sync_crd(obj, old)
        self._refresh_quotas(key, namespace)
        self._root_ca_changed(key, namespace, name)

    def _remove(self, resource: ResourceType, obj: Obj) -> None:
        """Remove the object for good: DELETED event, then garbage collection of its dependents."""
        key = store_key(resource)
        meta = object_meta(obj)
        namespace, name, uid = meta.get("namespace") or "", meta["name"], meta["uid"]
        self._objects[key].get(namespace, {}).pop(name, None)
        self._by_uid.pop(uid, None)
        self._namespace_sizes[namespace] -= 1
        self._index_owners(uid, obj, None)
        self._applied.pop(uid, None)
        self._forfeited.pop(uid, None)
        final = {**obj, "metadata": {**meta, "resourceVersion": self._next_rv()}}
        self._emit(key, "DELETED", final, obj)
        self._refresh_quotas(key, namespace)
        if key == CRD_KEY:
            self._drop_crd(obj)
        if uid in self._dependents:
            self._gc_pending.add(uid)
            self._schedule_gc()
        self._release_foreground_owners(obj)
        if resource.custom and (crd := self.terminating_crd(resource)) is not None:
            self.release_crd(crd)
        if namespace and self._namespace_sizes[namespace] == 0:
            self._finish_namespace(namespace)
        self._root_ca_changed(key, namespace, name)

    def _index_owners(self, uid: str, old: Obj | None, new: Obj | None) -> None:
        before = owner_uids(old)
        after = owner_uids(new)
        for owner in before - after:
            self._dependents[owner].discard(uid)
            if not self._dependents[owner]:
                del self._dependents[owner]
        for owner in after - before:
            self._dependents[owner].add(uid)

    # ------------------------------------------------------------------ create

    def create(
        self,
        resource: ResourceType,
        namespace: str | None,
        body: Obj,
        *,
        dry_run: bool = False,
        warnings: list[str] | None = None,
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body must be a JSON object, got {type(body).__name__}")
        resource, body = self._stored_form(resource, body)
        meta = dict(object_meta(body))
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
        if resource.custom and self.terminating_crd(resource) is not None:
            crd_name = f"{resource.plural}.{resource.group}"
            raise errors.method_not_allowed(
                f"create not allowed while custom resource definition {crd_name} is terminating"
            )
        name = meta["name"] = self._name_for(resource, namespace, meta)
        if resource.group == "rbac.authorization.k8s.io":
            check_path_segment_name(name, kind=resource.kind, group=resource.group)
        else:
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
        self._admit(resource, obj, warnings if warnings is not None else [])
        if dry_run:
            return obj  # a dry-run create has no resourceVersion: nothing was stored
        check_storable(obj)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._put(resource, obj, None)
        if resource.plural == "namespaces" and not resource.group:
            self._populate_namespace(name)
        owners = [ref.get("uid") for ref in meta.get("ownerReferences") or [] if isinstance(ref, dict)]
        if owners and not any(owner in self._by_uid for owner in owners):
            self._gc_pending.add(meta["uid"])  # a dependent of owners that are gone: collect it
            self._schedule_gc()
        return obj

    def _name_for(self, resource: ResourceType, namespace: str | None, meta: Mapping[str, Any]) -> str:
        """The given name, or one generated from ``generateName`` that is free."""
        if meta.get("name"):
            return str(meta["name"])
        if not meta.get("generateName"):
            raise errors.invalid(
                group=resource.group,
                kind=resource.kind,
                name="",
                causes=[("metadata.name", "Required value: name or generateName is required")],
            )
        name = generated_name(str(meta["generateName"]))
        while self.find(resource, namespace, name) is not None:
            name = generated_name(str(meta["generateName"]))
        return name

    def _stored_form(self, resource: ResourceType, body: Obj) -> tuple[ResourceType, Obj]:
        """events.k8s.io Events are written in their core form, under the core resource."""
        if is_events_v1(resource):
            core = self.registry.get("", "v1", "events")
            assert core is not None
            return core, to_core(body)
        return resource, body

    def _require_namespace(self, namespace: str) -> None:
        space = self._objects[NAMESPACES_KEY].get("", {}).get(namespace)
        if space is None:
            raise errors.not_found(group="", plural="namespaces", name=namespace)
        if object_meta(space).get("deletionTimestamp"):
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
            obj = admit_priority(obj, self._priority_classes())
            obj = admit_runtime_class(obj, self._objects[("node.k8s.io", "runtimeclasses")].get("", {}))
            obj = pod_defaults(obj)
            namespace = obj["metadata"]["namespace"]
            account = (
                self._objects[("", "serviceaccounts")]
                .get(namespace, {})
                .get(obj["spec"]["serviceAccountName"])
            )
            obj = admit_service_account(
                obj, account, volume_name=generated_name(SERVICE_ACCOUNT_VOLUME_PREFIX)
            )
            obj = admit_default_toleration_seconds(obj)
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
        elif resource.plural == "services":
            obj.setdefault("status", {"loadBalancer": {}})  # what the service registry stores at creation
        elif resource.plural == "resourcequotas":
            obj["status"] = quota_status(obj, self._quota_objects(obj["metadata"]["namespace"], [obj]))
        return obj

    # ------------------------------------------------------------------ admission

    def rbac_objects(self) -> RbacObjects:
        """The RBAC objects, for the authorizer (read when a request needs them, never copied)."""
        return RbacObjects(
            cluster_roles=self._objects[(RBAC_GROUP, "clusterroles")].get("", {}),
            cluster_role_bindings=list(
                self._objects[(RBAC_GROUP, "clusterrolebindings")].get("", {}).values()
            ),
            roles=lambda namespace: self._objects[(RBAC_GROUP, "roles")].get(namespace, {}),
            role_bindings=lambda namespace: list(
                self._objects[(RBAC_GROUP, "rolebindings")].get(namespace, {}).values()
            ),
        )

    def _priority_classes(self) -> dict[str, Obj]:
        return dict(self._objects[PRIORITY_CLASSES_KEY].get("", {}))

    def _add_system_priority_classes(self) -> None:
        classes = self.registry.get("scheduling.k8s.io", "v1", "priorityclasses")
        assert classes is not None
        for name, value, description in SYSTEM_PRIORITY_CLASSES:
            self.create(
                classes, None, {"metadata": {"name": name}, "value": value, "description": description}
            )

    def _quotas(self, namespace: str) -> list[Obj]:
        return list(self._objects[QUOTAS_KEY].get(namespace, {}).values())

    def _quota_objects(self, namespace: str, quotas: list[Obj]) -> dict[str, list[Obj]]:
        """The namespace's objects that ``quotas`` count, by quota kind key (``pods``, ``jobs.batch``)."""
        counted: dict[str, list[Obj]] = {}
        for quota in quotas:
            for resource_name in (quota.get("spec") or {}).get("hard") or {}:
                kind = quota_kind_key(resource_name)
                if kind not in counted:
                    plural, _, group = kind.partition(".")
                    counted[kind] = list(self._objects[(group, plural)].get(namespace, {}).values())
        return counted

    def _admit(self, resource: ResourceType, obj: Obj, warnings: list[str]) -> None:
        """Validating admission: Pod Security Admission for pods, then ResourceQuota for everything."""
        namespace = object_meta(obj).get("namespace")
        if not namespace:
            return
        key = store_key(resource)
        if key == PODS_KEY:
            space = self.find(self._resource(NAMESPACES_KEY), None, namespace)
            if space is not None:
                warnings.extend(admit_pod_security(obj, space))
        quotas = self._quotas(namespace)
        if quotas and key != QUOTAS_KEY:
            admit_quota(
                kind_plural=resource.plural,
                obj=obj,
                quotas=quotas,
                objects_by_kind=self._quota_objects(namespace, quotas),
                counted_as=key[1] if not key[0] else f"{key[1]}.{key[0]}",
            )

    def _refresh_quotas(self, key: StoreKey, namespace: str) -> None:
        """Keep ``status.used`` of the namespace's quotas current after a write (the quota controller)."""
        if not namespace or key == QUOTAS_KEY:
            return
        quotas_resource = self._resource(QUOTAS_KEY)
        for quota in self._quotas(namespace):
            status = quota_status(quota, self._quota_objects(namespace, [quota]))
            if status != quota.get("status"):
                updated = {**quota, "status": status}
                updated["metadata"] = {**quota["metadata"], "resourceVersion": self._next_rv()}
                self._put(quotas_resource, updated, quota)

    def _secret_defaults(self, obj: Obj) -> Obj:
        string_data = obj.pop("stringData", None) or {}
        data = dict(obj.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        if data:
            obj["data"] = data
        if not obj.get("type"):  # the API defaults an empty type too (kubectl's protobuf bodies send "")
            obj["type"] = "Opaque"
        return obj

    def _populate_namespace(self, namespace: str) -> None:
        """What the namespace controllers add to a new namespace: the default service account, and the
        cluster's CA as ConfigMap ``kube-root-ca.crt`` (the root CA cert publisher, once there is a CA)."""
        accounts = self._resource(("", "serviceaccounts"))
        if self.find(accounts, namespace, "default") is None:
            self.create(accounts, namespace, {"metadata": {"name": "default"}})
        self._publish_root_ca_in(namespace)

    def _publish_root_ca_in(self, namespace: str) -> None:
        """The root CA publisher's sync of one namespace: ``kube-root-ca.crt`` created, or put back to the
        CA when it was changed. A namespace that is gone or terminating is left alone, as by the real one."""
        config_maps = self._resource(("", "configmaps"))
        if self.root_ca_pem is None:
            return
        current = self.find(config_maps, namespace, ROOT_CA_CONFIG_MAP)
        wanted = root_ca_config_map(self.root_ca_pem, current)
        if wanted is None:
            return
        try:
            if current is None:
                self.create(config_maps, namespace, wanted)
            else:
                self.update(config_maps, namespace, ROOT_CA_CONFIG_MAP, wanted)
        except errors.ApiError:
            pass  # the namespace went away or is terminating, or the ConfigMap was made immutable

    def _root_ca_changed(self, key: StoreKey, namespace: str, name: str) -> None:
        """The publisher watches ConfigMaps: a changed or deleted ``kube-root-ca.crt`` is synced again."""
        if key != ("", "configmaps") or name != ROOT_CA_CONFIG_MAP or self.root_ca_pem is None:
            return
        try:
            asyncio.get_running_loop().call_soon(self._publish_root_ca_in, namespace)
        except RuntimeError:
            self._publish_root_ca_in(namespace)

    def publish_root_ca(self, pem: str) -> None:
        """pkg/controller/certificates/rootcacertpublisher: every namespace gets ``kube-root-ca.crt``."""
        self.root_ca_pem = pem
        for namespace in list(self._objects[NAMESPACES_KEY].get("", {})):
            self._populate_namespace(namespace)

    def _validate(self, resource: ResourceType, obj: Obj, old: Obj | None) -> Obj:
        """The kind's validation: the CRD schema for custom resources, the hand-written rules for
        built-ins, and ObjectMeta's rules for both; 422 naming every bad field."""
        causes = metadata_causes(object_meta(obj))
        if not resource.custom:
            causes.extend(builtin_causes(resource.group, resource.plural, obj, old))
        if causes:
            raise errors.invalid(
                group=resource.group, kind=resource.kind, name=object_meta(obj).get("name", ""), causes=causes
            )
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
        if not isinstance(new, dict):
            raise errors.bad_request(f"the body must be a JSON object, got {type(new).__name__}")
        resource, new = self._stored_form(resource, new)
        old = self.get(resource, namespace, name)
        self._check_kind(resource, new)
        meta = dict(object_meta(new))
        old_meta = object_meta(old)
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
        if store_key(resource) == QUOTAS_KEY and subresource != "status":
            obj["status"] = quota_status(
                obj, self._quota_objects(name and obj["metadata"]["namespace"], [obj])
            )
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
        check_storable(obj)
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
        old_meta = object_meta(old)
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
        if object_meta(old).get("deletionTimestamp"):
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
            "metadata": {**object_meta(old), "resourceVersion": self._next_rv()},
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
        return int(object_meta(obj).get("deletionGracePeriodSeconds") or 0) > 0 and self._node_manages(obj)

    def _node_manages(self, pod: Obj) -> bool:
        node = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        return (
            bool(node)
            and phase not in ("Succeeded", "Failed")
            and (node in self._objects[NODES_KEY].get("", {}))
        )

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
