"""The resource types the emulated API server serves: built-in kinds plus CRDs posted at run time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclasses.dataclass(frozen=True)
class ResourceType:
    """One served resource of one group/version, as discovery describes it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # The schema for custom resources (openAPIV3Schema of the served version); None for built-ins.
    schema: Mapping[str, Any] | None = None
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    # Built-ins whose status is written only through /status and whose generation follows the spec.
    custom: bool = False
    # The scale subresource: where the replicas live ({} for built-ins: .spec.replicas/.status.replicas).
    scale: Mapping[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        subresources=sub,
    )


_ALL = ("all",)

BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), sub=("status",)),
    _builtin(
        "", "v1", "pods", "Pod", short=("po",), categories=_ALL, sub=("status", "log", "attach", "binding")
    ),
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin("", "v1", "services", "Service", short=("svc",), categories=_ALL, sub=("status",)),
    _builtin("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _builtin("", "v1", "events", "Event", short=("ev",)),
    _builtin("", "v1", "nodes", "Node", namespaced=False, short=("no",), sub=("status",)),
    _builtin("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), sub=("status",)),
    _builtin(
        "", "v1", "persistentvolumes", "PersistentVolume", namespaced=False, short=("pv",), sub=("status",)
    ),
    _builtin("", "v1", "resourcequotas", "ResourceQuota", short=("quota",), sub=("status",)),
    _builtin("", "v1", "limitranges", "LimitRange", short=("limits",)),
    _builtin("", "v1", "podtemplates", "PodTemplate"),
    _builtin("events.k8s.io", "v1", "events", "Event", short=("ev",)),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
    _builtin(
        "apps", "v1", "deployments", "Deployment", short=("deploy",), categories=_ALL, sub=("status", "scale")
    ),
    _builtin(
        "apps", "v1", "replicasets", "ReplicaSet", short=("rs",), categories=_ALL, sub=("status", "scale")
    ),
    _builtin(
        "apps", "v1", "statefulsets", "StatefulSet", short=("sts",), categories=_ALL, sub=("status", "scale")
    ),
    _builtin("apps", "v1", "daemonsets", "DaemonSet", short=("ds",), categories=_ALL, sub=("status",)),
    _builtin("batch", "v1", "jobs", "Job", categories=_ALL, sub=("status",)),
    _builtin("batch", "v1", "cronjobs", "CronJob", short=("cj",), categories=_ALL, sub=("status",)),
    _builtin("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",), sub=("status",)),
    _builtin("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _builtin("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), sub=("status",)),
    _builtin("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False, short=("pc",)),
    _builtin("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", namespaced=False),
    _builtin(
        "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", namespaced=False
    ),
    _builtin("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", namespaced=False),
    _builtin(
        "authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", namespaced=False
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _builtin(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        sub=("status",),
    ),
    _builtin("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False, short=("sc",)),
    _builtin(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        categories=_ALL,
        sub=("status",),
    ),
)

# Kinds whose metadata.generation counts spec changes (the others have no generation at all).
GENERATION_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "CustomResourceDefinition",
        "PodDisruptionBudget",
        "Ingress",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "PriorityClass",
    }
)

StoreKey = tuple[str, str]  # (group, plural): one storage for all served versions of a resource
CRD_KEY: StoreKey = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES_KEY: StoreKey = ("", "namespaces")
NODES_KEY: StoreKey = ("", "nodes")


def store_key(resource: ResourceType) -> StoreKey:
    if resource.group == "events.k8s.io" and resource.plural == "events":
        return ("", "events")  # one storage for core and events.k8s.io Events (see _events.py)
    return (resource.group, resource.plural)


class Registry:
    """Served resources by (group, version, plural), with lookups by kind for discovery and GC."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, str], ResourceType] = {}
        for resource in BUILTINS:
            self.add(resource)

    def add(self, resource: ResourceType) -> None:
        self._by_key[resource.key] = resource

    def remove(self, key: tuple[str, str, str]) -> None:
        self._by_key.pop(key, None)

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_key.get((group, version, plural))

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_key.values()))

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions (preferred first), excluding the legacy core group."""
        groups: dict[str, list[str]] = {}
        for resource in self._by_key.values():
            if resource.group:
                versions = groups.setdefault(resource.group, [])
                if resource.version not in versions:
                    versions.append(resource.version)
        return groups


def crd_resources(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The served resource types of a CustomResourceDefinition object (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    result = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                plural=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(name for name in ("status", "scale") if name in subresources),
                scale=subresources.get("scale"),
                schema=schema,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                custom=True,
            )
        )
    return result
