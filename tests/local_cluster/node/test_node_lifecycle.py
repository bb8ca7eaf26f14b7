"""The node itself: its Node object and Ready condition, a lost node (stopped: Ready Unknown, its pods marked
not ready, then deleted by the taint-eviction controller), a node that comes back, and the fast mode.
Each test that changes the node uses a private cluster."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from kubetask_local.testing import Cluster, wait_for

pytestmark = pytest.mark.e2e

SLEEPER = "import os, time; open('/marks/pid', 'w').write(str(os.getpid())); time.sleep(120)"


def _pod(name: str, code: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": "python:3.12-slim",
                    "command": ["python", "-c", code],
                    **(
                        {"volumeMounts": [{"name": "marks", "mountPath": "/marks"}]}
                        if "volumes" in spec
                        else {}
                    ),
                }
            ],
            **spec,
        },
    }


def _ready(cluster: Cluster) -> str:
    node = cluster.kubectl_json("get", "node", "kubetask-local")
    return str(next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"])


def _phase(cluster: Cluster, name: str) -> Any:
    return cluster.kubectl_json("get", "pod", name)["status"].get("phase")


def _process_alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except ProcessLookupError:
        return False
    return True


def test_the_node_registers_ready_with_its_labels(cluster: Cluster) -> None:
    nodes = cluster.kubectl_json("get", "nodes")["items"]
    assert nodes
    if not cluster.is_local:
        return
    node = next(n for n in nodes if n["metadata"]["name"] == "kubetask-local")
    assert node["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "kubetask-local"
    assert _ready(cluster) == "True"
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
    assert int(node["status"]["capacity"]["pods"]) > 0
    assert "kubetask-local" in cluster.kubectl("get", "nodes").stdout


NODE_LEASES = "kube-node-lease"


def test_the_node_holds_and_renews_its_lease(cluster: Cluster) -> None:
    if not cluster.is_local:  # a real cluster's nodes have leases too, under other names
        pytest.skip("the node name and heartbeat timing are the local node's")

    def lease() -> dict[str, Any]:
        found: dict[str, Any] = cluster.kubectl_json("get", "lease", "-n", NODE_LEASES, "kubetask-local")
        return found

    first = lease()
    assert first["spec"]["holderIdentity"] == "kubetask-local"
    assert first["metadata"]["ownerReferences"][0]["kind"] == "Node"
    described = cluster.kubectl("describe", "node", "kubetask-local").stdout
    assert "Failed to get lease" not in described
    assert "HolderIdentity:  kubetask-local" in described
    wait_for(lambda: lease()["spec"]["renewTime"] > first["spec"]["renewTime"], 20, "the lease to be renewed")


def test_a_lost_node_turns_unknown_and_its_pods_are_evicted_as_the_control_plane_does(
    local_cluster_factory: Any, tmp_path: Path
) -> None:
    # pkg/controller/nodelifecycle (Ready Unknown, unreachable taints, MarkPodsNotReady + NodeNotReady event)
    # and pkg/controller/tainteviction (TaintManagerEviction event, DisruptionTarget DeletionByTaintManager,
    # delete). No controller fails the pod or writes reason NodeLost: it stays Terminating with its phase
    # until a kubelet (the node coming back) confirms its end.
    cluster = local_cluster_factory(operator=False)
    cluster.apply(_pod("victim", SLEEPER, volumes=[{"name": "marks", "hostPath": {"path": str(tmp_path)}}]))
    wait_for(
        lambda: _phase(cluster, "victim") == "Running" and (tmp_path / "pid").exists(), 30, "victim running"
    )
    assert cluster.stop_node()["running"] is False
    assert not _process_alive(tmp_path / "pid")  # a dead node's processes are gone
    wait_for(lambda: _ready(cluster) == "Unknown", 30, "the node's Ready condition to turn Unknown")
    taints = cluster.kubectl_json("get", "node", "kubetask-local")["spec"]["taints"]
    unreachable = {t["effect"] for t in taints if t["key"] == "node.kubernetes.io/unreachable"}
    assert unreachable == {"NoSchedule", "NoExecute"}

    def evicted() -> dict[str, Any] | None:
        pod: dict[str, Any] = cluster.kubectl_json("get", "pod", "victim")
        return pod if pod["metadata"].get("deletionTimestamp") else None

    pod = wait_for(evicted, 30, "the pod on the lost node to be deleted by the taint-eviction controller")
    status = pod["status"]
    assert (status["phase"], status.get("reason")) == ("Running", None)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    disruption = conditions["DisruptionTarget"]
    assert (disruption["status"], disruption["reason"], disruption["message"]) == (
        "True",
        "DeletionByTaintManager",
        "Taint manager: deleting due to NoExecute taint",
    )
    events = cluster.kubectl_json("get", "events", "--field-selector", "involvedObject.name=victim")["items"]
    messages = {event["reason"]: event["message"] for event in events}
    assert messages["NodeNotReady"] == "Node is not ready"
    assert messages["TaintManagerEviction"] == "Marking for deletion Pod default/victim"
    # The node comes back: its kubelet finds the container gone and finishes the deletion.
    cluster.start_node()
    assert _ready(cluster) == "True"
    wait_for(
        lambda: (
            not cluster.kubectl("get", "pod", "victim", "--ignore-not-found", "-o", "name").stdout.strip()
        ),
        30,
        "the evicted pod to be removed once the node is back",
    )
    cluster.apply(_pod("after", "print('back')"))
    wait_for(lambda: _phase(cluster, "after") == "Succeeded", 30, "a new pod to run on the returned node")


def test_a_pod_tolerating_an_unreachable_node_stays_bound(local_cluster_factory: Any) -> None:
    # A NoExecute toleration without tolerationSeconds tolerates the taint forever (taint eviction controller:
    # getMinTolerationTime < 0 -> never evicted).
    cluster = local_cluster_factory(operator=False)
    forever = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]
    cluster.apply(_pod("patient", "import time; time.sleep(120)", tolerations=forever))
    cluster.apply(_pod("impatient", "import time; time.sleep(120)"))
    wait_for(lambda: _phase(cluster, "patient") == _phase(cluster, "impatient") == "Running", 30, "running")
    cluster.stop_node()
    wait_for(
        lambda: cluster.kubectl_json("get", "pod", "impatient")["metadata"].get("deletionTimestamp"),
        30,
        "the intolerant pod to be evicted",
    )
    patient = cluster.kubectl_json("get", "pod", "patient")
    assert not patient["metadata"].get("deletionTimestamp")
    assert "DisruptionTarget" not in {c["type"] for c in patient["status"]["conditions"]}


def test_a_node_restarted_before_eviction_reports_its_vanished_containers(
    local_cluster_factory: Any, tmp_path: Path
) -> None:
    cluster = local_cluster_factory(operator=False)
    cluster.apply(_pod("rebooted", SLEEPER, volumes=[{"name": "marks", "hostPath": {"path": str(tmp_path)}}]))
    wait_for(lambda: _phase(cluster, "rebooted") == "Running" and (tmp_path / "pid").exists(), 30, "running")
    cluster.stop_node()
    cluster.start_node()
    wait_for(lambda: _phase(cluster, "rebooted") == "Failed", 30, "the kubelet to report the lost container")
    terminated = cluster.kubectl_json("get", "pod", "rebooted")["status"]["containerStatuses"][0]["state"]
    assert terminated["terminated"]["reason"] == "ContainerStatusUnknown"


def test_fast_mode_completes_pods_without_running_them(local_cluster_factory: Any) -> None:
    summary = json.dumps({"outcome": "Succeeded", "outputs": {"o0": 1}})
    cluster = local_cluster_factory(
        operator=False, args=["--fast-exit-code", "0", "--fast-termination-message", summary]
    )
    cluster.apply(_pod("instant", "import sys; sys.exit(9)"))  # would fail if it ran
    wait_for(lambda: _phase(cluster, "instant") == "Succeeded", 30, "the pod to complete at once")
    terminated = cluster.kubectl_json("get", "pod", "instant")["status"]["containerStatuses"][0]["state"][
        "terminated"
    ]
    assert terminated["message"] == summary
    assert cluster.node_state()["fastMode"] == {"exitCode": 0, "terminationMessage": summary}
    cluster.set_fast_mode(exit_code=3, termination_message="boom")
    cluster.apply(_pod("instant-failure", "print('never')"))
    wait_for(lambda: _phase(cluster, "instant-failure") == "Failed", 30, "the pod to fail at once")
    cluster.clear_fast_mode()
    cluster.apply(_pod("real", "import sys; sys.exit(9)"))
    wait_for(lambda: _phase(cluster, "real") == "Failed", 30, "the pod to run for real again")
    state = cluster.kubectl_json("get", "pod", "real")["status"]["containerStatuses"][0]["state"][
        "terminated"
    ]
    assert state["exitCode"] == 9


def test_bad_admin_input_is_refused_with_a_clear_message(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False)
    with pytest.raises(AssertionError, match=r"400.*exitCode must be an integer from 0 to 255, got 'zero'"):
        cluster.admin("PUT", "node/fast-mode", {"exitCode": "zero"})
    with pytest.raises(AssertionError, match=r"unknown fast-mode fields \['speed'\]"):
        cluster.admin("PUT", "node/fast-mode", {"speed": 1})
