"""The chart's RBAC tested for real: the operator runs against the local cluster as the ServiceAccount the
chart creates, holding only the chart's permissions (a TokenRequest token), and drives a TaskRun to its end.
A verb missing from the chart makes the operator's request fail with the real 403, and this test with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask_local.testing import Cluster, start_local_cluster, wait_for

CHART = Path(__file__).resolve().parents[3] / "charts" / "kubetask"
HELM = Path(sys.executable).parent / "helm"
RELEASE_NAMESPACE = "kubetask-system"
TASKS = """
import kubetask


@kubetask.task
def add(a: int, b: int) -> int:
    return a + b
"""

pytestmark = pytest.mark.skipif(not HELM.exists(), reason=f"no helm binary at {HELM} (run .ci/install-helm)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = start_local_cluster(tmp_path_factory.mktemp("chart-rbac"), operator=False)
    try:
        yield started
    finally:
        assert started.process is not None
        started.process.stop()


def helm(cluster: Cluster, *args: str) -> None:
    home = cluster.kubeconfig.parent
    environment = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "HELM_CACHE_HOME": str(home / "helm-cache"),
        "HELM_CONFIG_HOME": str(home / "helm-config"),
        "HELM_DATA_HOME": str(home / "helm-data"),
    }
    result = subprocess.run(
        [str(HELM), *args], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"


def chart_environment(cluster: Cluster, deployment: str) -> dict[str, str]:
    """The operator container's environment as the chart's Deployment sets it (fieldRefs resolved)."""
    spec = cluster.kubectl_json("get", "deployment", deployment, "-n", RELEASE_NAMESPACE)["spec"]
    container = spec["template"]["spec"]["containers"][0]
    environment = {}
    for variable in container.get("env") or []:
        field = ((variable.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if field == "metadata.namespace":
            environment[variable["name"]] = RELEASE_NAMESPACE
        elif field == "metadata.name":
            environment[variable["name"]] = "kt-kubetask-local"
        elif "value" in variable:
            environment[variable["name"]] = variable["value"]
    return environment


def test_the_operator_runs_taskruns_holding_only_the_charts_rbac(cluster: Cluster, tmp_path: Path) -> None:
    helm(
        cluster,
        "install",
        "kt",
        str(CHART),
        "-n",
        RELEASE_NAMESPACE,
        "--create-namespace",
        "--set",
        "replicas=0",  # the operator runs as a local process below, with the chart's identity
        "--set",
        "crds.enabled=false",  # kubetask dev applied the CRD already
    )
    kubeconfig = cluster.service_account_kubeconfig(RELEASE_NAMESPACE, "kt-kubetask", tmp_path / "operator")
    environment: dict[str, Any] = {
        **os.environ,
        **chart_environment(cluster, "kt-kubetask"),
        "KUBECONFIG": str(kubeconfig),
        "PYTHONUNBUFFERED": "1",
    }
    environment.pop("KUBETASK_METRICS_PORT", None)
    log = tmp_path / "operator.log"
    with log.open("wb") as sink:
        operator = subprocess.Popen(
            [sys.executable, "-m", "kubetask_operator"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    try:
        cluster.kubectl("create", "namespace", "work")
        cluster.kubectl("create", "configmap", "tasks", "-n", "work", f"--from-literal=rbactasks.py={TASKS}")
        taskrun = {
            "apiVersion": "kubetask.dev/v1alpha1",
            "kind": "TaskRun",
            "metadata": {"name": "sum", "namespace": "work"},
            "spec": {
                "image": os.environ.get("KUBETASK_TEST_IMAGE", "kubetask-tests:local"),
                "task": {"module": "rbactasks", "name": "add"},
                "inputs": {"a": 2, "b": 3},
                "env": [{"name": "PYTHONPATH", "value": "/opt/rbac-tasks"}],
                "podTemplate": {
                    "volumes": [{"name": "tasks", "configMap": {"name": "tasks"}}],
                    "volumeMounts": [{"name": "tasks", "mountPath": "/opt/rbac-tasks"}],
                },
            },
        }
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(taskrun))

        def finished() -> dict[str, Any] | None:
            if operator.poll() is not None:
                raise AssertionError(f"the operator exited ({operator.returncode}):\n{log.read_text()}")
            status = cluster.kubectl_json("get", "taskrun", "sum", "-n", "work").get("status") or {}
            return status if status.get("phase") in ("Succeeded", "Failed", "Cancelled") else None

        try:
            status = wait_for(finished, 120, "the TaskRun to finish")
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- operator log ---\n{log.read_text()[-5000:]}") from error
        assert status["phase"] == "Succeeded", f"{status}\n--- operator log ---\n{log.read_text()}"
        assert status["outputs"] == {"o0": 5}
        assert "Forbidden" not in log.read_text(), log.read_text()
    finally:
        operator.terminate()
        operator.wait(timeout=60)
