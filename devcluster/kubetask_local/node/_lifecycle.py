"""The Node object's status, and what the node-lifecycle controller does when the node stops reporting.

A stopped node is lost as in a real cluster: after ``node_monitor_grace`` seconds its ``Ready`` condition
turns ``Unknown`` (reason ``NodeStatusUnknown``), it gets the ``node.kubernetes.io/unreachable`` NoExecute
taint and its pods' ``Ready`` condition turns False; after ``pod_eviction_timeout`` more seconds its pods that
have not finished are marked ``Failed`` with reason ``NodeLost`` and a ``DisruptionTarget`` condition, their
unfinished containers ``terminated`` with reason ``ContainerStatusUnknown`` and exit code 137 (what the pod
garbage collector reports for pods it could not see end). The pod objects stay, so their owners see the loss
and can react (the operator retries a TaskRun whose pod was lost).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kubetask_local.node._api import MERGE_PATCH, NodeApiClient
from kubetask_local.node._config import NodeConfig
from kubetask_local.node._errors import ApiError
from kubetask_local.node._status import now, terminated

logger = logging.getLogger("kubetask_local.node")

TERMINAL_PHASES = ("Succeeded", "Failed")
KUBELET_VERSION = "v1.36.0-kubetask-local"
LOST_MESSAGE = "The container could not be located when the pod was terminated"
_UNREACHABLE_TAINT = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


def node_object_status(config: NodeConfig, *, ready: str, since: str) -> dict[str, Any]:
    """The Node's status as its kubelet posts it (``ready`` "True") or as the controller leaves it
    ("Unknown"); ``since`` is when Ready last changed."""
    timestamp = now()
    reporting = ready == "True"
    message = "kubelet is posting ready status" if reporting else "Kubelet stopped posting node status."
    conditions = [
        {
            "type": kind,
            "status": "False" if reporting else "Unknown",
            "reason": f"KubeletHasSufficient{kind.removesuffix('Pressure')}"
            if reporting
            else "NodeStatusUnknown",
            "message": message,
            "lastHeartbeatTime": timestamp,
            "lastTransitionTime": since,
        }
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": ready,
            "reason": "KubeletReady" if reporting else "NodeStatusUnknown",
            "message": message,
            "lastHeartbeatTime": timestamp,
            "lastTransitionTime": since,
        }
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 2**33
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory // 1024}Ki",
        "pods": "110",
        "ephemeral-storage": f"{shutil.disk_usage(config.root).total // 1024}Ki",
    }
    return {
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": config.host_ip},
            {"type": "Hostname", "address": config.name},
        ],
        "capacity": capacity,
        "allocatable": capacity,
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {
            "architecture": config.all_labels()["kubernetes.io/arch"],
            "operatingSystem": "linux",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "containerRuntimeVersion": "kubetask-local://0.1.0",
            "osImage": "kubetask local node",
            "kernelVersion": os.uname().release if hasattr(os, "uname") else "",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
    }


async def lose_node(
    api: NodeApiClient, config: NodeConfig, *, post_status: Callable[..., Awaitable[None]]
) -> None:
    """Run the node-lifecycle controller's reaction to a silent node (cancelled when the node returns)."""
    try:
        await asyncio.sleep(config.node_monitor_grace)
        await post_status(ready="Unknown")
        taints = [*(t.as_dict() for t in config.taints), {**_UNREACHABLE_TAINT, "timeAdded": now()}]
        await api.request(
            "PATCH",
            f"/api/v1/nodes/{config.name}",
            body={"spec": {"taints": taints}},
            content_type=MERGE_PATCH,
        )
        await _update_node_pods(api, config.name, lost=False)
        await asyncio.sleep(config.pod_eviction_timeout)
        await _update_node_pods(api, config.name, lost=True)
    except ApiError as error:
        logger.warning("node-lifecycle update of lost node %s failed: %s", config.name, error)


async def _update_node_pods(api: NodeApiClient, node_name: str, *, lost: bool) -> None:
    listing = await api.request("GET", "/api/v1/pods", params={"fieldSelector": f"spec.nodeName={node_name}"})
    for pod in listing.get("items") or []:
        if (pod.get("spec") or {}).get("nodeName") != node_name:
            continue  # an API server that ignores the field selector
        status = pod.get("status") or {}
        if status.get("phase") in TERMINAL_PHASES:
            continue
        metadata = pod["metadata"]
        patch = lost_pod_status(status, node_name=node_name, pod_name=metadata["name"], lost=lost)
        try:
            await api.request(
                "PATCH",
                f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}/status",
                body={"status": patch},
                content_type=MERGE_PATCH,
            )
        except ApiError as error:
            if error.status != 404:
                raise


def lost_pod_status(
    status: Mapping[str, Any], *, node_name: str, pod_name: str, lost: bool
) -> dict[str, Any]:
    """The status the node-lifecycle controller gives a pod on an unreachable node: not ready, then ``Failed``
    with reason ``NodeLost`` once the eviction timeout passed."""
    timestamp = now()
    conditions = [
        dict(c) for c in status.get("conditions") or [] if c.get("type") not in ("Ready", "DisruptionTarget")
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "False",
            "reason": "NodeNotReady",
            "lastProbeTime": None,
            "lastTransitionTime": timestamp,
            "message": f"Node {node_name} is not ready",
        }
    )
    if not lost:
        return {"conditions": conditions}
    message = f"Node {node_name} which was running pod {pod_name} is unresponsive"
    conditions.append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "lastProbeTime": None,
            "lastTransitionTime": timestamp,
            "message": "Taint manager: deleting due to NoExecute taint",
        }
    )
    states = lost_container_states(status)
    containers = [
        {**container, "state": states[container.get("name", "")], "ready": False, "started": False}
        for container in status.get("containerStatuses") or []
    ]
    return {
        "phase": "Failed",
        "reason": "NodeLost",
        "message": message,
        "conditions": conditions,
        "containerStatuses": containers or None,
    }


def lost_container_states(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Container name -> state after the node lost its containers: finished ones keep their state, the others
    are ``terminated`` with reason ``ContainerStatusUnknown`` (137), as the kubelet reports after a reboot."""
    finished = now()
    states = {}
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "terminated" not in state:
            state = terminated(
                exit_code=137,
                reason="ContainerStatusUnknown",
                message=LOST_MESSAGE,
                started_at=(state.get("running") or {}).get("startedAt"),
                finished_at=finished,
            )
        states[container.get("name", "")] = state
    return states
