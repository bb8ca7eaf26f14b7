"""Images and placement as a kubelet and scheduler report them: simulated pull failures (ErrImagePull
then ImagePullBackOff, again and again), InvalidImageName,
and Unschedulable pods (node selector, affinity, taints)."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask_local.testing import wait_for

pytestmark = pytest.mark.e2e


def test_an_image_that_cannot_be_pulled_alternates_err_image_pull_and_back_off(pods: Any) -> None:
    # A registry under the reserved .invalid domain never resolves, on the local node as anywhere.
    pods.create("nopull", {"name": "main", "image": "registry.invalid/team/app:1.0", "command": ["true"]})
    # ErrImagePull is shown for a moment after each failed pull (polling may miss it): its Failed event stays.
    pod = pods.wait(
        "nopull",
        lambda p: pods.state(p).get("waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff"),
        "a failed pull",
    )
    assert "registry.invalid/team/app:1.0" in pods.state(pod)["waiting"]["message"]
    pod = pods.waiting_reason("nopull", "ImagePullBackOff")
    assert pod["status"]["phase"] == "Pending"
    assert pods.state(pod)["waiting"]["message"].startswith(
        'Back-off pulling image "registry.invalid/team/app:1.0"'
    )

    def retried() -> list[str] | None:
        events = pods.events("nopull")
        reasons = [event["reason"] for event in events]
        # Identical events are aggregated into one with a count, as client-go's EventCorrelator does.
        failed = sum(event.get("count") or 1 for event in events if event["reason"] == "Failed")
        return reasons if failed >= 2 and "BackOff" in reasons else None

    reasons = wait_for(retried, 30, "a second pull attempt after a back-off")
    assert "Started" not in reasons


def test_a_malformed_image_name_is_invalid_image_name(pods: Any) -> None:
    pods.create("badname", {"name": "main", "image": "Not//A:Valid::Image", "command": ["true"]})
    pod = pods.waiting_reason("badname", "InvalidImageName")
    assert "invalid reference format" in pods.state(pod)["waiting"]["message"]
    assert pod["status"]["phase"] == "Pending"


def test_images_chosen_to_fail_fail_on_a_private_cluster(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False, args=["--fail-image", "ghcr.io/acme/broken"])
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "broken", "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "ghcr.io/acme/broken:2", "command": ["true"]}],
        },
    }
    cluster.apply(manifest)

    def reason() -> Any:
        statuses = cluster.kubectl_json("get", "pod", "broken")["status"].get("containerStatuses") or []
        waiting = statuses[0]["state"].get("waiting", {}) if statuses else {}
        return waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff")

    wait_for(reason, 30, "a failed pull of an image listed with --fail-image")
    assert cluster.set_failing_images([])["failingImages"] == []
    wait_for(
        lambda: cluster.kubectl_json("get", "pod", "broken")["status"].get("phase") == "Succeeded",
        30,
        "the pod to run once its image pulls again",
    )


@pytest.mark.parametrize(
    "placement",
    [
        pytest.param({"nodeSelector": {"disktype": "ssd"}}, id="node-selector"),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            id="node-affinity",
        ),
    ],
)
def test_a_pod_that_fits_no_node_is_unschedulable(pods: Any, placement: dict[str, Any]) -> None:
    pods.create("nowhere", pods.container("print(1)"), **placement)
    pod = pods.wait(
        "nowhere",
        lambda p: pods.condition(p, "PodScheduled").get("reason") == "Unschedulable",
        "Unschedulable",
    )
    scheduled = pods.condition(pod, "PodScheduled")
    assert scheduled["status"] == "False"
    assert "didn't match Pod's node affinity/selector" in scheduled["message"]
    assert pod["status"]["phase"] == "Pending"
    assert not pod["spec"].get("nodeName")
    # No kubelet has the pod, so nothing reports its containers or a start: kubectl shows STATUS Pending, not
    # ContainerCreating (the scheduler writes only the PodScheduled condition: pkg/scheduler/schedule_one.go,
    # handleSchedulingFailure; kubectl's printPod shows the phase when there are no container states).
    assert "containerStatuses" not in pod["status"]
    assert "startTime" not in pod["status"]
    columns = pods.cluster.kubectl(
        "get", "pod", "nowhere", "-n", pods.namespace, "--no-headers"
    ).stdout.split()
    assert columns[2] == "Pending"


def test_a_pod_matching_the_node_labels_runs(pods: Any) -> None:
    pods.create("linux", pods.container("print(1)"), nodeSelector={"kubernetes.io/os": "linux"})
    pods.wait_phase("linux", "Succeeded")


def test_taints_keep_pods_away_unless_tolerated(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False, args=["--node-taint", "dedicated=gpu:NoSchedule"])

    def pod(name: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "main", "image": "python:3.12-slim", "command": ["python", "-c", "print(1)"]}
                ],
                **spec,
            },
        }

    cluster.apply(pod("intolerant"))
    cluster.apply(
        pod(
            "tolerant",
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
        )
    )
    wait_for(
        lambda: cluster.kubectl_json("get", "pod", "tolerant")["status"].get("phase") == "Succeeded",
        30,
        "the tolerating pod to run",
    )
    conditions = cluster.kubectl_json("get", "pod", "intolerant")["status"]["conditions"]
    scheduled = next(c for c in conditions if c["type"] == "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert "untolerated taint {dedicated: gpu}" in scheduled["message"]
    node = cluster.kubectl_json("get", "node", "kubetask-local")
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]


def test_scheduling_gates_keep_a_pod_unscheduled_until_removed(pods: Any) -> None:
    # https://kubernetes.io/docs/concepts/scheduling-eviction/pod-scheduling-readiness/ : a pod with
    # schedulingGates stays Pending, PodScheduled False with reason SchedulingGated
    # (pkg/registry/core/pod/strategy.go, applySchedulingGatedCondition), until its gates are removed.
    gates = [{"name": "example.com/quota"}, {"name": "example.com/other"}]
    pods.create("gated", pods.container("print('ran')"), schedulingGates=gates)
    pod = pods.wait(
        "gated", lambda p: pods.condition(p, "PodScheduled").get("reason") == "SchedulingGated", "gated"
    )
    assert pods.condition(pod, "PodScheduled")["message"] == (
        "Scheduling is blocked due to non-empty scheduling gates"
    )
    # A pod created after it runs to the end while the gated one is still held back.
    pods.create("ungated", pods.container("print('ran')"))
    pods.wait_phase("ungated", "Succeeded")
    pod = pods.get("gated")
    assert not pod["spec"].get("nodeName")
    assert (pod["status"]["phase"], pod["status"].get("containerStatuses")) == ("Pending", None)
    remove_one = '[{"op": "remove", "path": "/spec/schedulingGates/0"}]'
    pods.cluster.kubectl("patch", "pod", "gated", "-n", pods.namespace, "--type=json", "-p", remove_one)
    pods.create("ungated-2", pods.container("print('ran')"))
    pods.wait_phase("ungated-2", "Succeeded")
    assert not pods.get("gated")["spec"].get("nodeName")  # one gate left
    remove_last = '[{"op": "remove", "path": "/spec/schedulingGates"}]'
    pods.cluster.kubectl("patch", "pod", "gated", "-n", pods.namespace, "--type=json", "-p", remove_last)
    pod = pods.wait_phase("gated", "Succeeded", timeout=60)
    assert pods.condition(pod, "PodScheduled")["status"] == "True"
    assert pods.logs("gated") == "ran\n"
