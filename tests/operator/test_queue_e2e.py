"""TaskQueues on a cluster: admission in order, never past maxRunning (watched), across an operator restart;
a missing queue and queueTimeout say so; the TaskQueue's status counts its runs."""

from __future__ import annotations

import subprocess
import threading

import pytest

from kubetask_local.testing import Cluster, kubectl_binary, wait_for

from .conftest import TaskRuns, condition

pytestmark = pytest.mark.e2e


def _queue(taskruns: TaskRuns, name: str, max_running: int) -> None:
    manifest = {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskQueue",
        "metadata": {"name": name},
        "spec": {"maxRunning": max_running},
    }
    taskruns.cluster.apply(manifest, namespace=taskruns.namespace)


class PodWatch:
    """``kubectl get pods -w``: the order pods appeared in, and the most alive at once (not ended or gone)."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.process = subprocess.Popen(
            [str(kubectl_binary()), "--kubeconfig", str(cluster.kubeconfig), "get", "pods", "-n", namespace,
             "-l", "app.kubernetes.io/managed-by=kubetask-operator", "--watch", "--output-watch-events",
             "-o", "jsonpath={.type} {.object.metadata.labels.kubetask\\.dev/taskrun} "
             "{.object.status.phase} {.object.metadata.deletionTimestamp}{\"\\n\"}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.order: list[str] = []
        self.alive: set[str] = set()
        self.most_alive = 0
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            parts = line.split()
            if len(parts) < 2:
                continue
            kind, run = parts[0], parts[1]
            phase = parts[2] if len(parts) > 2 else ""
            deleting = len(parts) > 3
            if run not in self.order:
                self.order.append(run)
            if kind == "DELETED" or deleting or phase in ("Succeeded", "Failed"):
                self.alive.discard(run)
            else:
                self.alive.add(run)
            self.most_alive = max(self.most_alive, len(self.alive))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._thread.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


def test_a_queue_admits_in_order_and_never_past_its_limit_across_a_restart(
    taskruns: TaskRuns, cluster: Cluster
) -> None:
    _queue(taskruns, "q", 0)  # hold everything until all are queued: the order is then fully defined
    names = [f"r{i}" for i in range(1, 6)]
    for name in names:
        taskruns.create(name, "sleep", inputs={"seconds": 2}, queue="q", pendingTimeout="5m")
    taskruns.create("urgent", "sleep", inputs={"seconds": 2}, queue="q", priority=10)
    for name in [*names, "urgent"]:
        taskruns.wait_phase(name, "Queued")
    assert condition(taskruns.status("urgent"))["message"] == "1st in queue q: 0 of 0 running"
    # The urgent run joined ahead of r5 after r5 said "5th": the head of a line is told its new place
    # within a second of a change, so well before its own look 30 s later (generous for a loaded machine).
    taskruns.wait(
        "r5", lambda s: "6th in queue q: 0 of 0 running" in str(s), "its place behind urgent", timeout=25
    )
    assert taskruns.pods() == []
    watch = PodWatch(cluster, taskruns.namespace)
    try:
        _queue(taskruns, "q", 2)
        wait_for(lambda: len(watch.order) >= 2, 120, "two runs admitted")
        # Its place in line is refreshed by its own periodic look (every 30 s), not at every admission.
        third = taskruns.wait(
            "r3", lambda s: "in queue q: 2 of 2 running" in str(s), "to say why it waits", timeout=120
        )
        assert condition(third)["reason"] == "Queued"
        cluster.restart_operator()
        admitted = []
        for name in ["urgent", *names]:
            status = taskruns.wait_finished(name, timeout=240)
            assert status["phase"] == "Succeeded", status
            assert status["admittedAt"] <= status["startTime"]
            admitted.append(status["admittedAt"])
        wait_for(lambda: len(watch.order) == 6 and not watch.alive, 60, "every pod ended")
    finally:
        watch.stop()
    # Admission follows the line; two slots freeing together admit the next two together (either pod may
    # be created first), so each run's pod is at most one place from its place in line.
    line = ["urgent", "r1", "r2", "r3", "r4", "r5"]
    assert set(watch.order[:2]) == {"urgent", "r1"}, watch.lines
    assert all(abs(watch.order.index(name) - place) <= 1 for place, name in enumerate(line)), watch.lines
    assert admitted == sorted(admitted)
    assert watch.most_alive == 2, watch.lines  # 2 at once, never 3

    def queue_status() -> dict[str, int]:
        found = cluster.kubectl_json("get", "taskqueue", "q", "-n", taskruns.namespace)
        return dict(found.get("status") or {})

    wait_for(
        lambda: queue_status() == {"running": 0, "queued": 0}, 60, "the TaskQueue's status to count none"
    )


def test_a_missing_queue_holds_its_runs_until_it_exists(taskruns: TaskRuns) -> None:
    taskruns.create("waits", "add", inputs={"a": 1, "b": 2}, queue="later")
    status = taskruns.wait_phase("waits", "Queued")
    assert "TaskQueue later does not exist" in condition(status)["message"]
    assert taskruns.pods() == []
    _queue(taskruns, "later", 1)
    assert taskruns.wait_finished("waits", timeout=120)["outputs"] == {"o0": 3}


def test_queue_timeout_ends_a_run_never_admitted(taskruns: TaskRuns) -> None:
    _queue(taskruns, "closed", 0)
    taskruns.create("impatient", "add", inputs={"a": 1, "b": 2}, queue="closed", queueTimeout="3s")
    status = taskruns.wait_finished("impatient", timeout=120)
    assert status["phase"] == "Failed"
    assert condition(status)["reason"] == "QueueTimeout"
    assert "queueTimeout 3s" in condition(status)["message"]
    assert "attempts" not in status
    assert taskruns.pods() == []
