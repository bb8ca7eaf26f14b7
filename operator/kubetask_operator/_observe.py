"""What a task pod says about its attempt, read once from the pod object into a small frozen value.

The operator keeps these (not whole pods) in memory, so memory stays small however many pods there are.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from kubetask_operator._naming import LABEL_ATTEMPT, LABEL_TASKRUN_UID
from kubetask_operator._times import parse_time

CONTAINER_NAME = "task"


@dataclasses.dataclass(frozen=True)
class PodObservation:
    """The parts of a task pod's state that decide its attempt's fate."""

    name: str
    uid: str = ""
    taskrun_uid: str = ""
    attempt: int | None = None
    phase: str = "Pending"
    deleting: bool = False
    pod_reason: str | None = None
    pod_message: str | None = None
    disruption_reason: str | None = None
    unschedulable_message: str | None = None
    scheduling_gates: tuple[str, ...] = ()
    """The gates holding the pod back from scheduling (e.g. Kueue's, until its workload is admitted)."""
    started_at: datetime.datetime | None = None
    waiting_reason: str | None = None
    waiting_message: str | None = None
    terminated: bool = False
    exit_code: int | None = None
    terminated_reason: str | None = None
    termination_message: str | None = None
    finished_at: datetime.datetime | None = None
    active_deadline_seconds: int | None = None
    warning_reason: str | None = None
    """The latest Warning Event about the pod (e.g. the kubelet's ``FailedMount``), when it was looked up."""
    warning_message: str | None = None
    warnings_checked_at: datetime.datetime | None = None
    """When the pod's Events were last looked up (None: never, since this state of the pod was seen)."""

    @property
    def finished(self) -> bool:
        """The task's container has ended (or the pod failed as a whole)."""
        return self.terminated or self.phase in ("Succeeded", "Failed")

    @property
    def running(self) -> bool:
        return not self.finished and (self.started_at is not None or self.phase == "Running")


def _task_container_status(status: Mapping[str, Any]) -> Mapping[str, Any]:
    statuses = status.get("containerStatuses") or []
    for entry in statuses:
        if isinstance(entry, Mapping) and entry.get("name") == CONTAINER_NAME:
            return entry
    return statuses[0] if statuses and isinstance(statuses[0], Mapping) else {}


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return {}


def _attempt(labels: Mapping[str, Any]) -> int | None:
    try:
        return int(labels.get(LABEL_ATTEMPT, ""))
    except ValueError:
        return None


def observe_pod(pod: Mapping[str, Any]) -> PodObservation:
    """Read a pod object (as the API returns it) into a PodObservation."""
    metadata: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] = pod.get("spec") or {}
    status: Mapping[str, Any] = pod.get("status") or {}
    labels: Mapping[str, Any] = metadata.get("labels") or {}
    container = _task_container_status(status)
    state: Mapping[str, Any] = container.get("state") or {}
    running: Mapping[str, Any] = state.get("running") or {}
    waiting: Mapping[str, Any] = state.get("waiting") or {}
    terminated: Mapping[str, Any] | None = state.get("terminated")
    scheduled = _condition(status, "PodScheduled")
    unschedulable = scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable"
    disruption = _condition(status, "DisruptionTarget")
    started_at = parse_time(running.get("startedAt")) or parse_time((terminated or {}).get("startedAt"))
    exit_code = (terminated or {}).get("exitCode")
    deadline = spec.get("activeDeadlineSeconds")
    gates = tuple(
        str(gate.get("name")) for gate in spec.get("schedulingGates") or [] if isinstance(gate, Mapping)
    )
    return PodObservation(
        name=str(metadata.get("name", "")),
        uid=str(metadata.get("uid", "")),
        taskrun_uid=str(labels.get(LABEL_TASKRUN_UID, "")),
        attempt=_attempt(labels),
        phase=str(status.get("phase") or "Pending"),
        deleting=bool(metadata.get("deletionTimestamp")),
        pod_reason=status.get("reason"),
        pod_message=status.get("message"),
        disruption_reason=disruption.get("reason") if disruption.get("status") == "True" else None,
        unschedulable_message=str(scheduled.get("message") or "unschedulable") if unschedulable else None,
        scheduling_gates=gates if not spec.get("nodeName") else (),
        started_at=started_at,
        waiting_reason=waiting.get("reason"),
        waiting_message=waiting.get("message"),
        terminated=terminated is not None,
        exit_code=exit_code if isinstance(exit_code, int) else None,
        terminated_reason=(terminated or {}).get("reason"),
        termination_message=(terminated or {}).get("message"),
        finished_at=parse_time((terminated or {}).get("finishedAt")),
        active_deadline_seconds=deadline if isinstance(deadline, int) else None,
    )


def carry_warnings(previous: PodObservation | None, current: PodObservation) -> PodObservation:
    """``current`` with what ``previous`` learnt from the pod's Events, while the pod waits the same way (a
    pod status update alone says nothing new about why it waits)."""
    if previous is None or previous.warnings_checked_at is None:
        return current
    if (previous.phase, previous.waiting_reason) != (current.phase, current.waiting_reason):
        return current
    return dataclasses.replace(
        current,
        warning_reason=previous.warning_reason,
        warning_message=previous.warning_message,
        warnings_checked_at=previous.warnings_checked_at,
    )
