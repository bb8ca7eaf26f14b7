"""A running (standalone) operator serves its liveness endpoint and its Prometheus metrics over real HTTP,
and the metrics count what it really did."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from kubetask_local.testing import Cluster, wait_for

from .conftest import StartOperator, create_namespace_with_tasks

pytestmark = pytest.mark.e2e

# One sample of the Prometheus text format: name, optional {label="value",...}, a number.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? (\S+)$')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str, str] | None:
    """Status, content type and body, or None while nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None


def _samples(text: str) -> dict[str, float]:
    """Samples by name and labels (``name{a="1",b="2"}``, labels sorted, as prometheus-client writes)."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        samples[match[1] + (match[2] or "")] = float(match[3])
    return samples


def test_healthz_and_metrics_answer_on_a_running_operator(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator
) -> None:
    cluster = local_cluster_factory(operator=False)
    taskruns = create_namespace_with_tasks(cluster, "observed")
    liveness, metrics = _free_port(), _free_port()
    operator = start_operator(
        cluster, KUBETASK_LIVENESS_PORT=str(liveness), KUBETASK_METRICS_PORT=str(metrics)
    )
    status, content_type, body = wait_for(
        lambda: _get(f"http://127.0.0.1:{liveness}/healthz"), 30, "the liveness endpoint to answer"
    )
    assert status == 200, body
    assert content_type.startswith("application/json")
    assert json.loads(body) == {"taskruns": 0}, "the probe reports the TaskRuns in progress"

    taskruns.create("good", "add", inputs={"a": 1, "b": 2})
    taskruns.create("bad", "fail")
    taskruns.create("stopped", "sleep", inputs={"seconds": 60})
    taskruns.wait_phase("stopped", "Running")
    taskruns.patch("stopped", '{"spec": {"cancelled": true}}')
    phases = {name: taskruns.wait_finished(name, timeout=60)["phase"] for name in ("good", "bad", "stopped")}
    assert phases == {"good": "Succeeded", "bad": "Failed", "stopped": "Cancelled"}, operator.log()

    scraped = _get(f"http://127.0.0.1:{metrics}/metrics")
    assert scraped is not None
    status, content_type, body = scraped
    assert status == 200
    assert content_type.startswith("text/plain")
    samples = _samples(body)
    for phase in ("Succeeded", "Failed", "Cancelled"):
        assert samples[f'kubetask_taskruns_finished_total{{phase="{phase}"}}'] == 1, body
    assert samples["kubetask_pods_created_total"] == 3
    assert samples["kubetask_pods_stopped_total"] == 1
    assert samples["kubetask_taskruns_active"] == 0
    assert samples['kubetask_api_requests_total{resource="pods",verb="POST"}'] == 3
    assert samples["kubetask_status_updates_total"] >= 6, "at least a start and an end per TaskRun"
    assert samples["kubetask_reconciles_total"] >= samples["kubetask_status_updates_total"]
    assert samples["kubetask_reconcile_errors_total"] == 0, body
    assert samples["kubetask_leader"] == 1, "no leader election: this operator acts"
    assert not [name for name in samples if 'resource="v1alpha1"' in name], body
    assert samples['kubetask_api_requests_total{resource="taskruns/status",verb="PATCH"}'] >= 6, body
    # Histograms of what users chart: each TaskRun observed once.
    assert samples["kubetask_taskrun_creation_to_pod_seconds_count"] == 3, body
    assert samples["kubetask_taskrun_creation_to_running_seconds_count"] == 3, body
    for phase in ("Succeeded", "Failed", "Cancelled"):
        assert samples[f'kubetask_taskrun_duration_seconds_count{{phase="{phase}"}}'] == 1, body
    assert samples["kubetask_reconcile_duration_seconds_count"] == samples["kubetask_reconciles_total"]
    for family in set(re.findall(r"^# TYPE (\S+) ", body, re.MULTILINE)):
        assert re.search(rf"^# HELP {family} \S", body, re.MULTILINE), family


def _refused(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.URLError as error:
        return isinstance(error.reason, ConnectionRefusedError)
    return False


def test_endpoints_listen_on_this_machine_only_unless_configured(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator
) -> None:
    # On Linux all of 127.0.0.0/8 reaches this machine, but a socket bound to 127.0.0.1 takes no connection
    # made to 127.0.0.2, and one bound to 0.0.0.0 takes both: what a listener on another interface would see.
    cluster = local_cluster_factory(operator=False)
    liveness, metrics = _free_port(), _free_port()
    start_operator(cluster, KUBETASK_LIVENESS_PORT=str(liveness), KUBETASK_METRICS_PORT=str(metrics))
    wait_for(lambda: _get(f"http://127.0.0.1:{liveness}/healthz"), 30, "the liveness endpoint to answer")
    assert _get(f"http://127.0.0.1:{metrics}/metrics") is not None
    assert _refused(f"http://127.0.0.2:{liveness}/healthz")
    assert _refused(f"http://127.0.0.2:{metrics}/metrics")

    liveness, metrics = _free_port(), _free_port()
    start_operator(
        cluster,
        KUBETASK_LIVENESS_PORT=str(liveness),
        KUBETASK_METRICS_PORT=str(metrics),
        KUBETASK_BIND_ADDRESS="0.0.0.0",
    )
    wait_for(lambda: _get(f"http://127.0.0.2:{liveness}/healthz"), 30, "the liveness endpoint on 0.0.0.0")
    assert _get(f"http://127.0.0.2:{metrics}/metrics") is not None


def test_a_standby_serves_metrics_saying_it_stands_by(
    local_cluster_factory: Callable[..., Cluster], start_operator: StartOperator
) -> None:
    cluster = local_cluster_factory(operator=False)
    ports = [_free_port(), _free_port()]
    election = {"KUBETASK_LEADER_ELECTION": "true", "KUBETASK_LEADER_ELECTION_NAMESPACE": "default"}
    for port in ports:
        start_operator(cluster, KUBETASK_METRICS_PORT=str(port), **election)

    def leaders() -> list[float] | None:
        scraped = [_get(f"http://127.0.0.1:{port}/metrics") for port in ports]
        if any(answer is None for answer in scraped):
            return None
        values = sorted(_samples(answer[2])["kubetask_leader"] for answer in scraped if answer is not None)
        return values if values == [0.0, 1.0] else None

    assert wait_for(leaders, 60, "one leader and one standby") == [0.0, 1.0]
