"""Task pods are confined by policy: a TaskRun asking for more than the operator's Pod Security Standards
level or its ServiceAccount allow-list fails with InvalidSpec naming the field and the level, and gets no pod.

The default level is ``restricted`` and no ServiceAccount may be named, so these run against the operator any
cluster has with the chart's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubetask_local.testing import Cluster

from .conftest import StartOperator, TaskRuns, condition, create_namespace_with_tasks

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param(
            {"podTemplate": {"securityContext": {"privileged": True, "runAsUser": 0}}},
            "spec.podTemplate.securityContext.privileged",
            id="privileged-root",
        ),
        pytest.param(
            {"podTemplate": {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}},
            "spec.podTemplate.securityContext.capabilities.add[0]",
            id="sys-admin",
        ),
        pytest.param(
            {
                "podTemplate": {
                    "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                    "volumeMounts": [{"name": "root", "mountPath": "/host"}],
                }
            },
            "spec.podTemplate.volumes[1].hostPath",  # [0] is the tests' own task-code volume
            id="host-path",
        ),
        pytest.param({"serviceAccountName": "default"}, "spec.serviceAccountName", id="service-account"),
    ],
)
def test_a_taskrun_asking_for_more_than_the_policy_fails_with_invalid_spec(
    taskruns: TaskRuns, spec: dict[str, Any], field: str
) -> None:
    taskruns.create("greedy", "add", inputs={"a": 1, "b": 2}, **spec)
    status = taskruns.wait_finished("greedy", timeout=60)
    assert status["phase"] == "Failed", status
    found = condition(status)
    assert found["reason"] == "InvalidSpec", found
    assert found["message"].startswith(f"{field}: expected "), found["message"]
    if field != "spec.serviceAccountName":
        assert "level 'restricted'" in found["message"], found["message"]
    assert not taskruns.pods("greedy"), "a refused TaskRun never gets a pod"


def test_storage_is_confined_to_the_taskruns_namespace(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator, tmp_path: Path
) -> None:
    # The local node runs pods as local processes, so a storage prefix that is a local folder is shared by
    # every namespace's pods, as one bucket with one credential would be on a real cluster.
    cluster = local_cluster_factory(operator=False)
    storage = tmp_path / "storage"
    victim, attacker = (create_namespace_with_tasks(cluster, name) for name in ("team-a", "team-b"))
    start_operator(cluster, KUBETASK_STORAGE_PREFIX=str(storage))
    victim.create("add", "add", inputs={"a": 1, "b": 2})
    assert victim.wait_finished("add", timeout=60)["phase"] == "Succeeded"
    victims_outputs = storage / "team-a" / "add" / "1" / "outputs.json"
    assert victims_outputs.is_file()
    before = victims_outputs.read_bytes()

    attacker.create(
        "overwrite", "add", inputs={"a": 40, "b": 2}, outputPrefix=str(storage / "team-a" / "add")
    )
    attacker.create("read", "add", inputsFrom=str(victims_outputs))
    attacker.create("escape", "add", inputs={"a": 1, "b": 1}, outputPrefix=f"{storage}/team-b/../team-a/add")
    for name, field in (("overwrite", "outputPrefix"), ("read", "inputsFrom"), ("escape", "outputPrefix")):
        status = attacker.wait_finished(name, timeout=60)
        assert status["phase"] == "Failed", status
        found = condition(status)
        assert found["reason"] == "InvalidSpec", found
        assert found["message"].startswith(f"spec.{field}: expected a URI under '{storage}/team-b/'"), found
        assert not attacker.pods(name)
    assert victims_outputs.read_bytes() == before

    attacker.create("own", "add", inputs={"a": 2, "b": 3}, outputPrefix=f"{storage}/team-b/mine")
    assert attacker.wait_finished("own", timeout=60)["outputs"] == {"o0": 5}
    assert (storage / "team-b" / "mine" / "1" / "outputs.json").is_file()
