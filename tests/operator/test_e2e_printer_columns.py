"""``kubectl get ktr`` shows only what the operator wrote: a TaskRun no operator acts on shows no phase,
reason, attempts or start. The kube-apiserver renders a column whose JSONPath finds nothing as an empty cell
(kubernetes/kubernetes staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresource/
tableconvertor/tableconvertor.go)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubetask_local.testing import Cluster

from .conftest import create_namespace_with_tasks, taskrun_manifest

pytestmark = pytest.mark.e2e

PHASES = ("Pending", "Running", "Retrying", "Succeeded", "Failed", "Cancelled")


def test_a_taskrun_no_operator_acts_on_shows_no_phase(local_cluster_factory: Callable[..., Cluster]) -> None:
    cluster = local_cluster_factory(operator=False)
    create_namespace_with_tasks(cluster, "unwatched")
    manifest = taskrun_manifest("ignored", "add", inputs={"a": 1, "b": 2})
    # A status in the body is not the operator's either: the status subresource makes the API server drop it.
    manifest["status"] = {"phase": "Succeeded", "attemptCount": 1}
    cluster.apply(manifest, namespace="unwatched")
    table = cluster.kubectl("get", "ktr", "ignored", "-n", "unwatched", "-o", "wide").stdout.splitlines()
    header, row = table[0].split(), table[1].split()
    assert header[:4] == ["NAME", "PHASE", "REASON", "ATTEMPTS"], table
    assert row[0] == "ignored"
    assert not set(row) & set(PHASES), table
