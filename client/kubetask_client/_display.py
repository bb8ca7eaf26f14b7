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


class ProgressDisplay:
    """Prints one line each time a TaskRun's progress changes: ``[  12s] name: Running, attempt 1``."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._last: str | None = None

    def __call__(self, taskrun: Mapping[str, Any]) -> None:
        line = f"{taskrun.get('metadata', {}).get('name')}: {progress_line(taskrun)}"
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
            phase_of(taskrun),
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
        ("Phase", phase_of(taskrun)),
        ("Reason", condition.get("reason")),
        ("Message", condition.get("message")),
        ("Started", status.get("startTime")),
        ("Completed", status.get("completionTime")),
        ("Duration", duration_of(taskrun, now=now)),
        ("Next attempt", status.get("nextAttemptTime")),
        ("Pod", status.get("podName")),
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
