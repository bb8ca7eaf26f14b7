"""Deletion as the real server runs it: finalizers and deletionTimestamp, graceful pod deletion finished by
the node, propagation policies, ownerReference garbage collection in the background, namespace teardown.

A mixin of ``Store``: it works on the store's indexes and calls back into its write path.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver._objects import Obj, now, object_meta, timestamp
from kubetask_local.apiserver._resources import (
    CRD_KEY,
    NAMESPACES_KEY,
    Registry,
    ResourceType,
    StoreKey,
    crd_resources,
    store_key,
)

FOREGROUND = "foregroundDeletion"
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"


class Lifecycle:
    registry: Registry
    _objects: dict[StoreKey, dict[str, dict[str, Obj]]]
    _by_uid: dict[str, tuple[StoreKey, str, str]]
    _dependents: dict[str, set[str]]
    _namespace_sizes: dict[str, int]
    _gc_pending: set[str]
    _gc_scheduled: bool

    if TYPE_CHECKING:  # the write path of Store, which this mixin completes

        def get(self, resource: ResourceType, namespace: str | None, name: str) -> Obj: ...
        def update(self, resource: ResourceType, namespace: str | None, name: str, new: Obj) -> Obj: ...
        def _resource(self, key: StoreKey) -> ResourceType: ...
        def _next_rv(self) -> str: ...
        def _put(self, resource: ResourceType, obj: Obj, old: Obj | None) -> None: ...
        def _remove(self, resource: ResourceType, obj: Obj) -> None: ...
        def _node_manages(self, pod: Obj) -> bool: ...

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
        old_meta = object_meta(old)
        self._check_preconditions(resource, old_meta, preconditions)
        propagation = propagation or "Background"
        if propagation not in ("Background", "Foreground", "Orphan"):
            raise errors.bad_request(
                f"propagationPolicy: Unsupported value: {propagation!r}: supported values: "
                '"Foreground", "Background", "Orphan"'
            )
        if dry_run:
            return old, False
        finalizers = self._deletion_finalizers(resource, old, propagation)
        is_pod = resource.plural == "pods" and not resource.group
        is_namespace = resource.plural == "namespaces" and not resource.group
        is_crd = store_key(resource) == CRD_KEY
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
        if is_crd:
            self._delete_custom_objects(obj)
        return obj, False

    def _deletion_finalizers(self, resource: ResourceType, old: Obj, propagation: str) -> list[str]:
        """The finalizers a deletion leaves on the object: its own plus foreground or CRD cleanup."""
        finalizers = list(object_meta(old).get("finalizers") or [])
        uid = object_meta(old)["uid"]
        if propagation == "Orphan":
            self._orphan_dependents(uid)
        elif propagation == "Foreground" and self._dependents.get(uid) and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        if store_key(resource) == CRD_KEY and self._custom_objects(old) and CRD_CLEANUP not in finalizers:
            finalizers.append(CRD_CLEANUP)
        return finalizers

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
            meta = object_meta(dependent)
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
                object_meta(self._by_uid_obj(uid)).get("finalizers") or []
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
        refs = object_meta(self._objects[key][namespace][name]).get("ownerReferences") or []
        return bool(refs) and not any(ref.get("uid") in self._by_uid for ref in refs)

    def _collect_one(self, uid: str) -> None:
        located = self._by_uid.get(uid)
        if located is None:
            return
        key, namespace, name = located
        obj = self._objects[key][namespace][name]
        refs = object_meta(obj).get("ownerReferences") or []
        live_owners = [
            ref
            for ref in refs
            if ref.get("uid") in self._by_uid
            and not object_meta(self._by_uid_obj(ref["uid"])).get("deletionTimestamp")
        ]
        if object_meta(obj).get("deletionTimestamp"):
            return
        if live_owners:
            self._drop_dangling_owners(key, obj, refs)
            return
        self.delete(self._resource(key), namespace or None, name, propagation="Background")

    def _drop_dangling_owners(self, key: StoreKey, obj: Obj, refs: list[Any]) -> None:
        """An object that keeps an owner loses its references to owners that are gone, as a real collector
        patches them away (pkg/controller/garbagecollector/garbagecollector.go, attemptToDeleteItem: "remove
        dangling references")."""
        kept = [ref for ref in refs if ref.get("uid") in self._by_uid]
        if len(kept) == len(refs):
            return
        meta = object_meta(obj)
        new_meta = {**meta, "ownerReferences": kept, "resourceVersion": self._next_rv()}
        self._put(self._resource(key), {**obj, "metadata": new_meta}, obj)

    def _by_uid_obj(self, uid: str) -> Obj:
        key, namespace, name = self._by_uid[uid]
        return self._objects[key][namespace][name]

    def _release_foreground_owners(self, removed: Obj) -> None:
        """When the last dependent of an owner in foreground deletion goes, the owner's finalizer goes."""
        for ref in object_meta(removed).get("ownerReferences") or []:
            owner_uid = ref.get("uid")
            if owner_uid not in self._by_uid or self._dependents.get(owner_uid):
                continue
            owner = self._by_uid_obj(owner_uid)
            finalizers = object_meta(owner).get("finalizers") or []
            if FOREGROUND in finalizers:
                key, namespace, name = self._by_uid[owner_uid]
                remaining = [f for f in finalizers if f != FOREGROUND]
                self.update(
                    self._resource(key),
                    namespace or None,
                    name,
                    {**owner, "metadata": {**object_meta(owner), "finalizers": remaining}},
                )

    def _delete_namespace_content(self, namespace: str) -> None:
        for resource in self.registry:
            if not resource.namespaced:
                continue
            objects = self._objects[store_key(resource)].get(namespace, {})
            for name in list(objects):
                obj = objects.get(name)
                if obj is not None and not object_meta(obj).get("deletionTimestamp"):
                    self.delete(resource, namespace, name, grace_period=None)

    # ------------------------------------------------------------------ CRD teardown

    def _custom_objects(self, crd: Obj) -> list[tuple[ResourceType, Obj]]:
        resources = crd_resources(crd)
        if not resources:
            return []
        return [
            (resources[0], obj)
            for objects in self._objects.get(store_key(resources[0]), {}).values()
            for obj in objects.values()
        ]

    def _delete_custom_objects(self, crd: Obj) -> None:
        """A deleted CRD first deletes its objects (their finalizers respected), then goes itself."""
        for resource, obj in self._custom_objects(crd):
            meta = object_meta(obj)
            if not meta.get("deletionTimestamp"):
                self.delete(resource, meta.get("namespace"), meta["name"])
        self.release_crd(crd)

    def release_crd(self, crd: Obj) -> None:
        if CRD_CLEANUP in (object_meta(crd).get("finalizers") or []) and not self._custom_objects(crd):
            remaining = [f for f in object_meta(crd)["finalizers"] if f != CRD_CLEANUP]
            self.update(
                self._resource(CRD_KEY),
                None,
                object_meta(crd)["name"],
                {**crd, "metadata": {**object_meta(crd), "finalizers": remaining}},
            )

    def terminating_crd(self, resource: ResourceType) -> Obj | None:
        """The CRD of a custom resource if it is being deleted (no new objects then)."""
        crd = self._objects[CRD_KEY].get("", {}).get(f"{resource.plural}.{resource.group}")
        return crd if crd is not None and object_meta(crd).get("deletionTimestamp") else None

    def _finish_namespace(self, namespace: str) -> None:
        space = self._objects[NAMESPACES_KEY].get("", {}).get(namespace)
        if (
            space is None
            or not object_meta(space).get("deletionTimestamp")
            or self._namespace_sizes[namespace] > 0
        ):
            return
        if object_meta(space).get("finalizers"):
            return
        self._remove(self._resource(NAMESPACES_KEY), space)
