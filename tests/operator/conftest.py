"""End-to-end helpers for the operator's tests: TaskRuns through kubectl, task code from a ConfigMap.

The tasks these tests run live in ``optasks.py`` beside this file. Each test's namespace gets it as a
ConfigMap, and each TaskRun mounts it and puts it on PYTHONPATH, as one would on a real cluster; so the tests
need no image of their own on the local cluster, and on a real cluster (``--kubeconfig``) any image with
kubetask installed (``KUBETASK_TEST_IMAGE``) runs them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask_local.testing import Cluster, wait_for

TASKS_FILE = Path(__file__).with_name("optasks.py")
TASKS_MOUNT = "/opt/kubetask-tests"
IMAGE = os.environ.get("KUBETASK_TEST_IMAGE", "kubetask-tests:local")
FINISHED = ("Succeeded", "Failed", "Cancelled")


def taskrun_manifest(
    name: str, task: str, *, inputs: dict[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    """A TaskRun of ``optasks.<task>`` (extra ``spec`` fields as given; ``podTemplate`` keys merged)."""
    template = dict(spec.pop("podTemplate", {}))
    template["volumes"] = [{"name": "tests", "configMap": {"name": "optasks"}}, *template.get("volumes", [])]
    template["volumeMounts"] = [
        {"name": "tests", "mountPath": TASKS_MOUNT},
        *template.get("volumeMounts", []),
    ]
    body: dict[str, Any] = {
        "image": IMAGE,
        "task": {"module": "optasks", "name": task},
        "env": [{"name": "PYTHONPATH", "value": TASKS_MOUNT}, *spec.pop("env", [])],
        "podTemplate": template,
        **spec,
    }
    if inputs is not None:
        body["inputs"] = inputs
    return {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": body,
    }


class TaskRuns:
    """TaskRuns in one test namespace, through kubectl only."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace

    def create(self, name: str, task: str, *, inputs: dict[str, Any] | None = None, **spec: Any) -> str:
        """``kubectl create`` (not apply, whose last-applied annotation would double a large TaskRun)."""
        manifest = yaml.safe_dump(taskrun_manifest(name, task, inputs=inputs, **spec))
        self.cluster.kubectl("create", "-f", "-", "-n", self.namespace, input=manifest)
        return name

    def get(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.cluster.kubectl_json("get", "taskrun", name, "-n", self.namespace)
        return result

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.get(name).get("status") or {})

    def wait(
        self, name: str, predicate: Callable[[dict[str, Any]], Any], what: str, timeout: float = 30
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            status = self.status(name)
            return status if predicate(status) else None

        return wait_for(check, timeout, f"TaskRun {name} {what}")

    def wait_phase(self, name: str, *phases: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait(name, lambda s: s.get("phase") in phases, f"to reach {' or '.join(phases)}", timeout)

    def wait_finished(self, name: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait_phase(name, *FINISHED, timeout=timeout)

    def pods(self, name: str | None = None) -> list[dict[str, Any]]:
        selector = (
            f"kubetask.dev/taskrun={name}" if name else "app.kubernetes.io/managed-by=kubetask-operator"
        )
        items: list[dict[str, Any]] = self.cluster.kubectl_json(
            "get", "pods", "-n", self.namespace, "-l", selector
        )["items"]
        return items

    def patch(self, name: str, patch: str) -> None:
        self.cluster.kubectl("patch", "taskrun", name, "-n", self.namespace, "--type", "merge", "-p", patch)

    def events(self, name: str) -> list[str]:
        items = self.cluster.kubectl_json(
            "get", "events", "-n", self.namespace, "--field-selector", f"involvedObject.name={name}"
        )["items"]
        return [item["reason"] for item in sorted(items, key=lambda e: e.get("lastTimestamp") or "")]

    def logs(self, pod: str) -> str:
        return self.cluster.kubectl("logs", pod, "-n", self.namespace).stdout


def condition(status: dict[str, Any]) -> dict[str, Any]:
    (found,) = [c for c in status.get("conditions") or [] if c["type"] == "Succeeded"]
    return found


@pytest.fixture
def taskruns(cluster: Cluster, namespace: str) -> TaskRuns:
    """TaskRuns in a fresh namespace that holds the ``optasks`` ConfigMap."""
    return _with_tasks(cluster, namespace)


class OperatorProcess:
    """A ``python -m kubetask_operator`` process of its own (beside a cluster started without one), logging
    to a file; ``env`` adds KUBETASK_* settings."""

    def __init__(self, cluster: Cluster, log: Path, env: dict[str, str]) -> None:
        self.log_path = log
        with log.open("wb") as handle:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "kubetask_operator"],
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONUNBUFFERED": "1", **env},
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM and its exit status (SIGKILL if it has not stopped within 30 s)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait(timeout=10)


StartOperator = Callable[..., OperatorProcess]


@pytest.fixture
def start_operator(tmp_path: Path) -> Iterator[StartOperator]:
    """``start_operator(cluster, KUBETASK_X="...")``: an operator process, stopped at the end of the test."""
    started: list[OperatorProcess] = []

    def start(cluster: Cluster, **env: str) -> OperatorProcess:
        operator = OperatorProcess(cluster, tmp_path / f"operator-{len(started)}.log", env)
        started.append(operator)
        return operator

    yield start
    for operator in started:
        operator.stop()


def create_namespace_with_tasks(cluster: Cluster, namespace: str) -> TaskRuns:
    """A new namespace holding the ``optasks`` ConfigMap, as the ``taskruns`` fixture makes one."""
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return _with_tasks(cluster, namespace)


def _with_tasks(cluster: Cluster, namespace: str) -> TaskRuns:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "optasks"},
        "data": {"optasks.py": TASKS_FILE.read_text()},
    }
    cluster.apply(configmap, namespace=namespace)
    return TaskRuns(cluster, namespace)
