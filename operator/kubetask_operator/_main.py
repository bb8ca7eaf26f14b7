"""``kubetask-operator`` / ``python -m kubetask_operator``: run the TaskRun operator (kopf underneath).

It authenticates with KUBECONFIG (or ~/.kube/config) outside a cluster and with the pod's service account
inside one, reads its settings once from ``KUBETASK_*`` variables, and stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import kopf

from kubetask_operator._client import KubeClient, login_credentials
from kubetask_operator._election import run_elected
from kubetask_operator._errors import LeadershipLostError, SettingsError
from kubetask_operator._handlers import build_memo, registry
from kubetask_operator._kopf_adapter import install_tolerant_json
from kubetask_operator._metrics import serve_metrics
from kubetask_operator._settings import Settings, load_settings

_LOG_FORMATS = {"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL, "json": kopf.LogFormat.JSON}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kubetask-operator",
        description="Run the kubetask operator: reconcile TaskRuns into pods. "
        "Configured by KUBETASK_* environment variables (see the README's operator section).",
    )
    return parser.parse_args(argv)


def _configure_logging(settings: Settings) -> None:
    kopf.configure(log_format=_LOG_FORMATS[settings.log_format], log_refkey="taskrun")
    logging.getLogger().setLevel(settings.log_level)
    # kopf's own per-event chatter is DEBUG-worthy at thousands of TaskRuns; keep our INFO lines readable.
    logging.getLogger("kopf").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


async def run_operator(settings: Settings, *, stop_flag: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop_flag``); the coroutine form for embedding in an existing loop.

    With leader election on, it stands by until it holds the Lease, and raises LeadershipLostError when it
    loses it while serving.
    """
    host = f"[{settings.bind_address}]" if ":" in settings.bind_address else settings.bind_address
    liveness = f"http://{host}:{settings.liveness_port}/healthz" if settings.liveness_port else None
    memo = build_memo(settings)
    install_tolerant_json()  # one deeply nested TaskRun must not stop the watch for all the others
    metrics = memo.service.metrics
    # Served from the start, by a standby too: its kubetask_leader gauge says it stands by.
    metrics_server = (
        await serve_metrics(metrics, host=settings.bind_address, port=settings.metrics_port)
        if settings.metrics_port
        else None
    )

    async def serve(stop: asyncio.Event | None) -> None:
        metrics.set_leader(True)
        try:
            await _serve_kopf(stop)
        finally:
            metrics.set_leader(False)

    async def _serve_kopf(stop: asyncio.Event | None) -> None:
        await kopf.operator(
            registry=registry,
            memo=memo,
            memories=memo.service.kopf_memories,
            # No kopf peering (it would pause rather than exclude, and needs its own CRD): with several
            # replicas, our Lease decides which one runs this at all.
            standalone=True,
            clusterwide=settings.clusterwide,
            namespaces=settings.namespaces,
            liveness_endpoint=liveness,
            stop_flag=stop,
        )

    try:
        await _run(settings, serve, stop_flag=stop_flag)
    finally:
        if metrics_server is not None:
            await metrics_server.cleanup()


async def _run(
    settings: Settings,
    serve: Callable[[asyncio.Event | None], Coroutine[Any, Any, None]],
    *,
    stop_flag: asyncio.Event | None,
) -> None:
    election = settings.leader_election
    if election is None:
        await serve(stop_flag)
        return
    # Its own client: a renewal must fail fast and be retried by the elector within the renew deadline, not
    # by the client's minute of retries.
    client = KubeClient(
        credentials=login_credentials(settings=kopf.OperatorSettings()),
        concurrency=2,
        request_timeout=election.renew_deadline_seconds,
        retry_for=0.0,
    )
    try:
        await run_elected(
            config=election,
            client=client,
            liveness_port=settings.liveness_port,
            liveness_host=settings.bind_address,
            serve=serve,
            stop_flag=stop_flag,
        )
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the process exit status."""
    _parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except SettingsError as error:
        print(f"kubetask-operator: invalid configuration: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    try:
        kopf.login_via_client(logger=logging.getLogger("kubetask_operator"), settings=kopf.OperatorSettings())
    except kopf.LoginError:
        print(
            "kubetask-operator: no Kubernetes credentials: not in a cluster (no service account) and no "
            "usable "
            f"kubeconfig (KUBECONFIG={os.environ.get('KUBECONFIG', '')!r}, else ~/.kube/config)",
            file=sys.stderr,
        )
        return 1
    try:
        asyncio.run(run_operator(settings))
    except KeyboardInterrupt:  # a second Ctrl-C while kopf is already stopping
        return 130
    except LeadershipLostError as error:
        # Exit non-zero: Kubernetes restarts the container, which stands by until it can lead again.
        print(f"kubetask-operator: {error}", file=sys.stderr)
        return 1
    return 0
