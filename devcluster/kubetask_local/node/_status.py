"""Pure builders of pod status in the shapes a kubelet reports (phase, conditions, container states)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubetask_local.node._spec import qos_class

# The kubelet's termination message limits: the file is read up to 4096 bytes; with FallbackToLogsOnError the
# last 80 lines of the log, at most 2048 bytes, stand in for an empty file when the container failed.
TERMINATION_MESSAGE_LIMIT = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048


def now() -> str:
    """The current time in the API's RFC 3339 format (seconds precision, UTC)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def waiting(reason: str, message: str | None = None) -> dict[str, Any]:
    return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def running(started_at: str) -> dict[str, Any]:
    return {"running": {"startedAt": started_at}}


def terminated(
    *,
    exit_code: int,
    reason: str,
    started_at: str | None,
    finished_at: str,
    message: str | None = None,
    container_id: str | None = None,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": started_at,
        "finishedAt": finished_at,
    }
    if message:
        state["message"] = message
    if container_id:
        state["containerID"] = container_id
    return {"terminated": state}


def exit_reason(exit_code: int, *, oom_killed: bool) -> str:
    if oom_killed:
        return "OOMKilled"
    return "Completed" if exit_code == 0 else "Error"


def termination_message(*, file_text: str, exit_code: int, policy: str, log_tail: str) -> str:
    """What goes in ``state.terminated.message``: the file, or the log tail under FallbackToLogsOnError."""
    if file_text:
        return file_text
    if policy == "FallbackToLogsOnError" and exit_code != 0:
        return log_tail
    return ""


def tail_for_message(log_text: str) -> str:
    """The last 80 lines, at most 2048 bytes, of a container's output (FallbackToLogsOnError)."""
    lines = log_text.splitlines(keepends=True)[-FALLBACK_LOG_LINES:]
    tail = "".join(lines).encode()[-FALLBACK_LOG_BYTES:]
    return tail.decode(errors="ignore")


@dataclass
class Conditions:
    """Pod conditions with ``lastTransitionTime`` kept while a condition's status does not change."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def set(self, kind: str, status: str, *, reason: str | None = None, message: str | None = None) -> None:
        previous = self.items.get(kind)
        transition = previous["lastTransitionTime"] if previous and previous["status"] == status else now()
        condition: dict[str, Any] = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": transition,
        }
        if reason:
            condition["reason"] = reason
        if message:
            condition["message"] = message
        self.items[kind] = condition

    def as_list(self) -> list[dict[str, Any]]:
        order = [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
            "DisruptionTarget",
        ]
        return sorted(self.items.values(), key=lambda c: order.index(c["type"]) if c["type"] in order else 99)


def container_status(
    container: Mapping[str, Any],
    *,
    state: dict[str, Any],
    container_id: str | None = None,
    last_state: dict[str, Any] | None = None,
    restart_count: int = 0,
) -> dict[str, Any]:
    image = str(container.get("image", ""))
    is_running = "running" in state
    status: dict[str, Any] = {
        "name": container.get("name", ""),
        "image": image,
        "imageID": "" if "waiting" in state and not container_id else f"kubetask-local://{image}",
        "ready": is_running,
        "started": is_running,
        "restartCount": restart_count,
        "state": state,
        "lastState": last_state or {},
    }
    if container_id:
        status["containerID"] = container_id
    return status


def pod_status(
    pod: Mapping[str, Any],
    *,
    phase: str,
    conditions: Conditions,
    host_ip: str | None,
    pod_ip: str | None,
    start_time: str | None,
    containers: list[dict[str, Any]],
    init_containers: list[dict[str, Any]] | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """A full ``status`` for a merge patch: fields that must disappear are sent as null."""
    return {
        "phase": phase,
        "conditions": conditions.as_list(),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else None,
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}] if pod_ip else None,
        "startTime": start_time,
        "containerStatuses": containers or None,
        "initContainerStatuses": init_containers or None,
        "qosClass": qos_class(pod),
        "reason": reason,
        "message": message,
    }
