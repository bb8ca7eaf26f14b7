"""Builders of TaskRuns and pods in the shapes the API server returns, for the operator's unit tests."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

from kubetask_operator._naming import pod_name
from kubetask_operator._observe import PodObservation, observe_pod

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
UID = "0b7c8a52-1111-2222-3333-444455556666"


def at(seconds: float) -> datetime.datetime:
    """NOW shifted by ``seconds``."""
    return NOW + datetime.timedelta(seconds=seconds)


def stamp(seconds: float = 0) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def taskrun(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, **metadata: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {
            "name": "demo",
            "namespace": "team",
            "uid": UID,
            "generation": 1,
            "resourceVersion": "10",
            "creationTimestamp": stamp(-60),
            **metadata,
        },
        "spec": {
            "image": "registry.example/app:1.0",
            "task": {"module": "pkg.tasks", "name": "add"},
            **(spec or {}),
        },
    }
    if status is not None:
        body["status"] = copy.deepcopy(status)
    return body


def in_progress(
    attempt: int = 1,
    *,
    phase: str = "Pending",
    started: bool = False,
    earlier: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The status of a TaskRun whose attempt ``attempt`` was created at NOW - 10s."""
    name = pod_name("demo", UID, attempt)
    current: dict[str, Any] = {"number": attempt, "podName": name, "createTime": stamp(-10)}
    if started:
        current["startTime"] = stamp(-5)
    return {
        "phase": phase,
        "attemptCount": attempt,
        "podName": name,
        "startTime": stamp(-100),
        "attempts": [*(earlier or []), current],
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Succeeded",
                "status": "Unknown",
                "reason": "Pending",
                "message": f"attempt {attempt}: pod {name} created, waiting for it to start",
                "lastTransitionTime": stamp(-100),
                "observedGeneration": 1,
            }
        ],
    }


def failed_attempt(number: int, kind: str, reason: str = "UserError") -> dict[str, Any]:
    return {
        "number": number,
        "podName": pod_name("demo", UID, number),
        "createTime": stamp(-90),
        "completionTime": stamp(-80),
        "reason": reason,
        "message": "earlier failure",
        "errorKind": kind,
    }


def pod(
    *,
    attempt: int = 1,
    phase: str = "Pending",
    waiting: tuple[str, str] | None = None,
    running: bool = False,
    terminated: dict[str, Any] | None = None,
    pod_reason: str | None = None,
    pod_message: str | None = None,
    unschedulable: bool = False,
    deleting: bool = False,
    conditions: list[dict[str, Any]] | None = None,
) -> PodObservation:
    """A task pod as the API returns it, read by ``observe_pod``."""
    state: dict[str, Any] = {}
    if waiting is not None:
        state["waiting"] = {"reason": waiting[0], "message": waiting[1]}
    if running:
        state["running"] = {"startedAt": stamp(-5)}
    if terminated is not None:
        state["terminated"] = {"startedAt": stamp(-5), "finishedAt": stamp(-1), **terminated}
    all_conditions = list(conditions or [])
    if unschedulable:
        all_conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/1 nodes are available",
            }
        )
    status: dict[str, Any] = {"phase": phase, "conditions": all_conditions}
    if state:
        status["containerStatuses"] = [{"name": "task", "state": state}]
    if pod_reason:
        status["reason"] = pod_reason
    if pod_message:
        status["message"] = pod_message
    metadata: dict[str, Any] = {
        "name": pod_name("demo", UID, attempt),
        "namespace": "team",
        "uid": f"pod-{attempt}",
        "labels": {"kubetask.dev/attempt": str(attempt), "kubetask.dev/taskrun-uid": UID},
    }
    if deleting:
        metadata["deletionTimestamp"] = stamp(-1)
    return observe_pod({"metadata": metadata, "spec": {}, "status": status})


def summary(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))
