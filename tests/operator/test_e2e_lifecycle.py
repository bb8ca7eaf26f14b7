"""TaskRuns end to end through kubectl: success, failures, retries with backoff, deleted pods, timeouts,
cancel, TTL and large inputs, each on the session's cluster in a namespace of its own."""

from __future__ import annotations

import datetime

import pytest

from kubetask_local.testing import Cluster, wait_for

from ._times import seconds_between
from .conftest import TaskRuns, condition

pytestmark = pytest.mark.e2e


def test_success_reports_outputs_and_events(taskruns: TaskRuns) -> None:
    taskruns.create("add", "add", inputs={"a": 2, "b": 3})
    status = taskruns.wait_finished("add")
    assert status["phase"] == "Succeeded", status
    assert status["outputs"] == {"o0": 5}
    assert condition(status)["status"] == "True"
    (attempt,) = status["attempts"]
    assert attempt["exitCode"] == 0
    (pod,) = taskruns.pods("add")
    assert pod["metadata"]["name"] == status["podName"] == attempt["podName"]
    owner = pod["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("TaskRun", "add", True)
    # One Event per status transition written: a pod that succeeds at once makes one transition.
    wait_for(lambda: "Succeeded" in taskruns.events("add"), 10, "the TaskRun's Succeeded event")


def test_a_user_error_fails_at_once_without_retries(taskruns: TaskRuns) -> None:
    taskruns.create("fail", "fail", inputs={"message": "no luck"}, retries=3)
    status = taskruns.wait_finished("fail")
    assert status["phase"] == "Failed", status
    assert condition(status)["reason"] == "UserError"
    assert status["error"]["type"] == "ValueError"
    assert "no luck" in status["error"]["message"]
    assert status["error"]["recoverable"] is False
    assert len(status["attempts"]) == 1, "a non-recoverable error must not be retried"
    assert len(taskruns.pods("fail")) == 1


def test_a_recoverable_error_is_retried_with_backoff_until_it_succeeds(taskruns: TaskRuns) -> None:
    backoff = {"initialSeconds": 1, "factor": 2, "maxSeconds": 10}
    taskruns.create("flaky", "flaky", inputs={"succeed_on": 3}, retries=3, backoff=backoff)
    retrying = taskruns.wait("flaky", lambda s: s.get("phase") == "Retrying", "to be Retrying")
    assert retrying["nextAttemptTime"]
    assert "backoff 1s" in condition(retrying)["message"]
    status = taskruns.wait_finished("flaky", timeout=60)
    assert status["phase"] == "Succeeded", status
    assert status["outputs"] == {"o0": 3}
    first, second, third = status["attempts"]
    assert [first["reason"], second["reason"], third["reason"]] == ["UserError", "UserError", "Succeeded"]
    # Backoff: 1s then 2s. Without it, attempt 3 would start within a second of attempt 1's end.
    assert seconds_between(first["completionTime"], third["createTime"]) >= 2
    assert second["number"] == 2
    messages = taskruns.cluster.kubectl_json(
        "get",
        "events",
        "-n",
        taskruns.namespace,
        "--field-selector",
        "involvedObject.name=flaky,reason=Retrying",
    )["items"]
    shown = " | ".join(event["message"] for event in messages)
    assert "backoff 1s" in shown
    assert "backoff 2s" in shown
    pods = sorted(p["metadata"]["labels"]["kubetask.dev/attempt"] for p in taskruns.pods("flaky"))
    assert pods == ["1", "2", "3"], "exactly one pod per attempt"


def test_a_pod_deleted_from_outside_is_a_system_failure_and_retried(taskruns: TaskRuns) -> None:
    taskruns.create("victim", "sleep", inputs={"seconds": 60}, backoff={"initialSeconds": 0})
    running = taskruns.wait_phase("victim", "Running")
    taskruns.cluster.kubectl("delete", "pod", running["podName"], "-n", taskruns.namespace, "--wait=false")
    status = taskruns.wait("victim", lambda s: s.get("attemptCount") == 2, "to start attempt 2")
    assert status["attempts"][0]["reason"] == "PodDeleted"
    assert status["attempts"][0]["errorKind"] == "SYSTEM"
    taskruns.patch("victim", '{"spec": {"cancelled": true}}')
    assert taskruns.wait_finished("victim")["phase"] == "Cancelled"


def test_timeout_stops_the_task_and_keeps_its_logs(taskruns: TaskRuns) -> None:
    taskruns.create("slow", "sleep", inputs={"seconds": 60}, timeout="2s")
    status = taskruns.wait_finished("slow")
    assert status["phase"] == "Failed", status
    assert condition(status)["reason"] == "Timeout"
    pod = status["podName"]
    wait_for(lambda: _pod_phase(taskruns, pod) == "Failed", 30, f"pod {pod} to be stopped")
    assert "sleeping now" in taskruns.logs(pod)


def test_cancel_stops_the_task_and_keeps_its_logs(taskruns: TaskRuns) -> None:
    taskruns.create("cancel-me", "sleep", inputs={"seconds": 60})
    pod = taskruns.wait_phase("cancel-me", "Running")["podName"]
    wait_for(lambda: "sleeping now" in taskruns.logs(pod), 10, "the task to log")
    taskruns.patch("cancel-me", '{"spec": {"cancelled": true}}')
    status = taskruns.wait_finished("cancel-me")
    assert status["phase"] == "Cancelled"
    assert condition(status)["reason"] == "Cancelled"
    wait_for(lambda: _pod_phase(taskruns, pod) == "Failed", 30, f"pod {pod} to be stopped")
    assert "sleeping now" in taskruns.logs(pod)
    assert "Cancelled" in taskruns.events("cancel-me")


def test_ttl_deletes_the_finished_taskrun_and_its_pods(taskruns: TaskRuns) -> None:
    ttl = 5
    taskruns.create("brief", "add", inputs={"a": 1, "b": 1}, ttlSecondsAfterFinished=ttl)
    # It must finish first: a TaskRun deleted early (at creation, say) never shows Succeeded.
    status = taskruns.wait_finished("brief")
    assert status["phase"] == "Succeeded", status
    completed = datetime.datetime.fromisoformat(status["completionTime"].replace("Z", "+00:00"))

    def gone() -> bool:
        listed = taskruns.cluster.kubectl_json("get", "taskruns", "-n", taskruns.namespace)["items"]
        return not [t for t in listed if t["metadata"]["name"] == "brief"]

    wait_for(gone, 30, "the TaskRun to be deleted after its TTL")
    # Not before its TTL (2 s of margin for the clocks of a real cluster's nodes and this machine).
    elapsed = (datetime.datetime.now(datetime.UTC) - completed).total_seconds()
    assert elapsed >= ttl - 2, f"deleted {elapsed:.1f}s after it finished, its TTL is {ttl}s"
    wait_for(lambda: not taskruns.pods("brief"), 30, "its pods to be garbage-collected")


def test_large_inputs_travel_through_a_configmap(taskruns: TaskRuns) -> None:
    blob = "x" * (1000 * 1024)
    taskruns.create("large", "size", inputs={"blob": blob})
    status = taskruns.wait_finished("large", timeout=60)
    assert status["phase"] == "Succeeded", status
    assert status["outputs"] == {"o0": len(blob)}
    configmaps = taskruns.cluster.kubectl_json(
        "get", "configmaps", "-n", taskruns.namespace, "-l", "kubetask.dev/taskrun=large"
    )["items"]
    (configmap,) = configmaps
    assert configmap["metadata"]["ownerReferences"][0]["name"] == "large"


def test_deleting_a_taskrun_never_waits_for_the_operator(taskruns: TaskRuns, cluster: Cluster) -> None:
    taskruns.create("doomed", "sleep", inputs={"seconds": 60})
    taskruns.wait_phase("doomed", "Running")
    assert not taskruns.get("doomed")["metadata"].get("finalizers"), "no finalizer may block deletion"
    cluster.kubectl("delete", "taskrun", "doomed", "-n", taskruns.namespace, "--timeout=10s")
    wait_for(lambda: not taskruns.pods("doomed"), 30, "the pod to be garbage-collected")


def _pod_phase(taskruns: TaskRuns, pod: str) -> str:
    found = taskruns.cluster.kubectl_json("get", "pod", pod, "-n", taskruns.namespace)
    return str((found.get("status") or {}).get("phase"))
