"""``spec.podTemplateName``: a PodTemplate of the namespace goes under the TaskRun's own fields, so people who
run tasks pick pod settings by name; a name that matches no PodTemplate fails the TaskRun at once."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask_local.testing import Cluster

from .conftest import IMAGE, TASKS_MOUNT, TaskRuns, condition

pytestmark = pytest.mark.e2e


def _taskrun(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": {"image": IMAGE, "task": {"module": "optasks", "name": "add"}, **spec},
    }


def test_a_taskrun_runs_with_what_its_pod_template_gives(cluster: Cluster, taskruns: TaskRuns) -> None:
    # The task's code reaches the pod only through the template: its volume, mount and PYTHONPATH.
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": "with-tasks"},
            "template": {
                "metadata": {"labels": {"from-template": "yes"}},
                "spec": {
                    "volumes": [{"name": "tests", "configMap": {"name": "optasks"}}],
                    "containers": [
                        {
                            "name": "base",
                            "image": "ignored",
                            "env": [
                                {"name": "PYTHONPATH", "value": TASKS_MOUNT},
                                {"name": "CHOSEN_BY", "value": "template"},
                            ],
                            "volumeMounts": [{"name": "tests", "mountPath": TASKS_MOUNT}],
                        }
                    ],
                },
            },
        },
        namespace=taskruns.namespace,
    )
    taskrun = _taskrun(
        "templated",
        podTemplateName="with-tasks",
        inputs={"a": 2, "b": 3},
        env=[{"name": "CHOSEN_BY", "value": "taskrun"}],
    )
    cluster.apply(taskrun, namespace=taskruns.namespace)
    status = taskruns.wait_finished("templated", timeout=120)
    assert status["phase"] == "Succeeded", status
    assert status["outputs"] == {"o0": 5}
    (pod,) = taskruns.pods("templated")
    assert pod["metadata"]["labels"]["from-template"] == "yes"
    (container,) = pod["spec"]["containers"]
    env = [(e["name"], e.get("value")) for e in container["env"]]
    assert ("CHOSEN_BY", "taskrun") in env
    assert ("CHOSEN_BY", "template") not in env


def test_a_missing_pod_template_fails_the_taskrun_naming_it(cluster: Cluster, taskruns: TaskRuns) -> None:
    cluster.apply(_taskrun("orphan", podTemplateName="no-such-template"), namespace=taskruns.namespace)
    status = taskruns.wait_finished("orphan", timeout=60)
    assert status["phase"] == "Failed", status
    found = condition(status)
    assert found["reason"] == "InvalidSpec", found
    assert found["message"] == (
        f"spec.podTemplateName: expected the name of a PodTemplate in namespace {taskruns.namespace!r}, "
        "got 'no-such-template', which does not exist there"
    )
    assert not taskruns.pods("orphan")
