"""The ``scale`` subresource (``kubectl scale``): an ``autoscaling/v1`` Scale view of an object's replicas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver._errors import bad_request
from kubetask_local.apiserver._objects import Obj, object_meta
from kubetask_local.apiserver._resources import ResourceType
from kubetask_local.apiserver._tables import json_path

_BUILTIN_PATHS = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}


def _paths(resource: ResourceType) -> Mapping[str, Any]:
    return resource.scale if resource.scale else _BUILTIN_PATHS


def _selector(resource: ResourceType, obj: Obj) -> str | None:
    if resource.custom:
        path = _paths(resource).get("labelSelectorPath")
        value = json_path(obj, str(path)) if path else None
        return str(value) if value is not None else None
    labels = (
        (json_path(obj, ".spec.selector.matchLabels") or {}) if isinstance(obj.get("spec"), Mapping) else {}
    )
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items())) or None


def scale_of(resource: ResourceType, obj: Obj) -> dict[str, Any]:
    meta = object_meta(obj)
    paths = _paths(resource)
    status: dict[str, Any] = {"replicas": json_path(obj, str(paths["statusReplicasPath"])) or 0}
    selector = _selector(resource, obj)
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": json_path(obj, str(paths["specReplicasPath"])) or 0},
        "status": status,
    }


def with_replicas(resource: ResourceType, obj: Obj, scale: Any) -> Obj:
    """The object with the replicas a written Scale asks for (its resourceVersion kept as a precondition)."""
    replicas = ((scale or {}).get("spec") or {}).get("replicas") if isinstance(scale, Mapping) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise bad_request(f"spec.replicas of a Scale must be a non-negative integer, got {replicas!r}")
    tokens = str(_paths(resource)["specReplicasPath"]).lstrip(".").split(".")
    updated: Obj = dict(obj)
    node = updated
    for token in tokens[:-1]:
        child = dict(node.get(token) or {})
        node[token] = child
        node = child
    node[tokens[-1]] = replicas
    given_rv = ((scale.get("metadata") or {}).get("resourceVersion")) if isinstance(scale, Mapping) else None
    updated["metadata"] = {
        **object_meta(obj),
        "resourceVersion": given_rv or object_meta(obj)["resourceVersion"],
    }
    return updated
