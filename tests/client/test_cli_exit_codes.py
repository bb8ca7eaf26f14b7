"""One exit-code table for every command: the outcome of a TaskRun maps to one code whichever command
reports it, and every cluster command gives the same code for the same kind of mistake."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from kubetask_client import exit_code_table
from kubetask_client._cli import main
from kubetask_client._outcome import exit_code_of, never_started


def _taskrun(phase: str | None, reason: str | None = None, **status: Any) -> dict[str, Any]:
    conditions = [{"type": "Succeeded", "reason": reason}] if reason else []
    body = {"phase": phase, "conditions": conditions, **status} if phase else {}
    return {"metadata": {"name": "r", "namespace": "n"}, "status": body}


@pytest.mark.parametrize(
    ("phase", "reason", "code"),
    [
        pytest.param("Succeeded", "Succeeded", 0, id="succeeded"),
        pytest.param("Failed", "UserError", 1, id="user-error"),
        pytest.param("Failed", "OOMKilled", 1, id="out-of-memory"),
        pytest.param("Failed", "InvalidSpec", 2, id="refused-by-the-operator"),
        pytest.param("Failed", "SystemError", 3, id="system-error"),
        pytest.param("Failed", "ImagePullFailed", 3, id="image-pull"),
        pytest.param("Failed", "InvalidImageName", 3, id="invalid-image"),
        pytest.param("Failed", "NodeLost", 3, id="node-lost"),
        pytest.param("Failed", "Evicted", 3, id="evicted"),
        pytest.param("Failed", "PodDeleted", 3, id="pod-deleted"),
        pytest.param("Cancelled", "Cancelled", 4, id="cancelled"),
        pytest.param("Failed", "Timeout", 5, id="timeout"),
        pytest.param("Failed", "PendingTimeout", 5, id="pending-timeout"),
    ],
)
def test_each_outcome_has_its_code(phase: str, reason: str, code: int) -> None:
    assert exit_code_of(_taskrun(phase, reason)) == code


def test_the_codes_are_distinct_and_documented() -> None:
    codes = [code for code, _ in exit_code_table()]
    assert len(codes) == len(set(codes))
    assert codes[:7] == [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        pytest.param([{"number": 1, "reason": "InvalidImageName"}], True, id="invalid-image"),
        pytest.param([{"number": 1, "reason": "ImagePullFailed"}], True, id="pull-failed"),
        pytest.param(
            [{"number": 1, "reason": "UserError", "exitCode": 1}, {"number": 2, "reason": "ImagePullFailed"}],
            False,
            id="an-earlier-attempt-ran",
        ),
        pytest.param([{"number": 1, "reason": "UserError", "exitCode": 1}], False, id="it-ran"),
    ],
)
def test_a_run_whose_pod_never_started_is_known_to_have_no_log(
    attempts: list[dict[str, Any]], expected: bool
) -> None:
    assert never_started(_taskrun("Failed", attempts[-1]["reason"], attempts=attempts)) is expected


def _unreachable(path: Path) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return path


CLUSTER_COMMANDS = [
    pytest.param(["get", "x"], id="get"),
    pytest.param(["describe", "x"], id="describe"),
    pytest.param(["list"], id="list"),
    pytest.param(["logs", "x"], id="logs"),
    pytest.param(["wait", "x"], id="wait"),
    pytest.param(["cancel", "x"], id="cancel"),
    pytest.param(["delete", "x"], id="delete"),
    pytest.param(["rerun", "x"], id="rerun"),
    pytest.param(
        ["submit", "kubetask_client._selftest:echo", "-i", "message=m", "--image", "i"], id="submit"
    ),
]


@pytest.mark.parametrize("args", CLUSTER_COMMANDS)
def test_every_cluster_command_exits_3_when_the_api_cannot_be_reached(
    args: list[str], tmp_path: Path
) -> None:
    err = io.StringIO()
    code = main([*args, "--kubeconfig", str(_unreachable(tmp_path / "config"))], out=io.StringIO(), err=err)
    assert code == 3, err.getvalue()
    assert "cannot reach the Kubernetes API at http://127.0.0.1:9" in err.getvalue()


@pytest.mark.parametrize("args", CLUSTER_COMMANDS)
def test_every_cluster_command_exits_2_without_a_kubeconfig(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    err = io.StringIO()
    assert main(args, out=io.StringIO(), err=err) == 2
    assert "no kubeconfig found" in err.getvalue()


@pytest.mark.parametrize("args", [*CLUSTER_COMMANDS, pytest.param(["run", "x.py:t"], id="run")])
def test_every_command_exits_2_for_an_unknown_option(args: list[str]) -> None:
    err = io.StringIO()
    assert main([*args, "--frobnicate"], out=io.StringIO(), err=err) == 2
    assert "unrecognized arguments: --frobnicate" in err.getvalue()
