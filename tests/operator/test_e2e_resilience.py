"""The operator keeps its promises when things break: restarted mid-run it carries on from the API with no
duplicate pods; with API requests failing and watch streams dropped, every TaskRun still ends right."""

from __future__ import annotations

import collections
import functools
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubetask_local.testing import Cluster, local_api_request, wait_for

from .conftest import StartOperator, TaskRuns, create_namespace_with_tasks, taskrun_manifest

pytestmark = pytest.mark.e2e


def test_a_restarted_operator_carries_on_without_duplicate_pods(taskruns: TaskRuns, cluster: Cluster) -> None:
    names = [taskruns.create(f"survivor-{i}", "sleep", inputs={"seconds": 3}) for i in range(4)]
    for name in names:
        taskruns.wait_phase(name, "Running", "Succeeded")
    cluster.restart_operator()
    for name in names:
        status = taskruns.wait_finished(name, timeout=60)
        assert status["phase"] == "Succeeded", status
        assert len(status["attempts"]) == 1
    pods = collections.Counter(p["metadata"]["labels"]["kubetask.dev/taskrun"] for p in taskruns.pods())
    assert pods == dict.fromkeys(names, 1)


def test_an_operator_killed_mid_run_carries_on_from_the_api(taskruns: TaskRuns, cluster: Cluster) -> None:
    if not cluster.is_local:
        pytest.skip(
            "killing the operator process needs the local cluster (restart_operator covers real ones)"
        )
    running = [taskruns.create(f"running-{i}", "sleep", inputs={"seconds": 3}) for i in range(3)]
    for name in running:
        taskruns.wait_phase(name, "Running", "Succeeded")
    before = cluster.admin("GET", "operator")["pid"]
    os.kill(before, signal.SIGKILL)
    created_while_down = [taskruns.create(f"late-{i}", "add", inputs={"a": i, "b": 1}) for i in range(2)]
    wait_for(
        lambda: cluster.admin("GET", "operator")["pid"] not in (None, before), 30, "a new operator process"
    )
    for name in running + created_while_down:
        assert taskruns.wait_finished(name, timeout=60)["phase"] == "Succeeded"
    pods = collections.Counter(p["metadata"]["labels"]["kubetask.dev/taskrun"] for p in taskruns.pods())
    assert pods == dict.fromkeys(running + created_while_down, 1)


def test_deleting_a_taskrun_while_the_operator_is_down_completes_and_is_not_undone(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator
) -> None:
    cluster = local_cluster_factory(operator=False)
    taskruns = create_namespace_with_tasks(cluster, "down")
    operator = start_operator(cluster)
    taskruns.create("doomed", "sleep", inputs={"seconds": 60})
    status = taskruns.wait_phase("doomed", "Running")
    assert [p["metadata"]["name"] for p in taskruns.pods("doomed")] == [status["podName"]]
    assert operator.stop() == 0, operator.log()
    # kubectl waits for the deletion to complete: a finalizer only the operator removes would time it out.
    cluster.kubectl("delete", "taskrun", "doomed", "-n", taskruns.namespace, "--timeout=10s")
    wait_for(lambda: not taskruns.pods("doomed"), 30, "the pod to be garbage-collected without the operator")
    restarted = start_operator(cluster)
    # A TaskRun created after the restart finishing shows the operator has listed and acted on the API.
    taskruns.create("after", "add", inputs={"a": 1, "b": 2})
    assert taskruns.wait_finished("after", timeout=60)["phase"] == "Succeeded", restarted.log()
    remaining = cluster.kubectl_json("get", "taskruns", "-n", taskruns.namespace)["items"]
    assert [t["metadata"]["name"] for t in remaining] == ["after"]
    owners = {p["metadata"]["labels"]["kubetask.dev/taskrun"] for p in taskruns.pods()}
    assert owners == {"after"}, "the restarted operator recreated nothing for the deleted TaskRun"


def _create_with_retries(kubeconfig: Path, namespace: str, manifest: dict[str, Any]) -> None:
    """POST through the API itself, retried like any client must while the server fails on purpose."""
    path = f"/apis/kubetask.dev/v1alpha1/namespaces/{namespace}/taskruns"
    for _ in range(50):
        status, reply = local_api_request(kubeconfig, "POST", path, manifest, timeout=10)
        if status < 300 or (status == 409 and "AlreadyExists" in json.dumps(reply)):
            return
        time.sleep(0.05)
    raise AssertionError(f"could not create {manifest['metadata']['name']} in 50 tries")


def _pods_per_attempt(cluster: Cluster, namespace: str) -> collections.Counter[tuple[str, str]]:
    pods = cluster.kubectl_json("get", "pods", "-n", namespace)["items"]
    return collections.Counter(
        (p["metadata"]["labels"]["kubetask.dev/taskrun"], p["metadata"]["labels"]["kubetask.dev/attempt"])
        for p in pods
    )


# The 200 TaskRuns: what each is made to do and the final state it must reach. The node's fast mode completes
# every pod at once with one exit code and message, so the pods that run are made in two rounds: first the
# succeeding ones, then (fast mode switched) the failing ones. TaskRuns that never get a pod (cancelled from
# the start, refused by the operator) go with the first round.
Expected = tuple[str, str, int]  # phase, reason, attempts
SUCCEEDS: Expected = ("Succeeded", "Succeeded", 1)
CANCELLED: Expected = ("Cancelled", "Cancelled", 0)
INVALID: Expected = ("Failed", "InvalidSpec", 0)
FAILS: Expected = ("Failed", "UserError", 1)
USER_FAILURE = json.dumps(
    {
        "outcome": "Failed",
        "error": {"kind": "USER", "recoverable": False, "type": "ValueError", "message": "bad input"},
    }
)


def _first_round(index: int) -> tuple[dict[str, Any], Expected]:
    name = f"run-{index:03d}"
    if index % 10 == 8:
        return taskrun_manifest(name, "add", inputs={"a": 1, "b": 2}, cancelled=True), CANCELLED
    if index % 10 == 9:
        reserved = {"volumes": [{"name": "kubetask-scratch", "emptyDir": {}}]}
        return taskrun_manifest(name, "add", inputs={"a": 1, "b": 2}, podTemplate=reserved), INVALID
    return taskrun_manifest(name, "add", inputs={"a": 1, "b": 2}), SUCCEEDS


def _second_round(index: int) -> tuple[dict[str, Any], Expected]:
    # Half may retry: a non-recoverable failure must still end after its one attempt.
    retries = {"retries": 2} if index % 2 else {}
    return taskrun_manifest(f"run-{index:03d}", "fail", **retries), FAILS


def _finished(cluster: Cluster, namespace: str, names: set[str]) -> list[dict[str, Any]] | None:
    try:
        items = cluster.kubectl_json("get", "taskruns", "-n", namespace)["items"]
    except AssertionError:
        return None  # kubectl met an injected failure: ask again
    done = [
        t
        for t in items
        if t["metadata"]["name"] in names
        and (t.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Cancelled")
    ]
    return done if len(done) == len(names) else None


@pytest.mark.slow
def test_200_taskruns_end_right_with_failing_requests_and_dropped_watches(
    local_cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = local_cluster_factory()
    namespace = "faults"
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    success = json.dumps({"outcome": "Succeeded", "outputs": {"o0": 42}})
    rounds = [
        ((0, success), [_first_round(index) for index in range(150)]),
        ((1, USER_FAILURE), [_second_round(index) for index in range(150, 200)]),
    ]
    cluster.set_faults(error_rate=0.05, statuses=[500, 429, 409], retry_after=1, watch_drop_after=3.0, seed=7)
    expected: dict[str, Expected] = {}
    for (exit_code, message), runs in rounds:
        cluster.set_fast_mode(exit_code=exit_code, termination_message=message)
        for manifest, _ in runs:
            _create_with_retries(cluster.kubeconfig, namespace, manifest)
        names = {manifest["metadata"]["name"] for manifest, _ in runs}
        wait_for(
            functools.partial(_finished, cluster, namespace, names),
            150,
            f"{len(names)} TaskRuns to finish under injected faults",
            interval=1.0,
        )
        expected.update((manifest["metadata"]["name"], outcome) for manifest, outcome in runs)
    cluster.reset_faults()
    taskruns = cluster.kubectl_json("get", "taskruns", "-n", namespace)["items"]
    reached = {
        t["metadata"]["name"]: (
            t["status"]["phase"],
            next(c["reason"] for c in t["status"]["conditions"] if c["type"] == "Succeeded"),
            len(t["status"].get("attempts") or []),
        )
        for t in taskruns
    }
    assert reached == expected
    assert collections.Counter(expected.values()) == {SUCCEEDS: 120, CANCELLED: 15, INVALID: 15, FAILS: 50}
    for taskrun in taskruns:
        if expected[taskrun["metadata"]["name"]] == SUCCEEDS:
            assert taskrun["status"]["outputs"] == {"o0": 42}
        if expected[taskrun["metadata"]["name"]] == FAILS:
            assert taskrun["status"]["error"]["type"] == "ValueError"
    pods = _pods_per_attempt(cluster, namespace)
    assert max(pods.values()) == 1, "never a second pod for an attempt"
    attempts = {
        (t["metadata"]["name"], str(a["number"])) for t in taskruns for a in t["status"].get("attempts") or []
    }
    assert set(pods) == attempts, "exactly one pod per recorded attempt"
