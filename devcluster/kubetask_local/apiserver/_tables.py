"""Server-side Table output (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``) for kubectl get."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubetask_local.apiserver._objects import human_duration, now, parse_timestamp
from kubetask_local.apiserver._resources import ResourceType

Obj = Mapping[str, Any]
Column = tuple[dict[str, Any], Callable[[Obj], Any]]

_FILTER = re.compile(r'^\?\(@\.([A-Za-z0-9_.]+)\s*==\s*["\']?([^"\')]*)["\']?\)$')


def json_path(obj: Any, expression: str) -> Any:
    """The subset of JSONPath that printer columns use: ``.a.b``, ``.a[0]``, ``.a[?(@.k=="v")].b``."""
    tokens = re.findall(r"\[[^\]]*\]|[^.\[\]]+", expression.strip().strip("{}").lstrip("$"))
    node: Any = obj
    for token in tokens:
        if node is None:
            return None
        if token.startswith("["):
            inner = token[1:-1]
            if isinstance(node, list) and inner.lstrip("-").isdigit():
                index = int(inner)
                node = node[index] if -len(node) <= index < len(node) else None
            elif isinstance(node, list) and (match := _FILTER.match(inner)):
                field, value = match.groups()
                node = next((item for item in node if str(json_path(item, "." + field)) == value), None)
            elif isinstance(node, Mapping):
                node = node.get(inner.strip("'\""))
            else:
                return None
        elif isinstance(node, Mapping):
            node = node.get(token)
        else:
            return None
    return node


def _age(obj: Obj) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    return human_duration((now() - parse_timestamp(created)).total_seconds())


def _column(
    name: str, kind: str = "string", *, description: str = "", priority: int = 0, format: str = ""
) -> dict[str, Any]:
    return {"name": name, "type": kind, "format": format, "description": description, "priority": priority}


_NAME: Column = (
    _column("Name", format="name", description="Name must be unique within a namespace."),
    lambda obj: (obj.get("metadata") or {}).get("name"),
)
_AGE: Column = (
    _column(
        "Age",
        description="CreationTimestamp is a timestamp representing the server time "
        "when this object was created.",
    ),
    _age,
)


def _since(value: Any) -> str:
    if not isinstance(value, str):
        return "<unknown>"
    try:
        return human_duration((now() - parse_timestamp(value)).total_seconds())
    except ValueError:
        return value


def _pod_status(pod: Obj) -> str:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for state in status.get("containerStatuses") or []:
        waiting = (state.get("state") or {}).get("waiting")
        terminated = (state.get("state") or {}).get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated:
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}"
    if meta.get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_ready(pod: Obj) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    ready = sum(1 for state in (pod.get("status") or {}).get("containerStatuses") or [] if state.get("ready"))
    return f"{ready}/{len(containers)}"


def _pod_restarts(pod: Obj) -> int:
    return sum(
        int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or []
    )


def _path(expression: str) -> Callable[[Obj], Any]:
    return lambda obj: json_path(obj, expression)


def _shown_path(expression: str) -> Callable[[Obj], Any]:
    """Built-in columns print ``<none>`` for missing values (the server renders them so)."""
    return lambda obj: "<none>" if json_path(obj, expression) is None else json_path(obj, expression)


def _node_address(kind: str) -> Callable[[Obj], Any]:
    def cell(node: Obj) -> Any:
        addresses = (node.get("status") or {}).get("addresses") or []
        return next((a.get("address") for a in addresses if a.get("type") == kind), "<none>")

    return cell


def _readiness_gates(pod: Obj) -> str:
    """``ready/total`` of the pod's readiness gates, ``<none>`` without any (as kubectl's printer shows)."""
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
    ready = sum(1 for gate in gates if conditions.get(gate.get("conditionType")) == "True")
    return f"{ready}/{len(gates)}"


_BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [
        _NAME,
        (
            _column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            _pod_ready,
        ),
        (_column("Status", description="The aggregate status of the containers in this pod."), _pod_status),
        (
            _column(
                "Restarts",
                "string",
                description="The number of times the containers in this pod have been restarted.",
            ),
            _pod_restarts,
        ),
        _AGE,
        (
            _column("IP", priority=1, description="IP address allocated to the pod."),
            _shown_path(".status.podIP"),
        ),
        (
            _column("Node", priority=1, description="Name of the Node this pod is assigned to."),
            _shown_path(".spec.nodeName"),
        ),
        (
            _column("Nominated Node", priority=1, description="Name of the node nominated by the scheduler."),
            _shown_path(".status.nominatedNodeName"),
        ),
        (
            _column("Readiness Gates", priority=1, description="The readiness gates of this pod."),
            _readiness_gates,
        ),
    ],
    ("", "namespaces"): [_NAME, (_column("Status"), _path(".status.phase")), _AGE],
    ("", "configmaps"): [
        _NAME,
        (_column("Data", "integer"), lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _AGE,
    ],
    ("", "secrets"): [
        _NAME,
        (_column("Type"), _path(".type")),
        (_column("Data", "integer"), lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    ("", "serviceaccounts"): [
        _NAME,
        (_column("Secrets", "integer"), lambda o: len(o.get("secrets") or [])),
        _AGE,
    ],
    ("", "nodes"): [
        _NAME,
        (
            _column("Status"),
            lambda o: (
                "Ready"
                if str(json_path(o, '.status.conditions[?(@.type=="Ready")].status')) == "True"
                else "NotReady"
            ),
        ),
        (_column("Roles"), lambda _obj: "<none>"),
        _AGE,
        (_column("Version"), _path(".status.nodeInfo.kubeletVersion")),
        (_column("Internal-IP", priority=1), _node_address("InternalIP")),
        (_column("External-IP", priority=1), _node_address("ExternalIP")),
        (_column("OS-Image", priority=1), _shown_path(".status.nodeInfo.osImage")),
        (_column("Kernel-Version", priority=1), _shown_path(".status.nodeInfo.kernelVersion")),
        (_column("Container-Runtime", priority=1), _shown_path(".status.nodeInfo.containerRuntimeVersion")),
    ],
    ("", "events"): [
        (_column("Last Seen"), lambda o: _since(o.get("lastTimestamp") or o.get("eventTime"))),
        (_column("Type"), _path(".type")),
        (_column("Reason"), _path(".reason")),
        (
            _column("Object"),
            lambda o: (
                f"{json_path(o, '.involvedObject.kind')}/{json_path(o, '.involvedObject.name')}".lower()
            ),
        ),
        (_column("Message"), _path(".message")),
    ],
    ("apps", "deployments"): [
        _NAME,
        (
            _column("Ready"),
            lambda o: f"{json_path(o, '.status.readyReplicas') or 0}/{json_path(o, '.spec.replicas') or 0}",
        ),
        (_column("Up-to-date", "integer"), lambda o: json_path(o, ".status.updatedReplicas") or 0),
        (_column("Available", "integer"), lambda o: json_path(o, ".status.availableReplicas") or 0),
        _AGE,
    ],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        _NAME,
        (_column("Created At", "date"), _path(".metadata.creationTimestamp")),
    ],
    ("coordination.k8s.io", "leases"): [_NAME, (_column("Holder"), _path(".spec.holderIdentity")), _AGE],
}


def _crd_columns(resource: ResourceType) -> list[Column]:
    columns: list[Column] = [_NAME]
    if not resource.printer_columns:
        return [*columns, _AGE]
    for spec in resource.printer_columns:
        kind = str(spec.get("type", "string"))
        path = str(spec.get("jsonPath", ""))
        definition = _column(
            str(spec.get("name", "")),
            kind,
            description=str(spec.get("description", "")),
            priority=int(spec.get("priority", 0)),
            format=str(spec.get("format", "")),
        )
        if kind == "date":
            columns.append((definition, _date_cell(path)))
        else:
            columns.append((definition, _path(path)))
    return columns


def _date_cell(path: str) -> Callable[[Obj], Any]:
    def cell(obj: Obj) -> Any:
        value = json_path(obj, path)
        if not isinstance(value, str):
            return "<unknown>" if value is None else value
        try:
            return human_duration((now() - parse_timestamp(value)).total_seconds())
        except ValueError:
            return value

    return cell


def columns_for(resource: ResourceType) -> list[Column]:
    if resource.custom:
        return _crd_columns(resource)
    return _BUILTIN_COLUMNS.get((resource.group, resource.plural), [_NAME, _AGE])


def _row_object(obj: Obj, include: str) -> Any:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def table(
    resource: ResourceType,
    objects: Sequence[Obj],
    *,
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str | None = None,
    remaining: int | None = None,
) -> dict[str, Any]:
    columns = columns_for(resource)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [definition for definition, _ in columns],
        "rows": [
            {
                "cells": [_cell(render, obj) for _, render in columns],
                "object": _row_object(obj, include_object),
            }
            for obj in objects
        ],
    }


def _cell(render: Callable[[Obj], Any], obj: Obj) -> Any:
    return render(obj)  # missing values stay null, as the real server's cells do
