"""Discovery documents (``/api``, ``/apis``, resource lists) built from the live registry."""

from __future__ import annotations

from typing import Any

from kubetask_local.apiserver._resources import ALL_VERBS, Registry, ResourceType

SERVER_VERSION = {
    "major": "1",
    "minor": "36",
    "gitVersion": "v1.36.0-kubetask-local",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = registry.group_versions()
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry(group, versions) for group, versions in sorted(groups.items())],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = registry.group_versions().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "log": ["get"],
    "attach": ["create", "get"],
    "binding": ["create"],
    "scale": ["get", "patch", "update"],
}
_SUBRESOURCE_KINDS = {
    "log": ("", "v1", "Pod"),
    "attach": ("", "v1", "PodAttachOptions"),
    "binding": ("", "v1", "Binding"),
    "scale": ("autoscaling", "v1", "Scale"),
}


def _subresource(resource: ResourceType, sub: str) -> tuple[list[str], str]:
    kind = _SUBRESOURCE_KINDS.get(sub, (resource.group, resource.version, resource.kind))[2]
    return _SUBRESOURCE_VERBS[sub], kind


def _resource_entries(resource: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(ALL_VERBS),
    }
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if resource.categories:
        main["categories"] = list(resource.categories)
    entries = [main]
    for sub in resource.subresources:
        verbs, kind = _subresource(resource, sub)
        entries.append(
            {
                "name": f"{resource.plural}/{sub}",
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": kind,
                "verbs": verbs,
            }
        )
    return entries


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    resources = [r for r in registry if r.group == group and r.version == version]
    if not resources and group:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [
            entry
            for resource in sorted(resources, key=lambda r: r.plural)
            for entry in _resource_entries(resource)
        ],
    }


def root_paths(registry: Registry) -> dict[str, Any]:
    paths = {
        "/api",
        "/api/v1",
        "/apis",
        "/version",
        "/healthz",
        "/livez",
        "/readyz",
        "/openapi/v2",
        "/openapi/v3",
    }
    for group, versions in registry.group_versions().items():
        paths.add(f"/apis/{group}")
        paths.update(f"/apis/{group}/{version}" for version in versions)
    return {"paths": sorted(paths)}


# ------------------------------------------------------------ aggregated discovery (apidiscovery.k8s.io/v2)

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> bool:
    """kubectl asks for the aggregated documents first; plain clients (kopf, the Python client) do not."""
    first = accept.split(",", maxsplit=1)[0].replace(" ", "")
    return (
        "as=APIGroupDiscoveryList" in first
        and "g=apidiscovery.k8s.io" in first
        and "v=v2" in first.split(";")
    )


def _aggregated_resource(resource: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(ALL_VERBS),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.subresources:
        entry["subresources"] = []
        for sub in resource.subresources:
            group, version, kind = _SUBRESOURCE_KINDS.get(
                sub, (resource.group, resource.version, resource.kind)
            )
            entry["subresources"].append(
                {
                    "subresource": sub,
                    "responseKind": {"group": group, "version": version, "kind": kind},
                    "verbs": _SUBRESOURCE_VERBS[sub],
                }
            )
    return entry


def aggregated(registry: Registry, *, core: bool) -> dict[str, Any]:
    """``/api`` (core) or ``/apis`` (every other group) as one APIGroupDiscoveryList."""
    groups: dict[str, dict[str, list[ResourceType]]] = {}
    for resource in registry:
        if bool(resource.group) != core:
            groups.setdefault(resource.group, {}).setdefault(resource.version, []).append(resource)
    items = []
    for group in sorted(groups):
        versions = [
            {
                "version": version,
                "resources": [_aggregated_resource(r) for r in sorted(resources, key=lambda r: r.plural)],
                "freshness": "Current",
            }
            for version, resources in groups[group].items()
        ]
        metadata = {"name": group} if group else {}
        items.append({"metadata": metadata, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
