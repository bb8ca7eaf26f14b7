"""Resource URLs parsed: which served resource, namespace, name and subresource a path names."""

from __future__ import annotations

import dataclasses

from kubetask_local.apiserver._resources import Registry, ResourceType


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
