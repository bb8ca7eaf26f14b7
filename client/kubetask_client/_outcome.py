"""How a TaskRun ended, in the terms of the exit-code table: one function every command that waits uses,
so ``submit --wait``, ``wait`` and ``get -o outputs`` can never disagree. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetask_client._errors import (
    EXIT_CANCELLED,
    EXIT_SUCCEEDED,
    EXIT_SYSTEM,
    EXIT_TASK_FAILED,
    EXIT_TIMED_OUT,
    EXIT_USAGE,
)
from kubetask_client._taskrun import attempts_of, phase_of, status_of, succeeded_condition

#: Reasons (the operator's reason table) that are the task's own failure.
TASK_FAILURE_REASONS = frozenset({"UserError", "OOMKilled"})
#: Reasons meaning the TaskRun itself was refused: its author must change it.
REFUSED_REASONS = frozenset({"InvalidSpec"})
TIMEOUT_REASONS = frozenset({"Timeout", "PendingTimeout"})
#: Reasons an attempt ends with when its container never started, so it has no log at all.
NEVER_STARTED_REASONS = frozenset(
    {
        "InvalidImageName",
        "ImagePullFailed",
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "RegistryUnavailable",
        "CreateContainerConfigError",
        "CreateContainerError",
        "PendingTimeout",
        "Unschedulable",
        "InvalidSpec",
    }
)


def reason_of(taskrun: Mapping[str, Any]) -> str:
    return str(succeeded_condition(taskrun).get("reason") or "")


def exit_code_of(taskrun: Mapping[str, Any]) -> int:
    """The exit code for a TaskRun that has ended (see EXIT_CODE_TABLE)."""
    phase = phase_of(taskrun)
    if phase == "Succeeded":
        return EXIT_SUCCEEDED
    if phase == "Cancelled":
        return EXIT_CANCELLED
    reason = reason_of(taskrun)
    if reason in TIMEOUT_REASONS:
        return EXIT_TIMED_OUT
    if reason in TASK_FAILURE_REASONS:
        return EXIT_TASK_FAILED
    if reason in REFUSED_REASONS:
        return EXIT_USAGE
    error = status_of(taskrun).get("error")
    if not reason and isinstance(error, Mapping) and error.get("kind") == "USER":
        return EXIT_TASK_FAILED
    return EXIT_SYSTEM


def attempt_never_started(attempt: Mapping[str, Any]) -> bool:
    """Whether an ended attempt's container never ran (so there never was a log to read)."""
    return str(attempt.get("reason") or "") in NEVER_STARTED_REASONS and attempt.get("exitCode") is None


def never_started(taskrun: Mapping[str, Any]) -> bool:
    """Whether the run ended with no attempt whose container ever ran."""
    attempts = attempts_of(taskrun)
    if not attempts:
        return reason_of(taskrun) in NEVER_STARTED_REASONS or phase_of(taskrun) == "Cancelled"
    return all(attempt_never_started(attempt) for attempt in attempts)
