"""Prometheus metrics of the operator, served as text on ``KUBETASK_METRICS_PORT`` at ``/metrics``."""

from __future__ import annotations

import collections
from collections.abc import Callable

from aiohttp import web

Gauge = Callable[[], float]


class Metrics:
    """Counters the controller bumps, plus gauges read when scraped."""

    def __init__(self) -> None:
        self.counters: collections.Counter[tuple[str, str]] = collections.Counter()
        self.gauges: dict[str, Gauge] = {}
        self.labelled: dict[str, Callable[[], dict[str, float]]] = {}

    def count(self, name: str, label: str = "", amount: int = 1) -> None:
        self.counters[name, label] += amount

    def render(self) -> str:
        lines: list[str] = []
        for (name, label), value in sorted(self.counters.items()):
            lines.append(f"{name}{label} {value}")
        for name, gauge in sorted(self.gauges.items()):
            lines.append(f"{name} {gauge():g}")
        for name, series in sorted(self.labelled.items()):
            lines.extend(f"{name}{labels} {value:g}" for labels, value in sorted(series().items()))
        return "\n".join(lines) + "\n"


async def serve_metrics(metrics: Metrics, *, port: int) -> web.AppRunner:
    """Start the /metrics endpoint; the caller cleans the returned runner up at shutdown."""

    async def handle(_: web.Request) -> web.Response:
        return web.Response(text=metrics.render(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host="0.0.0.0", port=port).start()
    return runner
