"""Reading the termination message back (the operator's side of ``_termination``).

Kept apart from the writer because it uses :mod:`dataclasses` and :mod:`json`, which the cold start of
``kubetask-execute`` must not pay for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorInfo:
    """The error part of a failed run's summary."""

    kind: str  # "USER" or "SYSTEM"
    recoverable: bool
    type: str
    message: str


@dataclass(frozen=True)
class TerminationSummary:
    """What ``kubetask-execute`` wrote to the termination message."""

    outcome: str  # "Succeeded" or "Failed"
    outputs: dict[str, Any] | None = None
    outputs_uri: str | None = None
    truncated: bool = False
    error: ErrorInfo | None = None
    error_uri: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome == "Succeeded"


def parse_termination_message(text: str) -> TerminationSummary | None:
    """The summary in *text*, or None when *text* is not a kubetask summary (e.g. a log tail, or anything
    a task wrote to the termination message itself, however nested)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    outcome = document.get("outcome")
    outputs = document.get("outputs")
    outputs_uri = document.get("outputsUri")
    error_uri = document.get("errorUri")
    truncated = document.get("truncated", False)
    if (
        outcome not in ("Succeeded", "Failed")
        or not isinstance(outputs, dict | None)
        or not isinstance(outputs_uri, str | None)
        or not isinstance(error_uri, str | None)
        or not isinstance(truncated, bool)
    ):
        return None
    error = None
    if outcome == "Failed":
        error = _parse_error(document.get("error"))
        if error is None:
            return None
    return TerminationSummary(
        outcome=outcome,
        outputs=outputs,
        outputs_uri=outputs_uri,
        truncated=truncated,
        error=error,
        error_uri=error_uri,
    )


def _parse_error(value: object) -> ErrorInfo | None:
    if not isinstance(value, dict):
        return None
    kind, recoverable = value.get("kind"), value.get("recoverable")
    error_type, message = value.get("type"), value.get("message")
    if (
        kind not in ("USER", "SYSTEM")
        or not isinstance(recoverable, bool)
        or not isinstance(error_type, str)
        or not isinstance(message, str)
    ):
        return None
    return ErrorInfo(kind=kind, recoverable=recoverable, type=error_type, message=message)
