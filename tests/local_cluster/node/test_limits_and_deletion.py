"""Limits and endings: memory limits (OOMKilled, 137), activeDeadlineSeconds (DeadlineExceeded), graceful
deletion (SIGTERM, the grace period, SIGKILL, then the pod object removed by the node)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from kubetask_local.testing import wait_for

pytestmark = pytest.mark.e2e


def test_exceeding_the_memory_limit_is_oom_killed(pods: Any) -> None:
    code = """
        import time
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
            time.sleep(0.01)
    """
    pods.create("hungry", pods.container(code, resources={"limits": {"memory": "96Mi"}}))
    pod = pods.wait_phase("hungry", "Failed")
    terminated = pods.state(pod)["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "OOMKilled")


def test_a_pod_within_its_memory_limit_succeeds(pods: Any) -> None:
    pods.create(
        "modest",
        pods.container(
            "x = bytearray(8 * 1024 * 1024); print(len(x))", resources={"limits": {"memory": "256Mi"}}
        ),
    )
    pods.wait_phase("modest", "Succeeded")


def test_active_deadline_fails_the_pod_with_deadline_exceeded(pods: Any) -> None:
    pods.create("late", pods.container("import time; time.sleep(60)"), activeDeadlineSeconds=1)
    pod = pods.wait_phase("late", "Failed", timeout=30)
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert "deadline" in pod["status"]["message"]
    assert pods.state(pod)["terminated"]["exitCode"] == 143  # SIGTERM ended the sleeping process


def test_a_deadline_shortened_at_run_time_is_honoured(pods: Any) -> None:
    code = "import time; print('running', flush=True); time.sleep(60)"
    pods.create("shortened", pods.container(code), activeDeadlineSeconds=600)
    pods.wait("shortened", lambda p: "running" in pods.state(p), "running")
    pods.cluster.kubectl(
        "patch",
        "pod",
        "shortened",
        "-n",
        pods.namespace,
        "--type=merge",
        "-p",
        '{"spec": {"activeDeadlineSeconds": 1}}',
    )
    pod = pods.wait_phase("shortened", "Failed", timeout=30)
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert pods.logs("shortened") == "running\n"


def _pid_file_process_gone(path: Path) -> bool:
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_graceful_deletion_sends_sigterm_then_removes_the_pod(
    pods: Any, local_cluster: Any, tmp_path: Path
) -> None:
    code = """
        import os, signal, sys, time
        def stop(signum, frame):
            open("/marks/sigterm", "w").write("received")
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        open("/marks/pid", "w").write(str(os.getpid()))
        time.sleep(60)
    """
    container = pods.container(code, volumeMounts=[{"name": "marks", "mountPath": "/marks"}])
    pods.create(
        "graceful",
        container,
        volumes=[{"name": "marks", "hostPath": {"path": str(tmp_path)}}],
        terminationGracePeriodSeconds=20,
    )
    wait_for((tmp_path / "pid").exists, 30, "the pod's process to start")
    pods.cluster.kubectl("delete", "pod", "graceful", "-n", pods.namespace, "--wait=true", timeout=30)
    assert (tmp_path / "sigterm").read_text() == "received"
    assert _pid_file_process_gone(tmp_path / "pid")
    assert not pods.exists("graceful")


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(
    pods: Any, local_cluster: Any, tmp_path: Path
) -> None:
    code = """
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open("/marks/pid", "w").write(str(os.getpid()))
        time.sleep(60)
    """
    container = pods.container(code, volumeMounts=[{"name": "marks", "mountPath": "/marks"}])
    pods.create("stubborn", container, volumes=[{"name": "marks", "hostPath": {"path": str(tmp_path)}}])
    wait_for((tmp_path / "pid").exists, 30, "the pod's process to start")
    began = time.monotonic()
    pods.cluster.kubectl(
        "delete", "pod", "stubborn", "-n", pods.namespace, "--grace-period=2", "--wait=false"
    )
    wait_for(lambda: not pods.exists("stubborn"), 30, "the pod to be removed")
    assert time.monotonic() - began >= 2.0  # SIGTERM was ignored: only the grace period's SIGKILL ended it
    assert _pid_file_process_gone(tmp_path / "pid")
    assert "Killing" in pods.wait_events("stubborn", "Killing")


def test_deleting_a_finished_pod_removes_it_at_once(pods: Any) -> None:
    pods.create("done", pods.container("print('done')"))
    pods.wait_phase("done", "Succeeded")
    pods.cluster.kubectl("delete", "pod", "done", "-n", pods.namespace, "--wait=true", timeout=30)
    assert not pods.exists("done")
