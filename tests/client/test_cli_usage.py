"""The client commands' usage errors: exit status 2 and a message naming the argument, before any request."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kubetask_client._cli import main


def _unreachable_kubeconfig(path: Path) -> None:
    """A kubeconfig whose cluster nothing listens on (port 9, discard)."""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(args), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["submit", "kubetask_client._selftest:echo"],
            "the following arguments are required: --image",
            id="no-image",
        ),
        pytest.param(["submit"], "the following arguments are required: TARGET, --image", id="nothing"),
        pytest.param(["frobnicate"], "invalid choice: 'frobnicate'", id="unknown-command"),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--delete-after"],
            "--wait-timeout and --delete-after only make sense with --wait",
            id="delete-after-without-wait",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--wait", "--wait-timeout", "-3"],
            "argument --wait-timeout: expected a number of seconds > 0, got '-3'",
            id="negative-wait",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--env", "NOVALUE"],
            "argument --env: expected NAME=VALUE, got 'NOVALUE'",
            id="env-without-value",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--name", "Bad_Name"],
            "--name: expected lowercase letters, digits, '-' and '.'",
            id="bad-name",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--timeout", "forever"],
            "timeout: expected a duration such as '30s', '5m' or '1h30m', got 'forever'",
            id="bad-timeout",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "-i", "messag=hi"],
            "the task has no input 'messag'; it takes message",
            id="unknown-input",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:sleep", "--image", "i", "-i", "seconds=soon"],
            "-i seconds=soon: expected a number, got 'soon'",
            id="mistyped-input",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i"],
            "input 'message' is required by task",
            id="missing-input",
        ),
        pytest.param(
            ["submit", "nowhere.py:task", "--image", "i"], "TARGET: no such file 'nowhere.py'", id="no-file"
        ),
        pytest.param(
            ["get", "x", "-o", "toml"], "argument -o/--output: invalid choice: 'toml'", id="bad-output"
        ),
        pytest.param(
            ["list", "-A", "-n", "x"],
            "-A/--all-namespaces and -n/--namespace exclude each other",
            id="a-and-n",
        ),
        pytest.param(
            ["logs", "x", "--attempt", "zero"], "argument --attempt: invalid int value: 'zero'", id="attempt"
        ),
    ],
)
def test_usage_errors_exit_2_naming_the_argument(
    args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreachable_kubeconfig(tmp_path / "config")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    code, out, err = _run(*args)
    assert code == 2, err
    assert expected in err
    assert out == ""


def test_no_kubeconfig_is_a_usage_error_saying_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, _, err = _run("list")
    assert code == 2
    assert f"no kubeconfig found (looked at '{tmp_path / 'absent'}')" in err


def test_an_unreachable_api_is_a_system_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unreachable_kubeconfig(tmp_path / "config")
    code, _, err = _run("get", "x", "--kubeconfig", str(tmp_path / "config"))
    assert code == 3
    assert "cannot reach the Kubernetes API at http://127.0.0.1:9" in err


def test_help_exits_0_and_lists_the_commands() -> None:
    code, out, _ = _run("--help")
    assert code == 0
    for command in ("submit", "get", "logs", "cancel", "list"):
        assert command in out
