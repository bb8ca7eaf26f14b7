"""The client against a cluster with the operator (local by default, real with --kubeconfig), through the
same entry points users have: the `kubetask` client commands and the Python API."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetask
import kubetask_client
from kubetask_client import _cli as kubetask_client_cli
from kubetask_client._selftest import echo, sleep
from kubetask_local.testing import Cluster, wait_for

pytestmark = pytest.mark.e2e

Cli = Callable[..., Any]


def outputs_at_the_end(stdout: str) -> Any:
    """The outputs JSON ``submit --wait`` and ``wait`` print after the task's log."""
    start = 0 if stdout.startswith("{") else stdout.rindex("\n{") + 1
    return json.loads(stdout[start:])


def _taskruns(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.kubectl_json("get", "taskruns.kubetask.dev", "-n", namespace)[
        "items"
    ]
    return items


# ---------------------------------------------------------------- kubetask submit --wait


def test_submit_and_wait_prints_the_outputs(kubetask_cli: Cli, namespace: str, selftest_image: str) -> None:
    result = kubetask_cli(
        "submit",
        "kubetask_client._selftest:echo",
        "-i",
        "message=hello world",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "greeting",
        "--wait",
        "--wait-timeout",
        "120",
    )
    assert result.exit_code == 0, result.stderr
    assert outputs_at_the_end(result.stdout) == {"o0": "hello world"}
    assert f"taskrun.kubetask.dev/greeting created in namespace {namespace}" in result.stderr
    assert "greeting: Running" in result.stderr  # the progress display saw it run
    assert "greeting: Succeeded" in result.stderr


def test_typed_inputs_are_parsed_by_the_parameter_type(
    kubetask_cli: Cli, namespace: str, selftest_image: str
) -> None:
    result = kubetask_cli(
        "submit",
        "kubetask_client._selftest:sleep",
        "-i",
        "seconds=0.25",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--wait",
        "--wait-timeout",
        "120",
    )
    assert result.exit_code == 0, result.stderr
    assert outputs_at_the_end(result.stdout) == {"o0": 0.25}


def test_a_bad_input_is_refused_before_anything_is_created(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    result = kubetask_cli(
        "submit",
        "kubetask_client._selftest:sleep",
        "-i",
        "seconds=soon",
        "--image",
        selftest_image,
        "-n",
        namespace,
    )
    assert result.exit_code == 2
    assert "seconds" in result.stderr
    assert "'soon'" in result.stderr
    assert _taskruns(cluster, namespace) == []


def test_a_timed_out_run_prints_its_reason_and_exits_5(
    kubetask_cli: Cli, namespace: str, selftest_image: str
) -> None:
    result = kubetask_cli(
        "submit",
        "kubetask_client._selftest:sleep",
        "-i",
        "seconds=60",
        "--timeout",
        "1s",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "too-slow",
        "--wait",
        "--wait-timeout",
        "120",
    )
    assert result.exit_code == 5, result.stderr  # timed out: the table's 5
    assert "{" not in result.stdout  # no outputs
    assert "taskrun 'too-slow' failed (Timeout)" in result.stderr
    assert f"kubetask logs too-slow -n {namespace} --all-attempts" in result.stderr


def test_waiting_gives_up_after_the_wait_timeout_and_the_run_carries_on(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    result = kubetask_cli(
        "submit",
        "kubetask_client._selftest:sleep",
        "-i",
        "seconds=30",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "patient",
        "--wait",
        "--wait-timeout",
        "2",
    )
    assert result.exit_code == 6  # still running when --wait-timeout ran out
    assert "still" in result.stderr
    assert "after 2s of waiting" in result.stderr
    assert f"`kubetask wait patient -n {namespace}`" in result.stderr
    (taskrun,) = _taskruns(cluster, namespace)
    assert taskrun["status"]["phase"] in {"Pending", "Running"}
    assert kubetask_cli("cancel", "patient", "-n", namespace).exit_code == 0


def test_outputs_too_large_for_the_status_are_read_from_their_document(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str, storage_prefix: str | None
) -> None:
    if storage_prefix is None or not cluster.is_local:
        pytest.skip("needs the cluster's storage readable by this test process (the local cluster's is)")
    message = "x" * 10_000  # far beyond the 4 KiB termination message
    result = kubetask_cli(
        "submit",
        "kubetask_client._selftest:echo",
        "-i",
        f"message={message}",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "big",
        "--wait",
        "--wait-timeout",
        "120",
    )
    assert result.exit_code == 0, result.stderr
    assert outputs_at_the_end(result.stdout) == {"o0": message}
    assert f"reading them from {storage_prefix.rstrip('/')}/{namespace}/big/1" in result.stderr
    handle = kubetask_client.attach("big", namespace=namespace, kubeconfig=str(cluster.kubeconfig))
    assert handle.taskrun["status"].get("outputs") is None
    assert handle.outputs == {"o0": message}


# ---------------------------------------------------------------- get, list, logs, cancel


def test_get_list_and_logs_of_a_finished_run(kubetask_cli: Cli, namespace: str, selftest_image: str) -> None:
    submitted = kubetask_cli(
        "submit",
        "kubetask_client._selftest:echo",
        "-i",
        "message=hi",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--wait",
        "--wait-timeout",
        "120",
    )
    assert submitted.exit_code == 0, submitted.stderr
    (created,) = [line for line in submitted.stderr.splitlines() if line.startswith("taskrun.kubetask.dev/")]
    name = created.removeprefix("taskrun.kubetask.dev/").split()[0]
    assert name.startswith("echo-")

    described = kubetask_cli("get", name, "-n", namespace)
    assert described.exit_code == 0
    assert "Phase:        Succeeded" in described.stdout
    assert "Task:         kubetask_client._selftest:echo" in described.stdout
    assert '"o0": "hi"' in described.stdout

    as_yaml = yaml.safe_load(kubetask_cli("get", name, "-n", namespace, "-o", "yaml").stdout)
    assert as_yaml["status"]["outputs"] == {"o0": "hi"}
    assert json.loads(kubetask_cli("get", name, "-n", namespace, "-o", "outputs").stdout) == {"o0": "hi"}

    listed = kubetask_cli("list", "-n", namespace)
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "REASON", "ATTEMPTS", "DURATION", "AGE"]
    assert row.split()[:2] == [name, "Succeeded"]
    everywhere = kubetask_cli("list", "-A")
    assert any(line.split()[:3] == [namespace, name, "Succeeded"] for line in everywhere.stdout.splitlines())

    logs = kubetask_cli("logs", name, "-n", namespace)
    assert logs.exit_code == 0, logs.stderr
    assert "kubetask-execute" in logs.stdout
    assert kubetask_cli("logs", name, "-n", namespace, "--attempt", "1").stdout == logs.stdout
    missing = kubetask_cli("logs", name, "-n", namespace, "--attempt", "2")
    assert missing.exit_code == 2
    assert "has no attempt 2; its attempts: [1]" in missing.stderr

    # Cancelling a run that already ended changes nothing: its spec must not contradict its status.
    late = kubetask_cli("cancel", name, "-n", namespace)
    assert late.exit_code == 0, late.stderr
    assert "already ended (Succeeded): nothing to cancel" in late.stderr
    assert late.stdout.strip() == f"{name}: Succeeded"
    after = yaml.safe_load(kubetask_cli("get", name, "-n", namespace, "-o", "yaml").stdout)
    assert after["spec"].get("cancelled") is not True
    assert after["status"]["phase"] == "Succeeded"


def test_logs_of_a_given_attempt_are_that_attempts_pod(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    # Two attempts that both time out (no backoff, so the test stays short): each pod logs its own attempt.
    # The timeout leaves kubetask-execute time to start and log on a loaded machine (1s once left no log).
    cluster.apply(
        {
            "apiVersion": "kubetask.dev/v1alpha1",
            "kind": "TaskRun",
            "metadata": {"name": "twice"},
            "spec": {
                "image": selftest_image,
                "task": {"module": "kubetask_client._selftest", "name": "sleep"},
                "inputs": {"seconds": 120},
                "timeout": "10s",
                "retries": 1,
                "backoff": {"initialSeconds": 0, "maxSeconds": 0},
            },
        },
        namespace=namespace,
    )
    wait_for(
        lambda: (_taskruns(cluster, namespace)[0].get("status") or {}).get("phase") == "Failed",
        120,
        "both attempts to time out",
    )
    attempts = _taskruns(cluster, namespace)[0]["status"]["attempts"]
    assert [attempt["number"] for attempt in attempts] == [1, 2]
    first, second = (attempt["podName"] for attempt in attempts)
    assert first != second

    current = kubetask_cli("logs", "twice", "-n", namespace)
    earlier = kubetask_cli("logs", "twice", "-n", namespace, "--attempt", "1")
    assert current.exit_code == 0, current.stderr
    assert earlier.exit_code == 0, earlier.stderr
    assert "attempt=2" in current.stdout
    assert "attempt=1" not in current.stdout
    assert "attempt=1" in earlier.stdout
    assert "attempt=2" not in earlier.stdout
    assert earlier.stdout == cluster.kubectl("logs", first, "-n", namespace).stdout
    assert current.stdout == kubetask_cli("logs", "twice", "-n", namespace, "--attempt", "2").stdout


def test_cancel_stops_a_running_task_and_keeps_its_logs(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    assert (
        kubetask_cli(
            "submit",
            "kubetask_client._selftest:sleep",
            "-i",
            "seconds=120",
            "--image",
            selftest_image,
            "-n",
            namespace,
            "--name",
            "long",
        ).exit_code
        == 0
    )
    wait_for(
        lambda: _taskruns(cluster, namespace)[0].get("status", {}).get("phase") == "Running", 60, "it to run"
    )
    cancelled = kubetask_cli("cancel", "long", "-n", namespace, "--wait", "--wait-timeout", "60")
    assert cancelled.exit_code == 0, cancelled.stderr
    assert cancelled.stdout.strip() == "long: Cancelled"
    assert kubetask_cli("logs", "long", "-n", namespace).exit_code == 0


def test_logs_follow_prints_until_the_attempt_ends_and_list_filters_by_label(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    for name, team in (("followed", "data"), ("other", "web")):
        submitted = kubetask_cli(
            "submit",
            "kubetask_client._selftest:sleep",
            "-i",
            "seconds=1",
            "--image",
            selftest_image,
            "-n",
            namespace,
            "--name",
            name,
            "--label",
            f"team={team}",
        )
        assert submitted.exit_code == 0, submitted.stderr
    wait_for(
        lambda: (_taskruns(cluster, namespace)[0].get("status") or {}).get("podName"), 60, "the first pod"
    )
    followed = kubetask_cli("logs", "followed", "-n", namespace, "--follow")
    assert followed.exit_code == 0, followed.stderr
    assert "outcome=Succeeded" in followed.stdout  # it followed the log to the attempt's end
    listed = kubetask_cli("list", "-n", namespace, "-l", "team=data").stdout.splitlines()
    assert [line.split()[0] for line in listed[1:]] == ["followed"]


def test_a_taskrun_the_api_refuses_is_a_usage_error_with_the_servers_message(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    result = kubetask_cli(
        "submit",
        "kubetask_client._selftest:echo",
        "-i",
        "message=x",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--output-prefix",
        "not a uri",
    )
    assert result.exit_code == 2
    assert "422" in result.stderr
    assert "spec.outputPrefix" in result.stderr
    assert _taskruns(cluster, namespace) == []


def test_unknown_taskruns_are_named_with_their_namespace(kubetask_cli: Cli, namespace: str) -> None:
    for command in (["get", "nope"], ["logs", "nope"], ["cancel", "nope"]):
        result = kubetask_cli(*command, "-n", namespace)
        assert result.exit_code == 2
        assert f"no taskrun 'nope' in namespace '{namespace}'" in result.stderr


def test_context_selects_the_cluster_like_kubectl(
    cluster: Cluster, namespace: str, selftest_image: str, tmp_path: Path
) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    good = config["contexts"][0]
    bogus_cluster = {"name": "nowhere", "cluster": {"server": "http://127.0.0.1:9"}}
    config["clusters"].append(bogus_cluster)
    config["contexts"] = [
        {"name": "nowhere", "context": {"cluster": "nowhere", "user": good["context"]["user"]}},
        {"name": "test", "context": {**good["context"], "namespace": namespace}},
    ]
    config["current-context"] = "nowhere"
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump(config))
    handle = kubetask_client.submit(
        echo, {"message": "ctx"}, image=selftest_image, kubeconfig=str(kubeconfig), context="test"
    )
    assert handle.namespace == namespace  # the context's namespace
    assert handle.wait(120).outputs == {"o0": "ctx"}
    with pytest.raises(
        kubetask_client.ApiError, match=r"cannot reach the Kubernetes API at http://127\.0\.0\.1:9"
    ):
        kubetask_client.attach(handle.name, kubeconfig=str(kubeconfig))

    # The command line takes the same --context, and without it uses the current (unreachable) one.
    cli_args = ["get", handle.name, "--kubeconfig", str(kubeconfig)]
    chosen = kubetask_client_cli.main([*cli_args, "--context", "test"], out=io.StringIO(), err=io.StringIO())
    assert chosen == 0
    err = io.StringIO()
    assert kubetask_client_cli.main(cli_args, out=io.StringIO(), err=err) == 3
    assert "http://127.0.0.1:9" in err.getvalue()


# ---------------------------------------------------------------- the Python API


def test_python_submit_wait_outputs(cluster: Cluster, namespace: str, selftest_image: str) -> None:
    handle = kubetask_client.submit(
        sleep, {"seconds": 0.1}, image=selftest_image, namespace=namespace, kubeconfig=str(cluster.kubeconfig)
    )
    assert handle.name.startswith("sleep-")
    assert handle.wait(timeout=120) is handle
    assert handle.phase == "Succeeded"
    assert handle.outputs == {"o0": 0.1}
    again = kubetask_client.attach(handle.name, namespace=namespace, kubeconfig=str(cluster.kubeconfig))
    assert again.outputs == {"o0": 0.1}
    assert "kubetask-execute" in again.logs()


def test_python_outputs_of_a_failed_run_raise_with_the_reason(
    cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    handle = kubetask_client.submit(
        sleep,
        {"seconds": 60},
        image=selftest_image,
        namespace=namespace,
        timeout="1s",
        kubeconfig=str(cluster.kubeconfig),
    )
    with pytest.raises(kubetask_client.TaskRunFailedError) as caught:
        _ = handle.wait(120).outputs
    assert caught.value.phase == "Failed"
    assert handle.name in str(caught.value)


def test_python_submit_refuses_unknown_inputs(cluster: Cluster, namespace: str, selftest_image: str) -> None:
    with pytest.raises(kubetask_client.ClientUsageError, match=r"input 'mesage'.*its inputs: \['message'\]"):
        kubetask_client.submit(
            echo,
            {"mesage": "x"},
            image=selftest_image,
            namespace=namespace,
            kubeconfig=str(cluster.kubeconfig),
        )


def test_kubetask_submit_is_kubetask_dot_submit() -> None:
    assert kubetask.submit is kubetask_client.submit


# ---------------------------------------------------------------- the installed command


def test_the_kubetask_command_dispatches_to_the_client(
    cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    command = Path(sys.executable).parent / "kubetask"
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    completed = subprocess.run(
        [
            str(command),
            "submit",
            "kubetask_client._selftest:echo",
            "-i",
            "message=cli",
            "--image",
            selftest_image,
            "-n",
            namespace,
            "--wait",
            "--wait-timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert outputs_at_the_end(completed.stdout) == {"o0": "cli"}
