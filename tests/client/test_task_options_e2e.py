"""Task options end to end: what @kubetask.task and kubetask.submit ask for reaches the TaskRun the client
creates, the pod the operator builds from it, and the task running in that pod. Local cluster by default,
a real one with --kubeconfig (the Secret is created in the test's namespace; nodes carry
kubernetes.io/os, a well-known label every kubelet sets:
https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-os)."""

from __future__ import annotations

import base64
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kubetask
from kubetask_client._selftest import environment, read_file_named_by
from kubetask_local.testing import Cluster, wait_for

pytestmark = pytest.mark.e2e


def _submit(cluster: Cluster, namespace: str, task: Any, inputs: dict[str, Any], **options: Any) -> Any:
    # kubetask.submit, as users call it: the runtime finds the client through its entry point.
    handle = kubetask.submit(task, inputs, namespace=namespace, kubeconfig=str(cluster.kubeconfig), **options)
    return handle.wait(timeout=180)


def _pod_spec(cluster: Cluster, namespace: str, taskrun: str) -> dict[str, Any]:
    pods = cluster.kubectl_json("get", "pods", "-n", namespace, "-l", f"kubetask.dev/taskrun={taskrun}")[
        "items"
    ]
    assert pods, f"no pod of taskrun {taskrun}"
    spec: dict[str, Any] = pods[0]["spec"]
    return spec


def _task_container(spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = [
        c for c in spec["containers"] if "kubetask-execute" in " ".join(c.get("command", []))
    ] or [spec["containers"][0]]
    return container


def test_decorator_options_reach_the_taskrun_the_pod_and_the_task(
    cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    handle = _submit(cluster, namespace, environment, {"name": "SELFTEST_GREETING"}, image=selftest_image)
    assert handle.outputs == {"o0": "hello from the decorator"}
    spec = handle.taskrun["spec"]
    assert (spec["retries"], spec["timeout"]) == (1, "300s")
    assert spec["resources"] == {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
    container = _task_container(_pod_spec(cluster, namespace, handle.name))
    assert container["resources"]["requests"] == {"cpu": "50m", "memory": "256Mi"}
    assert container["resources"]["limits"] == {"memory": "256Mi"}
    assert {"name": "SELFTEST_GREETING", "value": "hello from the decorator"} in container["env"]


def test_a_value_given_at_submission_wins(cluster: Cluster, namespace: str, selftest_image: str) -> None:
    handle = _submit(
        cluster,
        namespace,
        environment,
        {"name": "SELFTEST_GREETING"},
        image=selftest_image,
        retries=0,
        env={"SELFTEST_GREETING": "hello from submit"},
        resources=kubetask.Resources(cpu="100m"),
    )
    assert handle.outputs == {"o0": "hello from submit"}
    spec = handle.taskrun["spec"]
    assert spec["retries"] == 0
    assert spec["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}


def test_a_secret_key_reaches_the_task_as_a_variable_and_as_a_file(
    cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": namespace},
            "data": {"token": base64.b64encode(b"s3cr3t").decode()},
        }
    )
    as_variable = _submit(
        cluster,
        namespace,
        environment,
        {"name": "API_TOKEN"},
        image=selftest_image,
        secrets=[kubetask.Secret("creds", "token", env="API_TOKEN")],
    )
    assert as_variable.outputs == {"o0": "s3cr3t"}
    assert {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}} in (
        as_variable.taskrun["spec"]["env"]
    )
    as_file = _submit(
        cluster,
        namespace,
        read_file_named_by,
        {"variable": "TOKEN_FILE"},
        image=selftest_image,
        secrets=[kubetask.Secret("creds", "token", mount_path="/var/run/creds/token")],
        env={"TOKEN_FILE": "/var/run/creds/token"},
    )
    assert as_file.outputs == {"o0": "s3cr3t"}
    container = _task_container(_pod_spec(cluster, namespace, as_file.name))
    mounts = [m for m in container["volumeMounts"] if m["mountPath"] == "/var/run/creds/token"]
    assert mounts == [
        {"name": mounts[0]["name"], "mountPath": "/var/run/creds/token", "subPath": "token", "readOnly": True}
    ]


def test_node_selector_and_tolerations_reach_the_pod(
    cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    toleration = {"key": "example.com/dedicated", "operator": "Exists", "effect": "NoSchedule"}
    handle = _submit(
        cluster,
        namespace,
        environment,
        {"name": "HOME"},
        image=selftest_image,
        node_selector={"kubernetes.io/os": "linux"},
        tolerations=[toleration],
    )
    assert handle.phase == "Succeeded"
    spec = _pod_spec(cluster, namespace, handle.name)
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert toleration in spec["tolerations"]


def test_a_node_selector_no_node_matches_keeps_the_run_from_starting(
    cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    handle = kubetask.submit(
        environment,
        {"name": "HOME"},
        image=selftest_image,
        namespace=namespace,
        kubeconfig=str(cluster.kubeconfig),
        node_selector={"kubetask.dev/test-pool": "nowhere"},
        retries=0,
        pending_timeout="5s",
    )
    handle.wait(timeout=180)
    assert handle.phase == "Failed"
    assert handle.taskrun["status"]["conditions"][0]["reason"] == "Unschedulable"  # README: reasons


# ---------------------------------------------------------------- @kubetask.task(queue=...)

QUEUED_TASK = """import time

import kubetask


@kubetask.task(queue="gpu")
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
"""


@pytest.fixture
def queued_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A task whose decorator names the TaskQueue ``gpu``, in a fresh module (its code ships with the run)."""
    module_name = f"queued_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module_name}.py").write_text(QUEUED_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield importlib.import_module(module_name).nap
    sys.modules.pop(module_name, None)


def test_the_decorators_queue_holds_a_run_queued_until_a_slot_frees(
    cluster: Cluster, namespace: str, selftest_image: str, queued_task: Any
) -> None:
    cluster.apply(
        {"apiVersion": "kubetask.dev/v1alpha1", "kind": "TaskQueue", "metadata": {"name": "gpu"},
         "spec": {"maxRunning": 1}},
        namespace=namespace,
    )  # fmt: skip
    connection = {"namespace": namespace, "kubeconfig": str(cluster.kubeconfig), "image": selftest_image}
    holder = kubetask.submit(queued_task, {"seconds": 3600}, **connection)
    wait_for(lambda: holder.refresh().phase == "Running", 180, "the first run to hold the queue's one slot")
    waiting = kubetask.submit(queued_task, {"seconds": 0}, **connection)
    assert waiting.taskrun["spec"]["queue"] == "gpu"

    def queued_message() -> str | None:
        status = waiting.refresh().taskrun.get("status") or {}
        conditions = status.get("conditions") or [{}]
        return str(conditions[0].get("message")) if status.get("phase") == "Queued" else None

    message = wait_for(queued_message, 180, "the second run to wait Queued")
    assert message == "1st in queue gpu: 1 of 1 running"
    assert "attempts" not in waiting.taskrun["status"]  # no pod while queued
    holder.cancel()
    waiting.wait(timeout=180)
    assert waiting.outputs == {"o0": 0.0}
    assert waiting.taskrun["status"]["admittedAt"] >= holder.refresh().taskrun["status"]["admittedAt"]
