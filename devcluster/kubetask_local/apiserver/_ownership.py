"""Field ownership of server-side apply: which manager set which field, and the conflicts between appliers.

Only ``Apply`` managers are tracked (their last applied configurations); a field two appliers set to
different values conflicts (409) unless the second one forces, which takes the field over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver._errors import ApiError
from kubetask_local.apiserver._patch import merge_key_of

_IDENTITY = frozenset({"apiVersion", "kind"})
_SERVER_OWNED = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)


def field_leaves(config: Any, path: str = "") -> dict[str, Any]:
    """Every leaf field an applied configuration sets, by its path in the notation of the real server's
    conflict messages (``.spec.replicas``, ``.spec.template.spec.containers[name="main"].image``)."""
    leaves: dict[str, Any] = {}
    if isinstance(config, Mapping):
        for key, value in config.items():
            if (not path and key in _IDENTITY) or (path == ".metadata" and key in _SERVER_OWNED):
                continue
            leaves.update(field_leaves(value, f"{path}.{key}"))
        return leaves
    field = path.rsplit(".", 1)[-1].split("[", 1)[0]
    if isinstance(config, list) and config and all(isinstance(item, Mapping) for item in config):
        key = merge_key_of(field, config)
        if key is not None:
            for item in config:
                leaves.update(field_leaves(item, f"{path}[{key}={json.dumps(item.get(key))}]"))
            return leaves
    leaves[path] = config
    return leaves


def conflicts(
    applied: Any, others: Mapping[str, Any], forfeited: Mapping[str, set[str]]
) -> list[tuple[str, str]]:
    """(manager, path) for each field this configuration sets differently from another applier."""
    mine = field_leaves(applied)
    found = []
    for manager, config in others.items():
        theirs = field_leaves(config)
        for path, value in mine.items():
            if path in theirs and theirs[path] != value and path not in forfeited.get(manager, set()):
                found.append((manager, path))
    return found


def conflict_error(found: list[tuple[str, str]], *, api_version: str) -> ApiError:
    by_manager: dict[str, list[str]] = {}
    for manager, path in found:
        by_manager.setdefault(manager, []).append(path)
    parts = []
    for manager, paths in by_manager.items():
        if len(paths) == 1:
            parts.append(f'conflict with "{manager}" using {api_version}: {paths[0]}')
        else:
            parts.append(
                f'conflicts with "{manager}" using {api_version}:\n' + "\n".join(f"- {p}" for p in paths)
            )
    count = len(found)
    message = f"Apply failed with {count} conflict{'s' if count > 1 else ''}: " + "\n".join(parts)
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{manager}" using {api_version}',
            "field": path,
        }
        for manager, path in found
    ]
    return ApiError(409, "Conflict", message, details={"causes": causes})
