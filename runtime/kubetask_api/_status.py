"""Typed, read-only views of a TaskRun's status, tolerant of what is missing (a new TaskRun has none)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubetask_api._phases import CONDITION_SUCCEEDED, FINAL_PHASES, PENDING


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class ErrorView:
    """``status.error``: what the task's error document said."""

    kind: str | None
    type: str | None
    message: str | None
    recoverable: bool | None

    @classmethod
    def of(cls, error: Mapping[str, Any]) -> ErrorView:
        recoverable = error.get("recoverable")
        return cls(
            kind=_text(error.get("kind")),
            type=_text(error.get("type")),
            message=_text(error.get("message")),
            recoverable=recoverable if isinstance(recoverable, bool) else None,
        )


@dataclass(frozen=True)
class AttemptView:
    """One entry of ``status.attempts``."""

    number: int | None
    pod_name: str | None
    reason: str | None
    message: str | None

    @classmethod
    def of(cls, attempt: Mapping[str, Any]) -> AttemptView:
        number = attempt.get("number")
        return cls(
            number=number if isinstance(number, int) and not isinstance(number, bool) else None,
            pod_name=_text(attempt.get("podName")),
            reason=_text(attempt.get("reason")),
            message=_text(attempt.get("message")),
        )


def succeeded_condition(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``Succeeded`` condition of a TaskRun's (or TaskMap's) ``status``; empty when it has none."""
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == CONDITION_SUCCEEDED:
            return condition
    return {}


@dataclass(frozen=True)
class StatusView:
    """A TaskRun's status: ``phase`` is Pending until the operator writes one."""

    phase: str = PENDING
    reason: str | None = None
    message: str | None = None
    attempt_count: int = 0
    pod_name: str | None = None
    attempts: tuple[AttemptView, ...] = ()
    outputs: Mapping[str, Any] | None = None
    outputs_uri: str | None = None
    error: ErrorView | None = None
    start_time: str | None = None
    completion_time: str | None = None
    next_attempt_time: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.phase in FINAL_PHASES

    @classmethod
    def of(cls, taskrun: Mapping[str, Any]) -> StatusView:
        status = _mapping(taskrun.get("status"))
        condition = succeeded_condition(status)
        attempts = tuple(AttemptView.of(a) for a in status.get("attempts") or () if isinstance(a, Mapping))
        count = status.get("attemptCount")
        outputs = status.get("outputs")
        error = status.get("error")
        return cls(
            phase=_text(status.get("phase")) or PENDING,
            reason=_text(condition.get("reason")),
            message=_text(condition.get("message")),
            attempt_count=count if isinstance(count, int) and not isinstance(count, bool) else len(attempts),
            pod_name=_text(status.get("podName")),
            attempts=attempts,
            outputs=outputs if isinstance(outputs, Mapping) else None,
            outputs_uri=_text(status.get("outputsUri")),
            error=ErrorView.of(error) if isinstance(error, Mapping) else None,
            start_time=_text(status.get("startTime")),
            completion_time=_text(status.get("completionTime")),
            next_attempt_time=_text(status.get("nextAttemptTime")),
            raw=status,
        )
