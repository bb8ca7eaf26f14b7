"""Pure patch algorithms: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver._errors import bad_request, unprocessable_patch

# Strategic-merge keys of built-in kinds: the list field name -> the key that identifies its items.
# Lists not named here are replaced as a whole, except primitive lists with the "merge" strategy below.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "secrets": "name",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
}
# Service ports are merged by "port", container ports by "containerPort".
SERVICE_PORT_KEY = "port"
MERGED_PRIMITIVE_LISTS = frozenset({"finalizers"})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise unprocessable_patch(f"invalid JSON pointer {path!r}: it must start with '/'")
    return [_unescape(token) for token in path[1:].split("/")]


def _index(container: list[Any], token: str, *, for_insert: bool) -> int:
    if token == "-" and for_insert:
        return len(container)
    if not token.isdigit():
        raise unprocessable_patch(f"invalid array index {token!r}")
    index = int(token)
    limit = len(container) if for_insert else len(container) - 1
    if index > limit:
        raise unprocessable_patch(f"array index {index} out of bounds (length {len(container)})")
    return index


def _parent(document: Any, tokens: list[str], path: str) -> Any:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise unprocessable_patch(
                    f"the server rejected our request due to an error in our request: "
                    f"doc is missing path: {path!r}"
                )
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_insert=False)]
        else:
            raise unprocessable_patch(f"doc is missing path: {path!r}")
    return node


def _get(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return document
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise unprocessable_patch(f"doc is missing path: {path!r}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, for_insert=False)]
    raise unprocessable_patch(f"doc is missing path: {path!r}")


def _remove(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise unprocessable_patch(f"unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, for_insert=False))
    raise unprocessable_patch(f"doc is missing path: {path!r}")


def _add(document: Any, path: str, value: Any, *, replace: bool) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise unprocessable_patch(
                f"replace operation does not apply: doc is missing key: {path}: missing value"
            )
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, for_insert=False)] = value
        else:
            parent.insert(_index(parent, last, for_insert=True), value)
    else:
        raise unprocessable_patch(f"doc is missing path: {path!r}")
    return document


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 on a deep copy; a failed ``test`` or a missing path raises 422 like the real server."""
    if not isinstance(operations, list):
        raise bad_request(f"json patch must be a list of operations, got {type(operations).__name__}")
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, Mapping) or "op" not in operation or "path" not in operation:
            raise bad_request(f"invalid json patch operation {operation!r}: it needs 'op' and 'path'")
        op, path = operation["op"], operation["path"]
        match op:
            case "add":
                result = _add(result, path, copy.deepcopy(operation.get("value")), replace=False)
            case "replace":
                result = _add(result, path, copy.deepcopy(operation.get("value")), replace=True)
            case "remove":
                _remove(result, path)
            case "move":
                value = _remove(result, operation["from"])
                result = _add(result, path, value, replace=False)
            case "copy":
                value = copy.deepcopy(_get(result, operation["from"]))
                result = _add(result, path, value, replace=False)
            case "test":
                actual = _get(result, path)
                if actual != operation.get("value"):
                    raise unprocessable_patch(
                        f"the server rejected our request due to an error in our request: testing value "
                        f"{path} failed: expected {operation.get('value')!r}, found {actual!r}"
                    )
            case _:
                raise bad_request(
                    f"unknown json patch operation {op!r}; expected add, remove, replace, move, copy or test"
                )
    return result


def merge_key_of(field: str, items: list[Any]) -> str | None:
    """The key that identifies the items of a list field for merging (None: the list is atomic)."""
    return _merge_key(field, items)


def _merge_key(field: str, items: list[Any]) -> str | None:
    key = MERGE_KEYS.get(field)
    if field == "ports" and items and isinstance(items[0], Mapping) and "containerPort" not in items[0]:
        return SERVICE_PORT_KEY
    return key


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch with the merge keys of built-in kinds and the ``$patch`` directives."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key == "$retainKeys":
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [item for item in result.get(name) or [] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, field=key)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_list(target: Any, patch: list[Any], *, field: str) -> list[Any]:
    current = list(target) if isinstance(target, list) else []
    if field in MERGED_PRIMITIVE_LISTS:
        return current + [item for item in patch if item not in current]
    key = _merge_key(field, patch or current)
    if key is None or not all(isinstance(item, Mapping) for item in patch):
        return copy.deepcopy(patch)
    if any(isinstance(item, Mapping) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(item) for item in patch if item.get("$patch") != "replace"]
    merged = [copy.deepcopy(item) for item in current]
    positions = {item.get(key): index for index, item in enumerate(merged) if isinstance(item, Mapping)}
    deleted: set[Any] = set()
    for item in patch:
        identity = item.get(key)
        if item.get("$patch") == "delete":
            deleted.add(identity)
        elif identity in positions:
            merged[positions[identity]] = strategic_merge_patch(merged[positions[identity]], item)
        else:
            positions[identity] = len(merged)
            merged.append(copy.deepcopy(item))
    return [item for item in merged if not (isinstance(item, Mapping) and item.get(key) in deleted)]


def apply_merge(target: Any, applied: Any, previous: Any) -> Any:
    """Server-side apply, simplified: merge the applied configuration in (lists keyed as strategic merge
    does) and drop the fields that this field manager applied before but no longer applies."""
    if not isinstance(applied, Mapping):
        return copy.deepcopy(applied)
    result = dict(target) if isinstance(target, Mapping) else {}
    if isinstance(previous, Mapping):
        for key in previous:
            if key not in applied:
                result.pop(key, None)
    for key, value in applied.items():
        before = previous.get(key) if isinstance(previous, Mapping) else None
        if (
            isinstance(value, list)
            and _merge_key(key, value) is not None
            and all(isinstance(item, Mapping) for item in value)
        ):
            result[key] = _apply_list(result.get(key), value, before, field=key)
        elif isinstance(value, Mapping):
            result[key] = apply_merge(result.get(key), value, before)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _apply_list(target: Any, applied: list[Any], previous: Any, *, field: str) -> list[Any]:
    key = _merge_key(field, applied)
    assert key is not None
    current = list(target) if isinstance(target, list) else []
    previously = {item.get(key): item for item in previous or [] if isinstance(item, Mapping)}
    wanted = {item.get(key): item for item in applied}
    merged: list[Any] = []
    for item in current:
        identity = item.get(key) if isinstance(item, Mapping) else None
        if identity in wanted:
            merged.append(apply_merge(item, wanted.pop(identity), previously.get(identity)))
        elif identity not in previously:
            merged.append(item)
    merged.extend(copy.deepcopy(item) for item in wanted.values())
    return merged
