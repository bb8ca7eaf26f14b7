"""Task pods are confined by policy: a TaskRun asking for more than the operator's Pod Security Standards
level or its ServiceAccount allow-list fails with InvalidSpec naming the field and the level, and gets no pod.

The default level is ``restricted`` and no ServiceAccount may be named, so these run against the operator any
cluster has with the chart's defaults.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import TaskRuns, condition

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
