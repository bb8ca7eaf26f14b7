"""A lost node's pods are evicted when their own toleration of the ``node.kubernetes.io/unreachable``
NoExecute taint ends, as the taint-eviction controller does.

Sources: pkg/controller/tainteviction/taint_eviction.go (``processPodOnNode``: an untolerated NoExecute
taint evicts at once; otherwise after ``getMinTolerationTime`` of the matching tolerations -- the smallest
``tolerationSeconds``, <= 0 being at once, none set being never);
plugin/pkg/admission/defaulttolerationseconds (every pod tolerates the taint for 300 s unless it says
otherwise). The local clock is compressed: the node's
``pod_eviction_timeout`` (3 s by default) stands for the default 300 s, and other tolerations scale with it.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubetask_local.testing import Cluster, wait_for

pytestmark = pytest.mark.e2e

UNREACHABLE = "node.kubernetes.io/unreachable"


def _sleeper(name: str, tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "main",
                "image": "python:3.12-slim",
                "command": ["python", "-c", "import time; time.sleep(300)"],
            }
        ],
    }
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def _deleted_at(cluster: Cluster, name: str) -> str | None:
    pod = cluster.kubectl_json("get", "pod", name)
    deleted: str | None = pod["metadata"].get("deletionTimestamp")
    return deleted


def test_each_pod_leaves_a_lost_node_when_its_own_toleration_ends(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False)
    tolerate = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
    cluster.apply(_sleeper("at-once", [{**tolerate, "tolerationSeconds": 0}]))
    cluster.apply(_sleeper("default"))  # 300 s from DefaultTolerationSeconds admission
    cluster.apply(_sleeper("patient", [{**tolerate, "tolerationSeconds": 30000}]))  # 100x the default
    assert {
        t["key"]: t["tolerationSeconds"]
        for t in cluster.kubectl_json("get", "pod", "default")["spec"]["tolerations"]
    } == {"node.kubernetes.io/not-ready": 300, UNREACHABLE: 300}

    def running() -> bool:
        phases = {
            cluster.kubectl_json("get", "pod", n)["status"].get("phase")
            for n in ("at-once", "default", "patient")
        }
        return phases == {"Running"}

    wait_for(running, 60, "the three pods to run")
    cluster.stop_node()
    default_deleted = wait_for(lambda: _deleted_at(cluster, "default"), 60, "the default pod's eviction")
    at_once_deleted = _deleted_at(cluster, "at-once")
    assert at_once_deleted is not None
    assert at_once_deleted <= default_deleted
    # 100 times the default toleration: still on the node when the default one has gone.
    assert _deleted_at(cluster, "patient") is None
