"""The attempt's log (the task's stdout and stderr, its child processes' included) is archived beside
its outputs as ``kubetask.LOG_DOCUMENT`` whatever the outcome, while still streaming live."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import kubetask
from kubetask import _capture

if TYPE_CHECKING:
    from conftest import Executor

L = "logging_tasks"


def archived_log(executor: Executor) -> str:
    return (executor.output_prefix / kubetask.LOG_DOCUMENT).read_text()


def test_the_names_error_documents_give_are_public() -> None:
    """Error documents name types as kubetask.X: each must be importable by that name."""
    assert kubetask.LOG_DOCUMENT == "log.txt"
    for name in ("StorageLocationError", "MissingStorageBackendError", "StorageError", "Terminated"):
        assert getattr(kubetask, name).__module__ == "kubetask"
        assert name in kubetask.__all__


@pytest.mark.parametrize("fail", [False, True], ids=["succeeded", "failed"])
def test_the_log_holds_task_and_child_output_in_order_beside_the_outcome(
    executor: Executor, fail: bool
) -> None:
    result = executor.run(L, "talks", {"fail": fail})
    assert result.returncode == (1 if fail else 0), result.stderr
    log = archived_log(executor).splitlines()
    # Each stream in the order written; between stdout and stderr, the order they were read in (two
    # pipes keep them apart, so nothing orders one's chunk against the other's).
    stdout = ["task stdout 1", "child stdout", "raw fd 1", "task stdout 2"]  # 2 flushed at the end
    stderr = ["task stderr 1", "child stderr"]
    assert [line for line in log if line in stdout] == stdout
    assert [line for line in log if line in stderr] == stderr
    assert log[0].startswith("kubetask-execute: start task-module=logging_tasks task-name=talks ")
    outcome = "Failed" if fail else "Succeeded"
    assert log[-1].startswith(f"kubetask-execute: end outcome={outcome} ")
    if fail:
        assert "ValueError: the task failed after talking" in "\n".join(log)
        assert sorted(os.listdir(executor.output_prefix)) == ["error.json", "log.txt"]
    else:
        assert sorted(os.listdir(executor.output_prefix)) == ["log.txt", "outputs.json"]
    # The pass-through keeps stdout and stderr apart, as the container runtime records them.
    assert result.stdout.splitlines() == ["task stdout 1", "child stdout", "raw fd 1", "task stdout 2"]
    assert "task stderr 1\nchild stderr\n" in result.stderr
    assert "task stdout" not in result.stderr


def test_a_stopped_attempt_archives_its_log_too(executor: Executor) -> None:
    result = executor.terminate_while_running("failing_tasks", "sleeps", {"seconds": 60})
    assert result.returncode == 143, result.stderr
    log = archived_log(executor)
    assert "ready\n" in log
    assert "kubetask.Terminated: received signal 15 (SIGTERM)" in log
    assert log.splitlines()[-1].startswith("kubetask-execute: end outcome=Failed kind=SYSTEM ")


def test_output_streams_live_while_the_task_runs(executor: Executor, tmp_path: Path) -> None:
    """kubectl logs -f must still follow the task: its lines (and its children's) reach the real stdout
    while it runs, not when the log is archived at the end."""
    go_file = tmp_path / "go"
    argv = executor.command(
        ["task-module", L, "task-name", "streams_then_waits"],
        inputs=executor.inputs_file({"go_file": str(go_file)}),
    )
    process = subprocess.Popen(
        argv, cwd=executor.directory, env=executor.environment(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "live from the task\n"
        assert process.stdout.readline() == "live from a child\n"
        assert process.poll() is None  # the task is still waiting: the lines came live
        go_file.touch()
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert rest == ""
    assert "live from a child\n" in archived_log(executor)


def test_a_child_left_running_does_not_hold_the_attempt_open(executor: Executor) -> None:
    result = executor.run(L, "leaves_a_child_running", timeout=120)
    assert result.outputs is not None, result.stderr
    child = result.outputs["o0"]
    try:
        os.kill(child, 0)  # still running: the attempt ended without waiting for it
        assert f"child pid {child}\n" in archived_log(executor)
    finally:
        os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize("on_disk", [True, False], ids=["spool-file", "spool-memory"])
def test_an_oversized_log_keeps_its_head_and_tail(monkeypatch: pytest.MonkeyPatch, on_disk: bool) -> None:
    monkeypatch.setattr(_capture, "MAX_ARCHIVE_BYTES", 100)
    monkeypatch.setattr(_capture, "_HEAD_BYTES", 10)
    if not on_disk:  # no writable temporary directory
        monkeypatch.setattr(_capture, "_anonymous_file", lambda: None)
    spool = _capture._Spool()
    for index in range(100):
        spool.append(f"{index:03d}\n".encode())
    log = spool.read()
    assert log.startswith(b"000\n001\n00")
    assert log.endswith(b"097\n098\n099\n")
    assert b"\n... [kubetask: 300 bytes of log omitted] ...\n" in log
    assert len(log) < 100 + 60
