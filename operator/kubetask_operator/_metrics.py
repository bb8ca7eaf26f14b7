"""Prometheus metrics of the operator, served at ``/metrics`` on ``KUBETASK_METRICS_PORT``.

Exposed with ``prometheus-client`` (every metric with ``# HELP`` and ``# TYPE``), so dashboards get what they
expect: counters, gauges and histograms of how long TaskRuns wait for their pod, for their task to run, and
how long reconciles take. The names are part of the operator's interface; the README's configuration
section lists them (a test compares the list with ``METRIC_NAMES``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import prometheus_client
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubetask_api import FINAL_PHASES
from kubetask_operator._times import parse_time

# The `<name>_created` series prometheus-client adds beside each counter and histogram would double the
# series a dashboard sees, for a value (the operator's start) nobody charts.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

_FINISHED = sorted(FINAL_PHASES)  # label values in a stable order
_COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "kubetask_reconciles_total": ("Passes over a TaskRun's state (one per event or wake-up).", ()),
    "kubetask_reconcile_errors_total": ("Reconciles that failed and are retried with backoff.", ()),
    "kubetask_status_updates_total": ("TaskRun status writes.", ()),
    "kubetask_pods_created_total": ("Task pods created.", ()),
    "kubetask_pods_stopped_total": ("Task pods the operator stopped (cancel, timeout, deletion).", ()),
    "kubetask_taskruns_finished_total": ("TaskRuns that finished, by their final phase.", ("phase",)),
    "kubetask_taskruns_expired_total": ("Finished TaskRuns deleted after ttlSecondsAfterFinished.", ()),
    "kubetask_status_overwrites_total": (
        "TaskRun statuses another client changed, which the operator restored.",
        (),
    ),
}
_GAUGES: dict[str, str] = {
    "kubetask_taskruns_active": "TaskRuns in progress (not finished) that this operator tracks.",
    "kubetask_wakeups_scheduled": "TaskRuns with a timed wake-up pending (backoff, timeout, TTL).",
}
_SECONDS_TO_POD = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_SECONDS_TO_RUN = (0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
_RUN_SECONDS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400)
_RECONCILE_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
_API_REQUESTS = "kubetask_api_requests_total"
_API_RETRIES = "kubetask_api_retries_total"
_LEADER = "kubetask_leader"
_TO_POD = "kubetask_taskrun_creation_to_pod_seconds"
_TO_RUNNING = "kubetask_taskrun_creation_to_running_seconds"
_DURATION = "kubetask_taskrun_duration_seconds"
_RECONCILE = "kubetask_reconcile_duration_seconds"
_HISTOGRAMS: dict[str, tuple[str, tuple[str, ...], tuple[float, ...]]] = {
    _TO_POD: ("From a TaskRun's creation to its first pod's creation.", (), _SECONDS_TO_POD),
    _TO_RUNNING: (
        "From a TaskRun's creation to the start of its first attempt's container.",
        (),
        _SECONDS_TO_RUN,
    ),
    _DURATION: (
        "From a TaskRun's first attempt to its end (every attempt and backoff), by final phase.",
        ("phase",),
        _RUN_SECONDS,
    ),
    _RECONCILE: ("How long one reconcile of one TaskRun took (API calls included).", (), _RECONCILE_SECONDS),
}
METRIC_NAMES: tuple[str, ...] = (
    *_COUNTERS,
    _API_REQUESTS,
    _API_RETRIES,
    *_GAUGES,
    _LEADER,
    *_HISTOGRAMS,
)
"""Every metric family the operator exposes (as named in ``# TYPE`` lines)."""

ApiCalls = Callable[[], Mapping[tuple[str, str], int]]


class _ReadAtScrape(Collector):
    """Values the operator already keeps (its client's request counts, its own collections), read when
    scraped instead of mirrored on every change."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        for name, description in _GAUGES.items():
            read = self._metrics.gauges.get(name)
            if read is not None:
                yield GaugeMetricFamily(name, description, value=read())
        if self._metrics.api_calls is not None:
            requests = CounterMetricFamily(
                _API_REQUESTS,
                "Kubernetes API requests by HTTP method and resource (as kube-apiserver names it).",
                labels=("verb", "resource"),
            )
            for (verb, resource), count in sorted(self._metrics.api_calls().items()):
                requests.add_metric((verb, resource), count)
            yield requests
        if self._metrics.api_retries is not None:
            retries = "Kubernetes API requests retried after a failure or throttling."
            yield CounterMetricFamily(_API_RETRIES, retries, value=self._metrics.api_retries())


class Metrics:
    """The operator's metrics: counters the controller bumps, gauges read when scraped, histograms of
    TaskRun latencies observed from the status transitions the operator writes."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        self.gauges: dict[str, Callable[[], float]] = {}
        """Gauges by name (one of ``_GAUGES``), read at each scrape."""
        self.api_calls: ApiCalls | None = None
        self.api_retries: Callable[[], int] | None = None
        self._counters = {
            name: prometheus_client.Counter(
                name.removesuffix("_total"), description, labels, registry=self.registry
            )
            for name, (description, labels) in _COUNTERS.items()
        }
        self._histograms = {
            name: prometheus_client.Histogram(
                name, description, labels, buckets=buckets, registry=self.registry
            )
            for name, (description, labels, buckets) in _HISTOGRAMS.items()
        }
        self._leader = prometheus_client.Gauge(
            _LEADER,
            "1 while this operator acts on TaskRuns (the leader, or the only one); 0 while it stands by.",
            registry=self.registry,
        )
        for phase in _FINISHED:  # every phase shows from the start, so rate() sees the first finish
            self._counters["kubetask_taskruns_finished_total"].labels(phase=phase)
            self._histograms[_DURATION].labels(phase=phase)
        self.registry.register(_ReadAtScrape(self))

    def count(self, name: str, amount: int = 1, **labels: str) -> None:
        counter = self._counters[name]
        (counter.labels(**labels) if labels else counter).inc(amount)

    def read_api_client(self, *, calls: ApiCalls, retries: Callable[[], int]) -> None:
        """Expose the operator's API client's request and retry counts."""
        self.api_calls, self.api_retries = calls, retries

    def set_leader(self, leading: bool) -> None:
        self._leader.set(1 if leading else 0)

    def observe_reconcile(self, seconds: float) -> None:
        self._histograms[_RECONCILE].observe(seconds)

    def observe_transition(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """Observe the latencies a status write (TaskRun ``before`` -> ``after``) completed."""
        for name, seconds, phase in latencies(before, after):
            histogram = self._histograms[name]
            (histogram.labels(phase=phase) if phase else histogram).observe(seconds)

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)


def _seconds(start: object, end: object) -> float | None:
    began, ended = parse_time(start), parse_time(end)
    if began is None or ended is None:
        return None
    return max((ended - began) / datetime.timedelta(seconds=1), 0.0)


def latencies(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterator[tuple[str, float, str]]:
    """``(histogram name, seconds, phase)`` for each latency a status write completed, each observed once per
    TaskRun: its first pod created, its first container started, its end."""
    old, new = before.get("status") or {}, after.get("status") or {}
    created = (after.get("metadata") or {}).get("creationTimestamp")
    old_attempts, new_attempts = old.get("attempts") or [], new.get("attempts") or []
    if not old_attempts and new_attempts:
        seconds = _seconds(created, new_attempts[0].get("createTime"))
        if seconds is not None:
            yield _TO_POD, seconds, ""
    first_start = next((a.get("startTime") for a in new_attempts if a.get("startTime")), None)
    if first_start is not None and not any(a.get("startTime") for a in old_attempts):
        seconds = _seconds(created, first_start)
        if seconds is not None:
            yield _TO_RUNNING, seconds, ""
    phase = new.get("phase")
    if phase in _FINISHED and old.get("phase") not in _FINISHED:
        seconds = _seconds(new.get("startTime"), new.get("completionTime"))
        if seconds is not None:
            yield _DURATION, seconds, str(phase)


async def serve_metrics(metrics: Metrics, *, host: str, port: int) -> web.AppRunner:
    """Start the /metrics endpoint; the caller cleans the returned runner up at shutdown."""

    async def handle(_: web.Request) -> web.Response:
        return web.Response(
            body=metrics.render(), headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host=host, port=port).start()
    return runner
