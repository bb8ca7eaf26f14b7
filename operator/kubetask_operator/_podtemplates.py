"""A PodTemplate named by ``spec.podTemplateName``, merged under the pod the TaskRun asks for.

Namespace admins keep pod settings (node pools, tolerations, sidecar-free defaults, security contexts) in
PodTemplates, and people who run tasks pick one by name instead of writing pod specs (as Flyte's users ask,
flyte#3123). The TaskRun's own fields win; lists of named things merge by name. The task container's
command, args and image are always kubetask's: a template's would change what runs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from kubetask_operator._errors import InvalidSpecError

# Lists whose items are keyed: the TaskRun's item of a key replaces the template's.
_KEYED_LISTS = {
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "ports": "containerPort",
    "initContainers": "name",
}
# Container fields that are kubetask's to set, never a template's.
_TASK_CONTAINER_OWN = ("name", "image", "command", "args")
_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[([^\]]*)\]")


def _merged_list(key: str, base: list[Any], over: list[Any]) -> list[Any]:
    field = _KEYED_LISTS.get(key)
    if field is None:  # tolerations, envFrom, ...: both apply (a later envFrom source wins a duplicate)
        return [*copy.deepcopy(base), *copy.deepcopy(over)]
    taken = {item.get(field) for item in over if isinstance(item, Mapping)}
    kept = [
        copy.deepcopy(item) for item in base if not (isinstance(item, Mapping) and item.get(field) in taken)
    ]
    # The template's variables first, so the TaskRun's may refer to them with $(NAME); elsewhere the
    # TaskRun's items keep their places (the operator's own volumes first).
    return [*kept, *copy.deepcopy(over)] if key == "env" else [*copy.deepcopy(over), *kept]


def merged_under(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged over ``base``: objects key by key, keyed lists item by item, ``over`` winning."""
    result = copy.deepcopy(dict(base))
    for key, value in over.items():
        old = result.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            result[key] = merged_under(old, value)
        elif isinstance(value, list) and isinstance(old, list):
            result[key] = _merged_list(key, old, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def with_pod_template(pod: Mapping[str, Any], template: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``pod`` (the operator's, for one attempt) with the PodTemplate ``template`` merged under it."""
    where = f"spec.podTemplateName: PodTemplate {name!r}"
    body = template.get("template")
    if not isinstance(body, Mapping):
        raise InvalidSpecError(f"{where}: expected a template with a pod spec, got {body!r}")
    spec = copy.deepcopy(dict(body.get("spec") or {}))
    containers = spec.pop("containers", None) or []
    if not isinstance(containers, list) or len(containers) > 1:
        names = (
            [c.get("name") for c in containers if isinstance(c, Mapping)]
            if isinstance(containers, list)
            else containers
        )
        raise InvalidSpecError(
            f"{where}: template.spec.containers: expected at most one container (the base of the task "
            f"container; a task pod runs only the task), got {names!r}"
        )
    # The deprecated spec.serviceAccount alias is what the API server copies into serviceAccountName.
    alias = spec.pop("serviceAccount", None)
    if alias and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = alias
    metadata = body.get("metadata") or {}
    base = {
        "metadata": {
            key: metadata[key] for key in ("labels", "annotations") if isinstance(metadata.get(key), Mapping)
        },
        "spec": spec,
    }
    merged = merged_under(base, pod)
    (task,) = pod["spec"]["containers"]
    base_container = {
        key: value
        for key, value in (containers[0] if containers and isinstance(containers[0], Mapping) else {}).items()
        if key not in _TASK_CONTAINER_OWN
    }
    merged["spec"]["containers"] = [merged_under(base_container, task)]
    # A token only with a ServiceAccount, as without a template (the allow-list then applies to it).
    merged["spec"]["automountServiceAccountToken"] = bool(merged["spec"].get("serviceAccountName"))
    return merged


def value_at(document: Mapping[str, Any], path: str) -> object:
    """The value at ``path`` (``spec.containers[0].securityContext``, ``metadata.annotations[a/b.c]``), or
    None where there is none."""
    node: object = document
    for match in _PATH_TOKEN.finditer(path):
        key, index = match.group(1), match.group(2)
        if key is not None:
            node = node.get(key) if isinstance(node, Mapping) else None
        elif isinstance(node, list) and index.isdigit():
            node = node[int(index)] if int(index) < len(node) else None
        else:
            node = node.get(index) if isinstance(node, Mapping) else None
    return node
