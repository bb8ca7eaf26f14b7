"""What must never start: TaskRuns the API server refuses by the CRD's schema, specs the operator refuses
(InvalidSpec), images that cannot be pulled and containers that cannot be configured."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask_local.testing import Cluster, KubectlError

from .conftest import TaskRuns, condition, taskrun_manifest

pytestmark = pytest.mark.e2e


def _without(spec: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in spec.items() if key not in keys}


REFUSED = [
    pytest.param(
        lambda s: s | {"loaderArgs": ["a"]},
        "exactly one of spec.task and spec.loaderArgs",
        id="task-and-loader-args",
    ),
    pytest.param(lambda s: _without(s, "task"), "exactly one of spec.task and spec.loaderArgs", id="neither"),
    pytest.param(lambda s: _without(s, "image"), "spec.image", id="no-image"),
    pytest.param(lambda s: s | {"retries": -1}, "spec.retries", id="negative-retries"),
    pytest.param(lambda s: s | {"retries": "3"}, "spec.retries", id="retries-not-an-integer"),
    pytest.param(lambda s: s | {"timeout": "5 minutes"}, "spec.timeout", id="timeout-not-a-duration"),
    pytest.param(lambda s: s | {"timeout": "0s"}, "spec.timeout must be longer than zero", id="timeout-zero"),
    pytest.param(
        lambda s: s | {"timeout": "0h0m0.0s"},
        "spec.timeout must be longer than zero",
        id="timeout-zero-parts",
    ),
    pytest.param(
        lambda s: s | {"pendingTimeout": "0ms"},
        "spec.pendingTimeout must be longer than zero",
        id="pending-timeout-zero",
    ),
    pytest.param(
        lambda s: s | {"inputs": {"a": 1}, "inputsFrom": "s3://b/in.json"},
        "at most one of spec.inputs and spec.inputsFrom",
        id="inputs-and-inputs-from",
    ),
    pytest.param(
        lambda s: s | {"imagePullPolicy": "Sometimes"}, "spec.imagePullPolicy", id="pull-policy-enum"
    ),
    pytest.param(
        lambda s: s | {"backoff": {"initialSeconds": 60, "maxSeconds": 5}},
        "spec.backoff.maxSeconds",
        id="backoff-max-below-initial",
    ),
    pytest.param(
        lambda s: s | {"task": {"module": "my module", "name": "t"}},
        "spec.task.module",
        id="module-not-dotted",
    ),
]


@pytest.mark.parametrize(("change", "message"), REFUSED)
def test_the_schema_refuses_a_bad_taskrun_naming_the_field(
    cluster: Cluster, namespace: str, change: Any, message: str
) -> None:
    manifest = taskrun_manifest("bad", "add", inputs=None)
    manifest["spec"] = change(manifest["spec"])
    with pytest.raises(KubectlError) as refused:
        cluster.apply(manifest, namespace=namespace)
    assert message in str(refused.value)
    assert not cluster.kubectl_json("get", "taskruns", "-n", namespace)["items"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        pytest.param('{"spec": {"image": "other:2"}}', "spec.image is immutable", id="image"),
        pytest.param('{"spec": {"retries": 5}}', "immutable", id="add-a-field"),
        pytest.param('{"spec": {"inputs": {"a": 9, "b": 9}}}', "spec.inputs is immutable", id="inputs"),
    ],
)
def test_spec_is_immutable_after_creation_except_cancelled(
    taskruns: TaskRuns, patch: str, message: str
) -> None:
    taskruns.create("fixed", "add", inputs={"a": 1, "b": 2}, ttlSecondsAfterFinished=600)
    with pytest.raises(KubectlError) as refused:
        taskruns.patch("fixed", patch)
    assert message in str(refused.value)


def test_cancelled_cannot_be_undone(taskruns: TaskRuns) -> None:
    taskruns.create("undo", "sleep", inputs={"seconds": 60}, cancelled=True)
    assert taskruns.wait_finished("undo")["phase"] == "Cancelled"
    assert not taskruns.pods("undo"), "a TaskRun cancelled from the start never gets a pod"
    with pytest.raises(KubectlError) as refused:
        taskruns.patch("undo", '{"spec": {"cancelled": false}}')
    assert "cannot be undone" in str(refused.value)


def test_a_spec_the_schema_lets_through_fails_with_invalid_spec(taskruns: TaskRuns) -> None:
    taskruns.create(
        "reserved",
        "add",
        inputs={"a": 1, "b": 2},
        podTemplate={"volumes": [{"name": "kubetask-scratch", "emptyDir": {}}]},
    )
    status = taskruns.wait_finished("reserved")
    assert status["phase"] == "Failed"
    assert condition(status)["reason"] == "InvalidSpec"
    assert "spec.podTemplate.volumes" in condition(status)["message"]
    assert not taskruns.pods("reserved")


def test_an_image_that_cannot_be_pulled_fails_after_the_grace_period(
    taskruns: TaskRuns, cluster: Cluster
) -> None:
    image = "registry.invalid/kubetask/missing:1.0"
    if cluster.is_local:
        cluster.set_failing_images([image])
    taskruns.create("nopull", "add", inputs={"a": 1, "b": 2}, image=image, retries=2)
    status = taskruns.wait_finished("nopull", timeout=60)
    assert status["phase"] == "Failed", status
    assert condition(status)["reason"] == "ImagePullFailed"
    (attempt,) = status["attempts"]
    assert "ImagePull" in attempt["message"] or "ErrImagePull" in attempt["message"]


def test_an_invalid_image_name_fails_at_once(taskruns: TaskRuns) -> None:
    taskruns.create("badname", "add", inputs={"a": 1, "b": 2}, image="Registry/UPPER:case")
    status = taskruns.wait_finished("badname")
    assert status["phase"] == "Failed", status
    assert condition(status)["reason"] == "InvalidImageName"


def test_a_missing_secret_fails_with_create_container_config_error(taskruns: TaskRuns) -> None:
    taskruns.create("nosecret", "add", inputs={"a": 1, "b": 2}, envFrom=[{"secretRef": {"name": "absent"}}])
    status = taskruns.wait_finished("nosecret", timeout=60)
    assert status["phase"] == "Failed", status
    assert condition(status)["reason"] == "CreateContainerConfigError"
    assert "absent" in condition(status)["message"]


def test_running_out_of_memory_is_reported_as_oom_killed(taskruns: TaskRuns) -> None:
    taskruns.create("hog", "hog", inputs={"megabytes": 400}, resources={"limits": {"memory": "128Mi"}})
    status = taskruns.wait_finished("hog", timeout=60)
    assert status["phase"] == "Failed", status
    assert condition(status)["reason"] == "OOMKilled"
    assert status["attempts"][0]["errorKind"] == "USER"


def test_an_unschedulable_pod_fails_after_the_pending_timeout_saying_why(taskruns: TaskRuns) -> None:
    taskruns.create(
        "nowhere",
        "add",
        inputs={"a": 1, "b": 2},
        pendingTimeout="2s",
        podTemplate={"nodeSelector": {"kubetask.dev/no-such-node": "true"}},
    )
    status = taskruns.wait_finished("nowhere", timeout=30)
    assert status["phase"] == "Failed", status
    assert condition(status)["reason"] == "Unschedulable", status
    assert "pendingTimeout" in condition(status)["message"]
    assert "nodes are available" in condition(status)["message"], "it says why it could not be scheduled"
    assert not taskruns.pods("nowhere"), "a pod that never started is removed"
