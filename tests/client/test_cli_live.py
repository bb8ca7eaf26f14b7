"""Following a TaskRun live, and the commands' outcomes, against a cluster with the operator (local by
default, real with --kubeconfig): the task's log lines arrive while it runs, every attempt is followed, a run
whose pod never started says so, and each outcome exits with the table's code."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetask_local.testing import Cluster, wait_for

pytestmark = pytest.mark.e2e

Cli = Callable[..., Any]
KUBETASK = Path(sys.executable).with_name("kubetask")
#: On a real cluster and here alike, a registry under .invalid never resolves: the pull always fails.
UNPULLABLE = "registry.invalid/kubetask/never:1"


def outputs_at_the_end(stdout: str) -> Any:
    start = 0 if stdout.startswith("{") else stdout.rindex("\n{") + 1
    return json.loads(stdout[start:])


def _phase(cluster: Cluster, namespace: str, name: str) -> str:
    status = cluster.kubectl_json("get", "taskrun", name, "-n", namespace).get("status") or {}
    return str(status.get("phase") or "")


class LiveCommand:
    """A ``kubetask`` process whose stdout lines are read as they arrive."""

    def __init__(self, cluster: Cluster, *args: str) -> None:
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
        env["PATH"] = os.pathsep.join([str(KUBETASK.parent), env.get("PATH", "")])
        self.process = subprocess.Popen(
            [str(KUBETASK), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line_containing(self, text: str, *, timeout: float) -> str:
        """The first stdout line containing ``text`` (reading on until it comes, or failing)."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} within {timeout}s; seen: {self.seen}") from None
            if line is None:
                raise AssertionError(f"the command ended without a line with {text!r}; seen: {self.seen}")
            self.seen.append(line)
            if text in line:
                return line

    def finish(self, *, timeout: float) -> tuple[int, str, str]:
        _, stderr = self.process.communicate(timeout=timeout)
        self._reader.join(timeout=timeout)
        rest = []
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                rest.append(line)
        return self.process.returncode, "\n".join([*self.seen, *rest]), stderr


@pytest.fixture
def live(cluster: Cluster) -> Iterator[Callable[..., LiveCommand]]:
    started: list[LiveCommand] = []

    def start(*args: str) -> LiveCommand:
        command = LiveCommand(cluster, *args)
        started.append(command)
        return command

    yield start
    for command in started:
        if command.process.poll() is None:
            command.process.kill()
            command.process.communicate(timeout=30)


def test_a_print_line_arrives_in_submit_wait_while_the_task_still_runs(
    live: Callable[..., LiveCommand], kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    # The task prints, then sleeps for 10 minutes: it cannot end before the test cancels it, so a line read
    # before the cancel was streamed while the task ran, not printed from the log at the end.
    command = live(
        "submit",
        "kubetask_client._selftest:announce",
        "-i",
        "message=live line from the task",
        "-i",
        "seconds=600",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "live",
        "--wait",
    )
    command.line_containing("live line from the task", timeout=180)
    assert _phase(cluster, namespace, "live") == "Running"
    assert kubetask_cli("cancel", "live", "-n", namespace).exit_code == 0
    code, _, stderr = command.finish(timeout=120)
    assert code == 4, stderr  # cancelled: the table's 4
    assert "==> attempt 1 (pod " in stderr
    assert "live: Running" in stderr  # the transition lines are on stderr
    assert "live: Cancelled" in stderr


def test_wait_follows_every_attempt_with_a_header_for_each(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    cluster.apply(
        {
            "apiVersion": "kubetask.dev/v1alpha1",
            "kind": "TaskRun",
            "metadata": {"name": "again"},
            "spec": {
                "image": selftest_image,
                "task": {"module": "kubetask_client._selftest", "name": "announce"},
                "inputs": {"message": "attempt says hi", "seconds": 120},
                "timeout": "3s",
                "retries": 1,
                "backoff": {"initialSeconds": 0, "maxSeconds": 0},
            },
        },
        namespace=namespace,
    )
    result = kubetask_cli("wait", "again", "-n", namespace, "--wait-timeout", "240")
    assert result.exit_code == 5, result.stderr  # both attempts timed out: the table's 5
    assert result.stdout.count("attempt says hi") == 2, result.stdout
    assert "==> attempt 1 (pod " in result.stderr
    assert "==> attempt 2 (pod " in result.stderr
    assert "taskrun 'again' failed (Timeout)" in result.stderr
    every = kubetask_cli("logs", "again", "-n", namespace, "--all-attempts")
    assert every.exit_code == 0, every.stderr
    assert every.stdout.count("attempt says hi") == 2
    assert "attempt=1" in every.stdout
    assert "attempt=2" in every.stdout


def test_logs_follow_waits_for_the_pod_to_start(
    live: Callable[..., LiveCommand], kubetask_cli: Cli, namespace: str, selftest_image: str
) -> None:
    submitted = kubetask_cli(
        "submit",
        "kubetask_client._selftest:announce",
        "-i",
        "message=followed from the start",
        "-i",
        "seconds=1",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "early",
    )
    assert submitted.exit_code == 0, submitted.stderr
    # Right after the create, before any pod exists: -f waits for it rather than failing.
    followed = kubetask_cli("logs", "early", "-n", namespace, "-f", "--timestamps")
    assert followed.exit_code == 0, followed.stderr
    [line] = [line for line in followed.stdout.splitlines() if "followed from the start" in line]
    assert line.split(" ", 1)[0].endswith("Z")  # --timestamps: RFC 3339 first
    assert "outcome=Succeeded" in followed.stdout


def test_outcomes_exit_with_the_tables_codes(kubetask_cli: Cli, namespace: str, selftest_image: str) -> None:
    common = ["--image", selftest_image, "-n", namespace, "--wait", "--wait-timeout", "180"]
    succeeded = kubetask_cli("submit", "kubetask_client._selftest:echo", "-i", "message=m", *common)
    assert succeeded.exit_code == 0, succeeded.stderr
    failed = kubetask_cli("submit", "kubetask_client._selftest:fail", "-i", "message=broken", *common)
    assert failed.exit_code == 1, failed.stderr
    assert "broken" in failed.stdout  # the task's own print, streamed
    assert "USER error ValueError: broken" in failed.stderr
    unknown = kubetask_cli(
        "submit", "kubetask_client._selftest:echo", "-i", "message=m", *common[:2], "-n", "nope"
    )
    assert unknown.exit_code == 2, unknown.stderr
    assert "-n/--namespace: no namespace 'nope'" in unknown.stderr
    quiet = kubetask_cli("submit", "kubetask_client._selftest:echo", "-i", "message=q", *common, "--quiet")
    assert quiet.exit_code == 0, quiet.stderr
    assert json.loads(quiet.stdout) == {"o0": "q"}  # only the outputs
    assert quiet.stderr == ""


def test_a_run_whose_image_never_pulls_says_it_has_no_log(
    kubetask_cli: Cli, cluster: Cluster, namespace: str
) -> None:
    result = kubetask_cli(
        "submit",
        "kubetask_client._selftest:echo",
        "-i",
        "message=m",
        "--image",
        "bad..image",
        "-n",
        namespace,
        "--name",
        "badimage",
        "--wait",
        "--wait-timeout",
        "180",
    )
    assert result.exit_code == 3, result.stderr  # infrastructure (the image): the table's 3
    assert "InvalidImageName" in result.stderr
    assert "the pod never started, so there is no log" in result.stderr
    assert "kubetask logs" not in result.stderr
    logs = kubetask_cli("logs", "badimage", "-n", namespace)
    assert logs.exit_code == 0
    assert "the pod never started (InvalidImageName" in logs.stderr


def test_describe_says_why_a_run_waits_and_shows_events(
    kubetask_cli: Cli, cluster: Cluster, namespace: str
) -> None:
    submitted = kubetask_cli(
        "submit",
        "kubetask_client._selftest:echo",
        "-i",
        "message=m",
        "--image",
        UNPULLABLE,
        "-n",
        namespace,
        "--name",
        "stuck",
    )
    assert submitted.exit_code == 0, submitted.stderr

    def waiting_on_the_image() -> str | None:
        described = kubetask_cli("describe", "stuck", "-n", namespace)
        assert described.exit_code == 0, described.stderr
        waiting = [line for line in described.stdout.splitlines() if line.startswith("Waiting:")]
        return described.stdout if waiting and "Image" in waiting[0] else None

    text = wait_for(waiting_on_the_image, 120, "describe to say the image cannot be pulled")
    assert "Events:" in text
    assert "pod/stuck-" in text  # the pod's events, as kubectl describe shows them


def test_rerun_list_phase_and_delete(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    first = kubetask_cli(
        "submit",
        "kubetask_client._selftest:echo",
        "-i",
        "message=first",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "original",
        "--label",
        "team=data",
        "--wait",
        "--quiet",
    )
    assert first.exit_code == 0, first.stderr
    again = kubetask_cli("rerun", "original", "-n", namespace, "-i", "message=second", "--wait", "--quiet")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == {"o0": "second"}
    [rerun] = cluster.kubectl_json(
        "get", "taskruns", "-n", namespace, "-l", "kubetask.dev/rerun-of=original"
    )["items"]
    assert rerun["metadata"]["labels"]["team"] == "data"  # the original's labels come along
    assert rerun["spec"]["image"] == selftest_image

    succeeded = kubetask_cli("list", "-n", namespace, "--phase", "Succeeded").stdout.splitlines()
    assert sorted(line.split()[0] for line in succeeded[1:]) == sorted(
        ["original", rerun["metadata"]["name"]]
    )
    none_failed = kubetask_cli("list", "-n", namespace, "--phase", "failed,cancelled")
    assert none_failed.exit_code == 0
    assert none_failed.stdout == ""
    assert "no taskruns in phase Failed/Cancelled" in none_failed.stderr

    deleted = kubetask_cli("delete", "-n", namespace, "-l", "team=data")
    assert deleted.exit_code == 0, deleted.stderr
    assert sorted(deleted.stdout.splitlines()) == sorted(
        f"taskrun.kubetask.dev/{name} deleted" for name in ("original", rerun["metadata"]["name"])
    )
    missing = kubetask_cli("delete", "original", "-n", namespace)
    assert missing.exit_code == 2
    assert "no taskrun 'original'" in missing.stderr


def test_get_outputs_and_wait_agree_on_the_exit_code(
    kubetask_cli: Cli, namespace: str, selftest_image: str
) -> None:
    failed = kubetask_cli(
        "submit",
        "kubetask_client._selftest:fail",
        "-i",
        "message=x",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "sad",
        "--wait",
        "--quiet",
    )
    assert failed.exit_code == 1
    assert kubetask_cli("wait", "sad", "-n", namespace, "--quiet").exit_code == 1
    assert kubetask_cli("get", "sad", "-n", namespace, "-o", "outputs").exit_code == 1


def test_no_operator_is_named_while_waiting(local_cluster_factory: Callable[..., Cluster]) -> None:
    cluster = local_cluster_factory(operator=False)  # nobody acts on TaskRuns here
    cluster.apply(
        {
            "apiVersion": "kubetask.dev/v1alpha1",
            "kind": "TaskRun",
            "metadata": {"name": "ignored"},
            "spec": {"image": "i", "task": {"module": "m", "name": "t"}},
        },
        namespace="default",
    )
    command = LiveCommand(cluster, "wait", "ignored", "--wait-timeout", "30")
    code, _, stderr = command.finish(timeout=120)
    assert code == 6, stderr  # still waiting when --wait-timeout ran out
    assert (
        "no operator has reported on this TaskRun; is one running and watching namespace default?" in stderr
    )


def test_logs_of_a_deleted_pod_come_from_the_archive(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str, tmp_path: Path
) -> None:
    """The runtime archives each attempt's log beside its outputs (kubetask.LOG_DOCUMENT), under the storage
    prefix kubetask dev gives its operator and names in its kubeconfig; the client reads it there."""
    if not cluster.is_local:
        pytest.skip("needs storage this test process can read; on a real cluster that is your storage")
    submitted = kubetask_cli(
        "submit",
        "kubetask_client._selftest:announce",
        "-i",
        "message=kept after the pod",
        "-i",
        "seconds=0",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "archived",
        "--wait",
        "--quiet",
    )
    assert submitted.exit_code == 0, submitted.stderr
    pod = cluster.kubectl_json("get", "taskrun", "archived", "-n", namespace)["status"]["podName"]
    cluster.kubectl("delete", "pod", pod, "-n", namespace, "--wait=true")
    logs = kubetask_cli("logs", "archived", "-n", namespace)
    assert logs.exit_code == 0, logs.stderr
    assert "kept after the pod" in logs.stdout
    assert "from its archived log" in logs.stderr


def test_list_watch_prints_a_line_for_each_change(
    live: Callable[..., LiveCommand], kubetask_cli: Cli, namespace: str, selftest_image: str
) -> None:
    submitted = kubetask_cli(
        "submit",
        "kubetask_client._selftest:echo",
        "-i",
        "message=m",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "watched",
        "--wait",
        "--quiet",
    )
    assert submitted.exit_code == 0, submitted.stderr
    command = live("list", "-n", namespace, "--watch")
    # The list first: once its row is printed, the watch has started from the list's resourceVersion.
    assert command.line_containing("watched", timeout=120).split()[:2] == ["watched", "Succeeded"]
    assert kubetask_cli("delete", "watched", "-n", namespace).exit_code == 0
    line = command.line_containing("(deleted)", timeout=120)
    assert line.split()[:2] == ["watched", "Succeeded"]


def test_ctrl_c_leaves_the_run_going_and_wait_picks_it_up(
    live: Callable[..., LiveCommand], kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    command = live(
        "submit",
        "kubetask_client._selftest:announce",
        "-i",
        "message=before the interrupt",
        "-i",
        "seconds=600",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "interrupted",
        "--wait",
    )
    command.line_containing("before the interrupt", timeout=180)
    command.process.send_signal(signal.SIGINT)
    code, _, stderr = command.finish(timeout=60)
    assert code == 130, stderr
    assert "`kubetask wait NAME` follows it again" in stderr
    assert "Traceback" not in stderr
    assert _phase(cluster, namespace, "interrupted") == "Running"  # the run carries on
    again = live("wait", "interrupted", "-n", namespace)
    again.line_containing("before the interrupt", timeout=180)  # the log so far, then live
    assert kubetask_cli("cancel", "interrupted", "-n", namespace).exit_code == 0
    assert again.finish(timeout=120)[0] == 4
