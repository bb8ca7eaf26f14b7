"""The operator's metrics as Prometheus and dashboards read them: every family typed and described, latency
histograms observed once per TaskRun from the status it writes, API requests labelled by real resource."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubetask_operator._client import _resource_of
from kubetask_operator._metrics import METRIC_NAMES, Metrics, latencies

from ._factories import stamp, taskrun

README = Path(__file__).parents[2] / "README.md"


def _families(metrics: Metrics) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(metrics.render().decode())}


def _full_metrics() -> Metrics:
    metrics = Metrics()
    metrics.gauges["kubetask_taskruns_active"] = lambda: 2.0
    metrics.gauges["kubetask_wakeups_scheduled"] = lambda: 1.0
    metrics.read_api_client(calls=lambda: {("PATCH", "taskruns/status"): 3}, retries=lambda: 1)
    return metrics


def test_every_family_has_help_and_type() -> None:
    text = _full_metrics().render().decode()
    for name in METRIC_NAMES:
        assert re.search(rf"^# HELP {name} \S", text, re.MULTILINE), f"no # HELP for {name}:\n{text}"
        assert re.search(rf"^# TYPE {name} (counter|gauge|histogram)$", text, re.MULTILINE), name
    typed = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    assert typed == set(METRIC_NAMES)


def test_counts_gauges_and_api_requests_are_exposed_with_their_labels() -> None:
    metrics = _full_metrics()
    metrics.count("kubetask_pods_created_total")
    metrics.count("kubetask_taskruns_finished_total", phase="Failed")
    metrics.set_leader(True)
    families = _families(metrics)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values()
        for sample in family.samples
    }
    assert samples["kubetask_pods_created_total", ()] == 1
    assert samples["kubetask_taskruns_finished_total", (("phase", "Failed"),)] == 1
    assert samples["kubetask_taskruns_finished_total", (("phase", "Succeeded"),)] == 0
    assert samples["kubetask_api_requests_total", (("resource", "taskruns/status"), ("verb", "PATCH"))] == 3
    assert samples["kubetask_api_retries_total", ()] == 1
    assert samples["kubetask_taskruns_active", ()] == 2
    assert samples["kubetask_leader", ()] == 1
    assert families["kubetask_reconcile_duration_seconds"].type == "histogram"
    assert not [name for name, _ in samples if name.endswith("_created")], "no _created series"


def _status(**fields: Any) -> dict[str, Any]:
    return fields


PENDING = _status(phase="Pending", startTime=stamp(-50), attempts=[{"number": 1, "createTime": stamp(-50)}])
RUNNING = _status(
    phase="Running",
    startTime=stamp(-50),
    attempts=[{"number": 1, "createTime": stamp(-50), "startTime": stamp(-45)}],
)
FINISHED = _status(
    phase="Succeeded",
    startTime=stamp(-50),
    completionTime=stamp(-20),
    attempts=[{"number": 1, "createTime": stamp(-50), "startTime": stamp(-45), "completionTime": stamp(-20)}],
)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(None, PENDING, [("kubetask_taskrun_creation_to_pod_seconds", 10.0, "")], id="first-pod"),
        pytest.param(
            None,
            RUNNING,
            [
                ("kubetask_taskrun_creation_to_pod_seconds", 10.0, ""),
                ("kubetask_taskrun_creation_to_running_seconds", 15.0, ""),
            ],
            id="pod-and-start",
        ),
        pytest.param(
            PENDING, RUNNING, [("kubetask_taskrun_creation_to_running_seconds", 15.0, "")], id="started"
        ),
        pytest.param(
            RUNNING, FINISHED, [("kubetask_taskrun_duration_seconds", 30.0, "Succeeded")], id="finished"
        ),
        pytest.param(RUNNING, RUNNING, [], id="nothing-new"),
        pytest.param(FINISHED, FINISHED, [], id="already-finished"),
        pytest.param(
            None,
            _status(phase="Failed", completionTime=stamp(-59)),
            [],
            id="refused-before-any-attempt",
        ),
    ],
)
def test_latencies_are_observed_once_from_the_status_transitions(
    before: dict[str, Any] | None, after: dict[str, Any], expected: list[tuple[str, float, str]]
) -> None:
    # taskrun() is created at NOW - 60s.
    assert list(latencies(taskrun(status=before), taskrun(status=after))) == expected


def test_observed_latencies_reach_the_histograms() -> None:
    metrics = Metrics()
    metrics.observe_transition(taskrun(), taskrun(status=RUNNING))
    metrics.observe_transition(taskrun(status=RUNNING), taskrun(status=FINISHED))
    metrics.observe_reconcile(0.02)
    families = _families(metrics)

    def count(name: str, **labels: str) -> float:
        return next(
            s.value for s in families[name].samples if s.name == f"{name}_count" and s.labels == labels
        )

    assert count("kubetask_taskrun_creation_to_pod_seconds") == 1
    assert count("kubetask_taskrun_creation_to_running_seconds") == 1
    assert count("kubetask_taskrun_duration_seconds", phase="Succeeded") == 1
    assert count("kubetask_taskrun_duration_seconds", phase="Failed") == 0
    assert count("kubetask_reconcile_duration_seconds") == 1


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        pytest.param(
            "/apis/kubetask.dev/v1alpha1/namespaces/ns/taskruns/run/status", "taskruns/status", id="st"
        ),
        pytest.param("/apis/kubetask.dev/v1alpha1/namespaces/ns/taskruns/run", "taskruns", id="taskrun"),
        pytest.param("/apis/kubetask.dev/v1alpha1/taskruns?watch=true", "taskruns", id="all-namespaces"),
        pytest.param("/apis/kubetask.dev/v1alpha1", "", id="discovery"),
        pytest.param("/api/v1/namespaces/ns/pods", "pods", id="pods"),
        pytest.param("/api/v1/namespaces/ns/pods/p", "pods", id="pod"),
        pytest.param("/api/v1/namespaces/ns", "namespaces", id="namespace"),
        pytest.param("/apis/coordination.k8s.io/v1/namespaces/ops/leases/op", "leases", id="lease"),
    ],
)
def test_api_requests_are_labelled_by_the_resource_they_reach(path: str, resource: str) -> None:
    assert _resource_of(path) == resource


def test_the_readme_lists_exactly_the_metrics_the_operator_exposes() -> None:
    (row,) = [
        line for line in README.read_text().splitlines() if line.startswith("| `KUBETASK_METRICS_PORT`")
    ]
    documented = set(re.findall(r"`(kubetask_[a-z_]+)(?:\{[a-z,]+\})?`", row))
    assert documented == set(METRIC_NAMES)
