"""The client commands' usage errors: exit status 2 and a message naming the argument, before any request."""

from __future__ import annotations

import io
import subprocess
import sys
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
            "--image: task 'kubetask_client._selftest.echo' names no image: pass image=... (--image) "
            "or set @kubetask.task(image=...)",
            id="no-image",
        ),
        pytest.param(["submit"], "the following arguments are required: TARGET", id="nothing"),
        pytest.param(["frobnicate"], "unknown command 'frobnicate'", id="unknown-command"),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--delete-after"],
            "--delete-after only makes sense with --wait",
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
            "argument --timeout: expected a duration such as 30s, 5m or 1h30m, got 'forever'",
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
            ["logs", "x", "--attempt", "zero"],
            "argument --attempt: expected an attempt number from 1, got 'zero'",
            id="attempt",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--ttl", "-5"],
            "argument --ttl: expected an integer >= 0, got '-5'",
            id="ttl-names-the-flag",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--service-account", "Bad_SA"],
            "--service-account: expected the name of a ServiceAccount (lowercase letters, digits, "
            "'-' and '.'), got 'Bad_SA'",
            id="service-account-names-the-flag",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--label", "a=b c"],
            "--label: a='b c' is not a Kubernetes label",
            id="label-names-the-flag",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--quiet"],
            "--wait-timeout, --quiet and --no-logs only make sense with --wait",
            id="quiet-without-wait",
        ),
        pytest.param(
            ["submit", "kubetask_client._selftest:echo", "--image", "i", "--inputs-file", "nowhere.yaml"],
            "--inputs-file 'nowhere.yaml': No such file or directory",
            id="no-inputs-file",
        ),
        pytest.param(["list", "--phase", "Done"], "argument --phase: expected phases among", id="bad-phase"),
        pytest.param(["delete"], "give TaskRun NAMEs or -l/--selector", id="delete-nothing"),
        pytest.param(["delete", "a", "-l", "x=y"], "give either NAMEs or -l/--selector", id="delete-both"),
        pytest.param(
            ["logs", "x", "--attempt", "1", "--all-attempts"], "not allowed with", id="attempt-and-all"
        ),
        pytest.param(["wait"], "the following arguments are required: NAME", id="wait-without-name"),
        pytest.param(
            ["rerun", "x", "-i", "novalue"], "-i: expected NAME=VALUE, got 'novalue'", id="rerun-input"
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
    for command in (
        "run",
        "submit",
        "wait",
        "get",
        "describe",
        "logs",
        "cancel",
        "delete",
        "rerun",
        "list",
        "dev",
    ):
        assert f"\n  {command} " in out
    assert "exit codes (every command):" in out


def test_options_errors_never_name_python_parameters() -> None:
    """The submit options' validation speaks of fields; each of them reaches the user as its flag."""
    from kubetask_client._commands import _FLAG_OF_OPTION
    from kubetask_client._taskrun import SubmitOptions

    assert set(_FLAG_OF_OPTION) == set(SubmitOptions.__dataclass_fields__)


def test_submit_help_without_a_target_is_the_plain_help() -> None:
    code, out, _ = _run("submit", "--help")
    assert code == 0
    assert "usage: kubetask submit" in out
    assert "task options" in out


def test_submit_target_help_lists_the_inputs_with_types_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "typed.py").write_text(
        "import kubetask\n\n@kubetask.task\ndef scale(values: list[float], factor: float = 2.0, "
        "label: str | None = None) -> list[float]:\n    'Multiply values.'\n    return values\n"
    )
    code, out, _ = _run("submit", str(tmp_path / "typed.py") + ":scale", "--help")
    assert code == 0
    assert "task typed.scale: Multiply values." in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.strip().startswith("-i ")}
    assert lines["values=VALUE"].split()[2:] == ["list[float]", "required"]
    assert lines["factor=VALUE"].split()[2:] == ["float", "default:", "2.0"]
    assert lines["label=VALUE"].split()[2:] == ["str", "|", "None", "default:", "null"]


def test_cluster_commands_without_the_client_extra_name_it() -> None:
    """`pip install kubetask` (no extras): `run` works, cluster commands say which extra they need."""
    script = (
        "import sys\n"
        "sys.modules['yaml'] = None  # as if the client extra were not installed\n"
        "from kubetask_client._cli import main\n"
        "sys.exit(main(['list']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "kubetask list: error: needs the 'client' extra: pip install 'kubetask[client]'" in result.stderr
