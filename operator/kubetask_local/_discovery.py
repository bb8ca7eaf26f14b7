"""Discovery documents (``/api``, ``/apis``, resource lists) built from the live registry."""

from __future__ import annotations

from typing import Any

from kubetask_local._resources import ALL_VERBS, Registry, ResourceType

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
        verbs = {
            "status": ["get", "patch", "update"],
            "log": ["get"],
            "binding": ["create"],
            "scale": ["get", "patch", "update"],
        }[sub]
        kind = {"log": "Pod", "binding": "Binding", "scale": "Scale"}.get(sub, resource.kind)
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
