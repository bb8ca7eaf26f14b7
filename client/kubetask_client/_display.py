"""What the CLI prints: progress lines while waiting, a TaskRun described, TaskRuns as a table. Pure
formatting, except ProgressDisplay which writes to the stream it is given."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from kubetask_client._taskrun import (
    age_of,
    attempts_of,
    duration_of,
    format_seconds,
    outputs_of,
    phase_of,
    progress_line,
    status_of,
    succeeded_condition,
)

#: What stands for the phase of a TaskRun no operator has written a status for: not "Pending", which would
#: suggest an operator took it in.
NO_PHASE = "<none>"
NO_STATUS = "no status yet (waiting for an operator)"


def has_phase(taskrun: Mapping[str, Any]) -> bool:
    return bool(status_of(taskrun).get("phase"))


class ProgressDisplay:
    """Prints one line each time a TaskRun's progress changes: ``[  12s] name: Running, attempt 1``."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._last: str | None = None

    def __call__(self, taskrun: Mapping[str, Any]) -> None:
        progress = progress_line(taskrun) if has_phase(taskrun) else NO_STATUS
        line = f"{taskrun.get('metadata', {}).get('name')}: {progress}"
        if line == self._last:
            return
        self._last = line
        elapsed = format_seconds(self._clock() - self._started)
        self._stream.write(f"[{elapsed:>6}] {line}\n")
        self._stream.flush()


def format_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "   ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def taskrun_rows(taskruns: Sequence[Mapping[str, Any]], *, now: datetime, with_namespace: bool) -> str:
    header = ["NAME", "PHASE", "REASON", "ATTEMPTS", "DURATION", "AGE"]
    if with_namespace:
        header.insert(0, "NAMESPACE")
    rows = []
    for taskrun in taskruns:
        status = status_of(taskrun)
        row = [
            str(taskrun["metadata"]["name"]),
            phase_of(taskrun) if has_phase(taskrun) else NO_PHASE,
            str(succeeded_condition(taskrun).get("reason") or ""),
            str(status.get("attemptCount") or len(attempts_of(taskrun))),
            duration_of(taskrun, now=now),
            age_of(taskrun, now=now),
        ]
        if with_namespace:
            row.insert(0, str(taskrun["metadata"].get("namespace", "")))
        rows.append(row)
    return table(header, rows)


def describe(taskrun: Mapping[str, Any], *, now: datetime) -> str:
    """A TaskRun for people: where it is, every attempt, then its outputs or its error."""
    metadata = taskrun.get("metadata", {})
    spec = taskrun.get("spec", {})
    status = status_of(taskrun)
    condition = succeeded_condition(taskrun)
    task = spec.get("task")
    target = (
        f"{task['module']}:{task['name']}"
        if isinstance(task, Mapping)
        else " ".join(spec.get("loaderArgs", []))
    )
    fields = [
        ("Name", metadata.get("name")),
        ("Namespace", metadata.get("namespace")),
        ("Task", target),
        ("Image", spec.get("image")),
        ("Phase", phase_of(taskrun) if has_phase(taskrun) else NO_STATUS),
        ("Reason", condition.get("reason")),
        ("Message", condition.get("message")),
        ("Started", status.get("startTime")),
        ("Completed", status.get("completionTime")),
        ("Duration", duration_of(taskrun, now=now)),
        ("Next attempt", status.get("nextAttemptTime")),
        ("Pod", status.get("podName")),
        ("Queue", spec.get("queue")),
        ("Admitted", status.get("admittedAt")),
        ("Cache key", status.get("cacheKey")),
        ("Cached from", status.get("cachedFrom")),
    ]
    lines = [f"{label + ':':<14}{value}" for label, value in fields if value not in (None, "")]
    attempts = attempts_of(taskrun)
    if attempts:
        rows = [
            [
                str(attempt.get("number", "")),
                str(attempt.get("podName", "")),
                str(attempt.get("reason", "")),
                "" if attempt.get("exitCode") is None else str(attempt["exitCode"]),
                duration_of({"status": attempt}, now=now),
                str(attempt.get("message", "")).splitlines()[0][:80] if attempt.get("message") else "",
            ]
            for attempt in attempts
        ]
        attempt_table = table(["#", "POD", "REASON", "EXIT", "DURATION", "MESSAGE"], rows)
        lines += ["Attempts:", *("  " + line for line in attempt_table.splitlines())]
    outputs = outputs_of(taskrun)
    if outputs is not None:
        lines += ["Outputs:", *("  " + line for line in format_json(outputs).splitlines())]
    if status.get("outputsUri"):
        lines.append(f"{'Outputs URI:':<14}{status['outputsUri']}")
    error = status.get("error")
    if isinstance(error, Mapping):
        lines.append(f"{'Error:':<14}{error.get('kind', '')} {error.get('type', '')}".rstrip())
        lines += ["  " + line for line in str(error.get("message", "")).splitlines()]
        if error.get("uri"):
            lines.append(f"{'Error URI:':<14}{error['uri']}")
    return "\n".join(lines)


def inputs_help(task: Any, *, describe_type: Callable[[object], str]) -> str:
    """The task's inputs for ``submit TARGET --help``: name, type, default or "required", and its doc."""
    parameters = task.interface.inputs
    doc = (task.__doc__ or "").strip().splitlines()
    lines = [f"task {task.name}" + (f": {doc[0]}" if doc else "")]
    if not parameters:
        return "\n".join([*lines, "  (no inputs)"])
    rows = [
        [
            f"-i {name}=VALUE",
            describe_type(parameter.hint),
            "required" if parameter.required else f"default: {json.dumps(parameter.default, default=repr)}",
        ]
        for name, parameter in parameters.items()
    ]
    return "\n".join(
        [*lines, "inputs:", *("  " + row for row in table(["INPUT", "TYPE", "DEFAULT"], rows).splitlines())]
    )


def _event_line(event: Mapping[str, Any], *, now: datetime) -> list[str]:
    when = _parse(str(event.get("lastTimestamp") or event.get("eventTime") or ""))
    age = format_seconds((now - when).total_seconds()) if when else ""
    count = event.get("count")
    involved = event.get("involvedObject") or {}
    return [
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        age + (f" (x{count})" if isinstance(count, int) and count > 1 else ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        str(event.get("message") or "").replace("\n", " ")[:120],
    ]


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _reason_text(where: str, reason: object, message: object) -> str:
    return f"{where}: {reason}" + (f": {message}" if message else "")


def why_waiting(taskrun: Mapping[str, Any], pod: Mapping[str, Any] | None) -> str | None:
    """Why a TaskRun that has not ended is not running (None when it runs or has ended)."""
    phase = phase_of(taskrun)
    status = status_of(taskrun)
    namespace = taskrun.get("metadata", {}).get("namespace")
    if not status:
        return f"no operator has reported on this TaskRun; is one running and watching namespace {namespace}?"
    if phase == "Retrying":
        return f"waiting to retry: the next attempt starts at {status.get('nextAttemptTime') or '(unknown)'}"
    condition = succeeded_condition(taskrun)
    if phase == "Queued":  # its TaskQueue (place in line, why) or scheduling gates (Kueue) hold it
        return f"{condition.get('reason') or 'Queued'}: {condition.get('message') or 'waiting for admission'}"
    if phase != "Pending":
        return None
    reasons: list[str] = []
    if condition.get("reason") and condition.get("reason") != "Pending":
        reasons.append(f"{condition['reason']}: {condition.get('message') or ''}".rstrip(": "))
    if pod is not None:
        for pod_condition in (pod.get("status") or {}).get("conditions") or []:
            if pod_condition.get("status") == "False" and pod_condition.get("reason"):
                reasons.append(
                    _reason_text(
                        f"pod {pod_condition.get('type')}",
                        pod_condition["reason"],
                        pod_condition.get("message"),
                    )
                )
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                reasons.append(
                    _reason_text(
                        f"container {container.get('name')}", waiting["reason"], waiting.get("message")
                    )
                )
    elif status.get("podName"):
        reasons.append(f"pod {status['podName']} does not exist yet")
    return "; ".join(dict.fromkeys(reasons)) or "waiting for the pod to start"


def describe_details(
    taskrun: Mapping[str, Any],
    *,
    pod: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    now: datetime,
) -> str:
    """``kubetask describe``: what ``get`` shows, why it waits, and the events of the TaskRun and its pods."""
    lines = [describe(taskrun, now=now)]
    waiting = why_waiting(taskrun, pod)
    if waiting:
        lines.append(f"{'Waiting:':<14}{waiting}")
    spec = taskrun.get("spec") or {}
    settings = [
        (key, spec[key])
        for key in (
            "retries",
            "timeout",
            "pendingTimeout",
            "outputPrefix",
            "serviceAccountName",
            "ttlSecondsAfterFinished",
        )
        if spec.get(key) not in (None, "")
    ]
    if settings:
        lines += ["Spec:", *(f"  {key + ':':<24}{value}" for key, value in settings)]
    if spec.get("inputs"):
        lines += ["Inputs:", *("  " + line for line in format_json(spec["inputs"]).splitlines())]
    if events:
        rows = [_event_line(event, now=now) for event in events]
        lines += [
            "Events:",
            *(
                "  " + line
                for line in table(["TYPE", "REASON", "AGE", "OBJECT", "MESSAGE"], rows).splitlines()
            ),
        ]
    else:
        lines.append(f"{'Events:':<14}<none>")
    return "\n".join(lines)
