"""``kubetask dev --apply FILE --wait``, the README Quickstart's first command: from a clean shell (nothing on
PYTHONPATH, no KUBECONFIG) it starts the local cluster, creates the file's TaskRun, follows it live, prints
the outputs, stops the cluster and exits with the run's code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
KUBETASK = Path(sys.executable).with_name("kubetask")

pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "KUBECONFIG")}
    env["PATH"] = os.pathsep.join([str(KUBETASK.parent), env.get("PATH", "")])
    return env


def _dev(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBETASK), "dev", *args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_quickstart_command_runs_hello_in_a_pod_and_exits_0(tmp_path: Path) -> None:
    result = _dev("--apply", str(REPOSITORY / "examples" / "hello" / "taskrun.yaml"), "--wait", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    log, _, outputs = result.stdout.partition("{")
    assert json.loads("{" + outputs) == {"o0": "Hello, world!"}
    assert "kubetask-execute: start task-module=hello task-name=hello" in log  # the pod's log, streamed
    assert "hello-world: Succeeded" in result.stderr
    assert "kubetask dev: stopping" in result.stderr


def test_a_failing_run_stops_the_cluster_with_the_runs_exit_code(tmp_path: Path) -> None:
    (tmp_path / "sad.py").write_text(
        "import kubetask\n\n@kubetask.task\ndef sad() -> int:\n    print('trying', flush=True)\n"
        "    raise ValueError('no luck')\n"
    )
    (tmp_path / "sad.yaml").write_text(
        "apiVersion: kubetask.dev/v1alpha1\nkind: TaskRun\nmetadata: {name: sad}\n"
        "spec: {image: kubetask-examples:latest, task: {module: sad, name: sad}}\n"
    )
    result = _dev("--apply", "sad.yaml", "--wait", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # the task failed: the table's 1
    assert "trying" in result.stdout
    assert "taskrun 'sad' failed (UserError): USER error ValueError: no luck" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
            "expected apiVersion kubetask.dev/v1alpha1",
            id="not-a-taskrun",
        ),
        pytest.param("a: [b\n", "not valid YAML", id="bad-yaml"),
    ],
)
def test_a_file_that_holds_no_taskrun_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    result = _dev("--apply", "bad.yaml", "--wait", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
