"""With KUBETASK_NAMESPACES the operator watches exactly those namespaces, and nothing else: no cluster
scanning (CRDs, namespaces), so it needs no rights beyond its own resources. As kopf then looks for the CRD
only once, an operator started before the CRD waits for it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubetask_local.testing import Cluster, wait_for
from kubetask_operator import load_crds

from .conftest import StartOperator, create_namespace_with_tasks

pytestmark = pytest.mark.e2e


def test_only_the_given_namespaces_are_watched_and_nothing_is_scanned(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator
) -> None:
    cluster = local_cluster_factory(operator=False)
    watched = [create_namespace_with_tasks(cluster, name) for name in ("team-a", "team-b")]
    ignored = create_namespace_with_tasks(cluster, "team-c")
    watches_without_operator = cluster.admin("GET", "stats")["watches"]

    operator = start_operator(cluster, KUBETASK_NAMESPACES="team-a,team-b")
    for taskruns in [*watched, ignored]:
        taskruns.create("add", "add", inputs={"a": 1, "b": 2})
    for taskruns in watched:
        assert taskruns.wait_finished("add", timeout=60)["phase"] == "Succeeded"
    # A TaskRun, a TaskMap, a TaskQueue and a pods watch per watched namespace; with scanning kopf would
    # add a watch of CRDs and one of namespaces (which a namespaced install has no rights to).
    assert cluster.admin("GET", "stats")["watches"] - watches_without_operator == 4 * len(watched)
    assert ignored.status("add") == {}
    assert ignored.pods() == []
    assert "kubetask operator started: namespaces team-a, team-b" in operator.log()
    assert "permission" not in operator.log().lower()


def test_an_operator_started_before_the_crd_waits_for_it(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator
) -> None:
    cluster = local_cluster_factory(operator=False)
    cluster.kubectl(
        "delete", "crd", "taskruns.kubetask.dev", "taskmaps.kubetask.dev", "taskqueues.kubetask.dev"
    )
    wait_for(
        lambda: cluster.kubectl("get", "--raw", "/apis/kubetask.dev/v1alpha1", check=False).returncode,
        30,
        "TaskRuns to be no longer served",
    )
    operator = start_operator(cluster)
    wait_for(lambda: "waiting for the CRD" in operator.log(), 30, "the operator to wait for the CRD")
    for crd in reversed(load_crds()):  # TaskRuns last: the operator starts once TaskRuns are served
        cluster.apply(crd)
    taskruns = create_namespace_with_tasks(cluster, "late-crd")
    wait_for(
        lambda: cluster.kubectl("get", "taskruns", "-A", check=False).returncode == 0, 30, "TaskRuns served"
    )
    taskruns.create("add", "add", inputs={"a": 1, "b": 2})
    assert taskruns.wait_finished("add", timeout=60)["phase"] == "Succeeded"
    assert "kubetask operator started" in operator.log()
