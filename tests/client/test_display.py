"""What the CLI prints: progress lines, a TaskRun described, the list table. Pure formatting."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from kubetask_client._display import ProgressDisplay, describe, taskrun_rows

NOW = datetime(2026, 1, 1, 0, 10, 0, tzinfo=UTC)


def _taskrun(name: str, status: dict[str, Any], namespace: str = "ns") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"image": "img:1", "task": {"module": "m", "name": "t"}},
        "status": status,
    }


FAILED = _taskrun(
    "flaky",
    {
        "phase": "Failed",
        "attemptCount": 2,
        "startTime": "2026-01-01T00:00:01Z",
        "completionTime": "2026-01-01T00:01:01Z",
        "conditions": [
            {"type": "Succeeded", "status": "False", "reason": "UserError", "message": "attempt 2 failed"}
        ],
        "attempts": [
            {
                "number": 1,
                "podName": "flaky-1",
                "reason": "OOMKilled",
                "exitCode": 137,
                "startTime": "2026-01-01T00:00:01Z",
                "completionTime": "2026-01-01T00:00:31Z",
                "message": "out of memory",
            },
            {
                "number": 2,
                "podName": "flaky-2",
                "reason": "UserError",
                "exitCode": 1,
                "startTime": "2026-01-01T00:00:41Z",
                "completionTime": "2026-01-01T00:01:01Z",
                "message": "boom\ntrace",
            },
        ],
        "error": {
            "kind": "USER",
            "recoverable": False,
            "type": "ValueError",
            "message": "boom",
            "uri": "s3://b/e.json",
        },
    },
)


def test_progress_prints_only_changes_with_the_elapsed_time() -> None:
    stream = io.StringIO()
    ticks = iter([0.0, 0.0, 12.0, 75.0])
    display = ProgressDisplay(stream, clock=lambda: next(ticks))
    display(_taskrun("a", {"phase": "Pending"}))
    display(_taskrun("a", {"phase": "Pending"}))
    display(_taskrun("a", {"phase": "Running", "attemptCount": 1}))
    assert stream.getvalue().splitlines() == ["[    0s] a: Pending", "[   12s] a: Running, attempt 1"]


def test_describe_shows_every_attempt_and_the_error() -> None:
    text = describe(FAILED, now=NOW)
    assert "Phase:        Failed" in text
    assert "Reason:       UserError" in text
    assert "Duration:     1m" in text
    attempt_lines = [line.split() for line in text.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert attempt_lines == [
        ["1", "flaky-1", "OOMKilled", "137", "30s", "out", "of", "memory"],
        ["2", "flaky-2", "UserError", "1", "20s", "boom"],
    ]
    assert "Error:        USER ValueError" in text
    assert "Error URI:    s3://b/e.json" in text


def test_describe_shows_outputs_or_where_they_are() -> None:
    inline = describe(_taskrun("ok", {"phase": "Succeeded", "outputs": {"o0": 42}}), now=NOW)
    assert 'Outputs:\n  {\n    "o0": 42\n  }' in inline
    stored = describe(_taskrun("big", {"phase": "Succeeded", "outputsUri": "s3://b/o.json"}), now=NOW)
    assert "Outputs URI:  s3://b/o.json" in stored
    assert "Outputs:\n" not in stored


def test_the_list_table_aligns_columns_and_can_show_namespaces() -> None:
    rows = taskrun_rows([FAILED, _taskrun("new", {})], now=NOW, with_namespace=False).splitlines()
    assert rows[0].split() == ["NAME", "PHASE", "REASON", "ATTEMPTS", "DURATION", "AGE"]
    assert rows[1].split() == ["flaky", "Failed", "UserError", "2", "1m", "10m"]
    # No status at all: no phase is shown, not "Pending", which would suggest an operator took it in.
    assert rows[2].split() == ["new", "<none>", "0", "10m"]
    assert rows[0].index("PHASE") == rows[1].index("Failed") == rows[2].index("<none>")
    wide = taskrun_rows([FAILED], now=NOW, with_namespace=True).splitlines()
    assert wide[1].split()[:2] == ["ns", "flaky"]
