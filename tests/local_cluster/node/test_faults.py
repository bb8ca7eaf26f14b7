"""The node keeps working through API faults a real cluster has: failed writes (500/429/409 on its status
patches), failed lists and watches, and watch streams cut mid-stream."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask_local.testing import Cluster, wait_for

pytestmark = pytest.mark.e2e


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "main", "image": "python:3.12-slim", "command": ["python", "-c", f"print('{name}')"]}
            ],
        },
    }


def _succeeded(cluster: Cluster, names: list[str]) -> bool:
    phases = {
        p["metadata"]["name"]: p.get("status", {}).get("phase")
        for p in cluster.kubectl_json("get", "pods")["items"]
    }
    return all(phases.get(name) == "Succeeded" for name in names)


def test_status_writes_that_fail_are_retried(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False)
    # Only PATCH fails: the node's status writes and node heartbeats; kubectl's reads and creates pass.
    cluster.set_faults(error_rate=0.5, statuses=[500, 429, 409], methods=["PATCH"], retry_after=0, seed=7)
    names = [f"patched-{i}" for i in range(3)]
    for name in names:
        cluster.apply(_pod(name))
    wait_for(lambda: _succeeded(cluster, names), 60, "pods to succeed despite failing status writes")
    assert cluster.admin("GET", "faults")["injected"] > 0
    assert cluster.kubectl("logs", "patched-0").stdout == "patched-0\n"


def test_failing_lists_and_dropped_watches_are_recovered(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False)
    # The node lists and watches pods cluster-wide (/api/v1/pods); kubectl works in a namespace.
    cluster.set_faults(
        error_rate=0.5,
        statuses=[500, 429],
        path_prefix="/api/v1/pods",
        watch_drop_after=0.3,
        retry_after=0,
        seed=3,
    )
    names = [f"watched-{i}" for i in range(3)]
    for name in names:
        cluster.apply(_pod(name))
    wait_for(lambda: _succeeded(cluster, names), 60, "pods to succeed despite failing watches")
    assert cluster.drop_watches() >= 0
    cluster.reset_faults()
    cluster.apply(_pod("after"))
    wait_for(lambda: _succeeded(cluster, ["after"]), 30, "a pod after the faults stopped")
