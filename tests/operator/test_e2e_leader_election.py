"""Two operators against one API: only the Lease holder acts; when it dies a standby takes over, and when it
stops cleanly it hands the Lease back so a standby need not wait for it to expire."""

from __future__ import annotations

import collections
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from kubetask_local.testing import Cluster, wait_for

from .conftest import OperatorProcess, StartOperator, create_namespace_with_tasks

pytestmark = pytest.mark.e2e

LEASE = "kubetask-operator"
LEASE_NAMESPACE = "default"


def _elected(
    start: StartOperator,
    cluster: Cluster,
    *,
    lease_duration: str = "4s",
    renew_deadline: str = "2s",
    liveness_port: int = 0,
) -> OperatorProcess:
    return start(
        cluster,
        KUBETASK_LIVENESS_PORT=str(liveness_port),
        KUBETASK_LEADER_ELECTION="true",
        KUBETASK_LEADER_ELECTION_NAMESPACE=LEASE_NAMESPACE,
        KUBETASK_LEADER_ELECTION_LEASE_DURATION=lease_duration,
        KUBETASK_LEADER_ELECTION_RENEW_DEADLINE=renew_deadline,
        KUBETASK_LEADER_ELECTION_RETRY_PERIOD="0.5s",
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _healthz(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except (urllib.error.URLError, ConnectionError):
        return None


def _lease(cluster: Cluster) -> dict[str, Any]:
    completed = cluster.kubectl("get", "lease", LEASE, "-n", LEASE_NAMESPACE, "-o", "json", check=False)
    return dict(json.loads(completed.stdout)["spec"]) if completed.returncode == 0 else {}


def _held_by_other_than(cluster: Cluster, *identities: str) -> dict[str, Any] | None:
    lease = _lease(cluster)
    holder = lease.get("holderIdentity")
    return lease if holder and holder not in identities else None


def test_only_the_leader_acts_and_a_standby_takes_over(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator
) -> None:
    cluster = local_cluster_factory(operator=False)
    taskruns = create_namespace_with_tasks(cluster, "election")

    first = _elected(start_operator, cluster)
    first_id = wait_for(lambda: _held_by_other_than(cluster), 30, "the first operator to take the Lease")[
        "holderIdentity"
    ]
    # The second holds the Lease for 60 s once it leads: a standby that takes over from it sooner can
    # only have found the Lease released.
    port = _free_port()
    second = _elected(start_operator, cluster, lease_duration="60s", renew_deadline="10s", liveness_port=port)
    wait_for(lambda: f"is held by {first_id}" in second.log(), 30, "the second operator to stand by")
    # A standby answers the liveness probe (else Kubernetes would restart it), saying it stands by.
    standby = wait_for(lambda: _healthz(port), 10, "the standby's /healthz")
    assert (standby["standby"], standby["leader"]) == (True, first_id)

    before = [taskruns.create(f"before-{i}", "sleep", inputs={"seconds": 2}) for i in range(3)]
    for name in before:
        taskruns.wait_phase(name, "Running", "Succeeded")
    assert "kubetask operator started" in first.log()
    assert "kubetask operator started" not in second.log(), "a standby must not handle TaskRuns"

    first.popen.kill()  # crashes without releasing: the standby waits for the Lease to expire
    first.popen.wait(timeout=10)
    after = [taskruns.create(f"after-{i}", "add", inputs={"a": i, "b": 1}) for i in range(2)]
    lease = wait_for(lambda: _held_by_other_than(cluster, first_id), 30, "the standby to take the Lease")
    second_id = lease["holderIdentity"]
    assert (lease["leaseTransitions"], lease["leaseDurationSeconds"]) == (1, 60)
    for name in before + after:
        assert taskruns.wait_finished(name, timeout=60)["phase"] == "Succeeded", name
    assert "kubetask operator started" in second.log()
    leading = wait_for(
        lambda: (answer := _healthz(port)) and "standby" not in answer and answer, 10, "the leader's /healthz"
    )
    assert "taskruns" in leading  # kopf's own endpoint, on the same port, once it leads

    pods = collections.Counter(
        (p["metadata"]["labels"]["kubetask.dev/taskrun"], p["metadata"]["labels"]["kubetask.dev/attempt"])
        for p in taskruns.pods()
    )
    assert pods == {(name, "1"): 1 for name in before + after}, "exactly one pod per attempt"

    third = _elected(start_operator, cluster)
    wait_for(lambda: f"is held by {second_id}" in third.log(), 30, "the third operator to stand by")
    assert second.stop() == 0
    assert "released Lease" in second.log()
    lease = wait_for(
        lambda: _held_by_other_than(cluster, first_id, second_id),
        20,
        "the third operator to take the released Lease (well before its 60 s would expire)",
    )
    assert lease["leaseTransitions"] == 2
    last = taskruns.create("last", "add", inputs={"a": 1, "b": 1})
    assert taskruns.wait_finished(last, timeout=30)["phase"] == "Succeeded"
    assert third.stop() == 0


def test_a_leader_that_cannot_renew_stops_and_exits_non_zero(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator
) -> None:
    cluster = local_cluster_factory(operator=False)
    leader = _elected(start_operator, cluster, lease_duration="4s", renew_deadline="2s")
    wait_for(lambda: "kubetask operator started" in leader.log(), 30, "the operator to lead")
    cluster.set_faults(
        error_rate=1.0, statuses=[500], methods=["PUT"], path_prefix="/apis/coordination.k8s.io/"
    )
    try:
        exit_code = wait_for(leader.popen.poll, 30, "the leader to exit when it cannot renew")
    finally:
        cluster.reset_faults()
    assert exit_code == 1
    assert "could not renew Lease default/kubetask-operator" in leader.log()
    assert "stopped serving so that only one operator acts" in leader.log()
