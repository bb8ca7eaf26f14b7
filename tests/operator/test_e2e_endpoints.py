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
    assert samples['kubetask_api_requests_total{verb="POST",resource="pods"}'] == 3
    assert samples["kubetask_status_updates_total"] >= 6, "at least a start and an end per TaskRun"
    assert samples["kubetask_reconciles_total"] >= samples["kubetask_status_updates_total"]
    assert "kubetask_reconcile_errors_total" not in samples, body
