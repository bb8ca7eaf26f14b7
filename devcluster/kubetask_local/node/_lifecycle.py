"""The Node object's status, and what the control plane does when the node stops reporting.

A stopped node is lost as in a real cluster (Kubernetes 1.29+):

- the node-lifecycle controller (pkg/controller/nodelifecycle): after ``node_monitor_grace`` seconds the
  node's conditions turn ``Unknown`` (reason ``NodeStatusUnknown``, "Kubelet stopped posting node status."),
  it gets the ``node.kubernetes.io/unreachable`` taints (``NoSchedule`` and ``NoExecute``), and each of its
  pods gets ``Ready`` False and a ``NodeNotReady`` event ("Node is not ready", ``MarkPodsNotReady``);
- the taint-eviction controller (pkg/controller/tainteviction): once the pod's toleration of the NoExecute
  taint runs out it records ``TaintManagerEviction``
  ("Marking for deletion Pod ns/name"), adds the ``DisruptionTarget`` condition (reason
  ``DeletionByTaintManager``, "Taint manager: deleting due to NoExecute taint") and deletes the pod. The
  toleration is the pod's own (``_spec.eviction_delay``): every pod has the 300 s that
  DefaultTolerationSeconds admission gives, unless it says otherwise; a pod tolerating the taint with no
  ``tolerationSeconds`` stays.
  The local clock is compressed: ``pod_eviction_timeout`` seconds stand for 300 s, and other tolerations
  scale with it (``tolerationSeconds: 0`` is at once, 600 twice the default).

Nothing else happens while the node is away: the pod keeps its phase and container states, and stays
Terminating, as no kubelet confirms its end (the pod garbage collector acts only once the Node object is gone
or marked out-of-service). No controller writes the reason ``NodeLost`` any more: that was the pre-taint
eviction path (``SetPodTerminationReason``), gone with the taint manager becoming the only one. When the node
comes back, its kubelet finds the containers gone: the pod ends ``Failed``, its containers ``terminated``
with reason ``ContainerStatusUnknown`` (137), and a deleted pod is then removed.
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
from kubetask_local.node._events import EventRecorder
from kubetask_local.node._spec import Taint, eviction_delay
from kubetask_local.node._status import now, terminated

logger = logging.getLogger("kubetask_local.node")

TERMINAL_PHASES = ("Succeeded", "Failed")
KUBELET_VERSION = "v1.36.0-kubetask-local"
LOST_MESSAGE = "The container could not be located when the pod was terminated"


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


_UNREACHABLE = "node.kubernetes.io/unreachable"
_TAINT_EVICTION_MESSAGE = "Taint manager: deleting due to NoExecute taint"


async def lose_node(
    api: NodeApiClient,
    config: NodeConfig,
    *,
    post_status: Callable[..., Awaitable[None]],
    events: EventRecorder,
) -> None:
    """Run the controllers' reaction to a silent node (cancelled when the node returns)."""
    try:
        await asyncio.sleep(config.node_monitor_grace)
        await post_status(ready="Unknown")
        taints = [
            *(t.as_dict() for t in config.taints),
            {"key": _UNREACHABLE, "effect": "NoSchedule"},
            {"key": _UNREACHABLE, "effect": "NoExecute", "timeAdded": now()},
        ]
        await api.request(
            "PATCH",
            f"/api/v1/nodes/{config.name}",
            body={"spec": {"taints": taints}},
            content_type=MERGE_PATCH,
        )
        for pod in await _unfinished_pods(api, config.name):
            if await _patch_status(api, pod, {"conditions": pods_not_ready(pod.get("status") or {})}):
                events.record(
                    pod,
                    kind="Warning",
                    reason="NodeNotReady",
                    message="Node is not ready",
                    component="node-controller",
                )
        await _evict_when_tolerations_end(api, config, taints=taints, events=events)
    except ApiError as error:
        logger.warning("node-lifecycle update of lost node %s failed: %s", config.name, error)


async def _evict_when_tolerations_end(
    api: NodeApiClient, config: NodeConfig, *, taints: list[dict[str, Any]], events: EventRecorder
) -> None:
    """Evict each pod of the node when its toleration of the NoExecute taints ends (never, for a pod that
    tolerates them without ``tolerationSeconds``); a pod that is gone or finished by then is left alone."""
    node_taints = [Taint(str(t["key"]), str(t.get("value") or ""), str(t["effect"])) for t in taints]
    loop = asyncio.get_running_loop()
    start = loop.time()
    due: dict[str, float] = {}
    for pod in await _unfinished_pods(api, config.name):
        delay = eviction_delay(pod, node_taints, default_toleration=config.pod_eviction_timeout)
        if delay is not None:
            due[pod["metadata"]["uid"]] = delay
    for uid, delay in sorted(due.items(), key=lambda item: item[1]):
        await asyncio.sleep(max(start + delay - loop.time(), 0.0))
        for pod in await _unfinished_pods(api, config.name):
            if pod["metadata"]["uid"] == uid:
                await _evict(api, pod, events=events)


async def _unfinished_pods(api: NodeApiClient, node_name: str) -> list[dict[str, Any]]:
    listing = await api.request("GET", "/api/v1/pods", params={"fieldSelector": f"spec.nodeName={node_name}"})
    return [
        pod
        for pod in listing.get("items") or []
        if (pod.get("spec") or {}).get("nodeName") == node_name  # an API server ignoring the selector
        and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES
    ]


async def _patch_status(api: NodeApiClient, pod: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """False when the pod is gone."""
    metadata = pod["metadata"]
    try:
        await api.request(
            "PATCH",
            f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}/status",
            body={"status": status},
            content_type=MERGE_PATCH,
        )
    except ApiError as error:
        if error.status != 404:
            raise
        return False
    return True


async def _evict(api: NodeApiClient, pod: Mapping[str, Any], *, events: EventRecorder) -> None:
    """The taint-eviction controller's ``addConditionAndDeletePod``: DisruptionTarget, then a deletion with
    the pod's own grace period."""
    metadata = pod["metadata"]
    events.record(
        pod,
        reason="TaintManagerEviction",
        message=f"Marking for deletion Pod {metadata['namespace']}/{metadata['name']}",
        component="taint-eviction-controller",
    )
    conditions = [
        dict(c)
        for c in (pod.get("status") or {}).get("conditions") or []
        if c.get("type") != "DisruptionTarget"
    ]
    conditions.append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": _TAINT_EVICTION_MESSAGE,
            "lastProbeTime": None,
            "lastTransitionTime": now(),
        }
    )
    if not await _patch_status(api, pod, {"conditions": conditions}):
        return
    try:
        await api.request("DELETE", f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}")
    except ApiError as error:
        if error.status != 404:
            raise


def pods_not_ready(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pod's conditions after ``MarkPodsNotReady``: ``Ready`` False (its reason and message kept, its
    transition time moved when it changes), the others as they are."""
    conditions = []
    for condition in status.get("conditions") or []:
        updated = dict(condition)
        if updated.get("type") == "Ready" and updated.get("status") != "False":
            updated["status"] = "False"
            updated["lastTransitionTime"] = now()
        conditions.append(updated)
    return conditions


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
