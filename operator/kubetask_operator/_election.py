"""Leader election at the edge: read and write the Lease, stand by, hold it while the operator serves.

The decisions are ``_lease.py``'s; this module does the API calls and the waiting. Only the leader runs kopf,
so only one operator acts on TaskRuns. A leader that cannot renew within the renew deadline stops serving at
once and exits non-zero (Kubernetes restarts it as a standby) rather than risk two active operators; a leader
that stops cleanly releases the Lease, so a standby takes over at its next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

from aiohttp import web

from kubetask_operator._client import KubeClient
from kubetask_operator._errors import ApiError, LeadershipLostError
from kubetask_operator._lease import (
    Action,
    Decision,
    LeaseRecord,
    Observed,
    decide,
    observe,
    released,
    renewal_overdue,
    standby_delay,
)
from kubetask_operator._settings import LeaderElection
from kubetask_operator._times import utcnow

logger = logging.getLogger("kubetask_operator.election")


def new_identity() -> str:
    """This process's holderIdentity: the host (the pod's name in a cluster) and a random suffix, so a
    restarted container never mistakes its predecessor's Lease for its own."""
    return f"{socket.gethostname()}_{secrets.token_hex(4)}"


class LeaderElector:
    """One process's view of the Lease: ``acquire`` it, ``hold`` it (renewing), ``release`` it."""

    def __init__(self, *, client: KubeClient, config: LeaderElection, identity: str) -> None:
        self._client = client
        self._config = config
        self.identity = identity
        self.holder = ""
        """Who held the Lease when this process last looked (itself once it leads)."""
        self._observed: Observed | None = None
        self._last_renewed = 0.0

    @property
    def lease(self) -> str:
        return f"{self._config.namespace}/{self._config.lease_name}"

    async def _try(self) -> Decision | None:
        """One try at acquiring or renewing (client-go's tryAcquireOrRenew): the decision carried out, or None
        when the API refused the write (another process won the race) or failed."""
        config = self._config
        path = f"/apis/coordination.k8s.io/v1/namespaces/{config.namespace}/leases/{config.lease_name}"
        lease = await self._client.get(path)
        now = time.monotonic()
        self._observed = None if lease is None else observe(self._observed, LeaseRecord.of(lease), now)
        decision = decide(
            identity=self.identity,
            observed=self._observed,
            now=now,
            wall_now=utcnow(),
            lease_duration_seconds=config.lease_duration_seconds,
        )
        if decision.record is None:
            self.holder = decision.holder
            return decision
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": config.lease_name, "namespace": config.namespace},
            "spec": decision.record.spec(),
        }
        if lease is None:
            collection = f"/apis/coordination.k8s.io/v1/namespaces/{config.namespace}/leases"
            if await self._client.create(collection, body) is None:
                return None  # another process created it first
        else:
            body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
            await self._client.replace(path, body)
        self._observed = Observed(decision.record, now)
        self.holder = self.identity
        return decision

    async def _try_logged(self) -> Decision | None:
        try:
            return await self._try()
        except ApiError as error:
            level = logging.DEBUG if error.status == 409 else logging.WARNING
            logger.log(level, "leader election: Lease %s: %s", self.lease, error)
            return None

    async def acquire(self, *, stopping: asyncio.Event) -> bool:
        """Wait as a standby until this process holds the Lease (True) or ``stopping`` is set (False)."""
        config = self._config
        announced = ""
        while not stopping.is_set():
            started = time.monotonic()
            decision = await self._try_logged()
            if decision is not None and decision.action is not Action.WAIT:
                self._last_renewed = started
                transitions = decision.record.transitions if decision.record else 0
                logger.info(
                    "leader election: acquired Lease %s as %s (transitions: %d); starting the operator",
                    self.lease,
                    self.identity,
                    transitions,
                )
                return True
            if decision is not None and decision.holder != announced:
                announced = decision.holder
                logger.info(
                    "leader election: standby %s; Lease %s is held by %s (expires in %.0fs unless renewed)",
                    self.identity,
                    self.lease,
                    decision.holder,
                    decision.expires_in,
                )
            delay = standby_delay(config.retry_period_seconds, random.random())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)
        return False

    async def hold(self) -> None:
        """Renew every retry period; return once leadership is lost: no renewal succeeded within the renew
        deadline, or the Lease is found changed by someone else."""
        config = self._config
        while True:
            await asyncio.sleep(config.retry_period_seconds)
            while True:
                remaining = self._last_renewed + config.renew_deadline_seconds - time.monotonic()
                if renewal_overdue(
                    last_renewed=self._last_renewed,
                    now=time.monotonic(),
                    renew_deadline=config.renew_deadline_seconds,
                ):
                    logger.error(
                        "leader election: could not renew Lease %s within %gs",
                        self.lease,
                        config.renew_deadline_seconds,
                    )
                    return
                started = time.monotonic()
                try:
                    decision = await asyncio.wait_for(self._try_logged(), timeout=remaining)
                except TimeoutError:
                    decision = None
                if decision is not None and decision.action is Action.RENEW:
                    self._last_renewed = started
                    break
                if decision is not None:
                    logger.error(
                        "leader election: Lease %s changed hands (%s, holder %s)",
                        self.lease,
                        decision.action.value,
                        decision.holder or self.identity,
                    )
                    return
                await asyncio.sleep(min(config.retry_period_seconds, max(remaining, 0.0)))

    async def release(self) -> None:
        """Hand the Lease back (if still ours), so a standby need not wait for it to expire."""
        config = self._config
        path = f"/apis/coordination.k8s.io/v1/namespaces/{config.namespace}/leases/{config.lease_name}"
        try:
            lease = await self._client.get(path)
            if lease is None or LeaseRecord.of(lease).holder != self.identity:
                return
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": config.lease_name,
                    "namespace": config.namespace,
                    "resourceVersion": lease["metadata"]["resourceVersion"],
                },
                "spec": released(LeaseRecord.of(lease), utcnow()).spec(),
            }
            await self._client.replace(path, body)
        except ApiError as error:
            logger.warning(
                "leader election: could not release Lease %s (%s); a standby takes over when it expires",
                self.lease,
                error,
            )
            return
        logger.info("leader election: released Lease %s", self.lease)


@contextlib.asynccontextmanager
async def _standby_liveness(host: str, port: int, elector: LeaderElector) -> AsyncIterator[None]:
    """``/healthz`` while standing by (kopf serves it once leading), so the liveness probe does not restart
    a healthy standby."""
    if not port:
        yield
        return

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"standby": True, "identity": elector.identity, "leader": elector.holder})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def _signals_set(event: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``event`` while standing by (kopf installs its own handlers once it runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, event.set)
    yield


async def run_elected(
    *,
    config: LeaderElection,
    client: KubeClient,
    liveness_port: int,
    liveness_host: str = "127.0.0.1",
    serve: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    stop_flag: asyncio.Event | None = None,
    identity: str | None = None,
) -> None:
    """Stand by until leading, then ``serve(stopping)`` while holding the Lease.

    ``serve`` must return once ``stopping`` is set (or on its own signal handling). On a clean return the
    Lease is released. When leadership is lost, ``serve`` is cancelled at once and LeadershipLostError raised.
    """
    elector = LeaderElector(client=client, config=config, identity=identity or new_identity())
    stopping = asyncio.Event()
    chained = asyncio.create_task(_chain(stop_flag, stopping)) if stop_flag is not None else None
    try:
        with _signals_set(stopping):
            async with _standby_liveness(liveness_host, liveness_port, elector):
                if not await elector.acquire(stopping=stopping):
                    logger.info("leader election: stopped while standing by")
                    return
        # Created before serving starts, so kopf (which stops every task it finds started after its own
        # start) leaves the renewals alone until the Lease is released.
        holding = asyncio.create_task(elector.hold(), name="kubetask lease renewals")
        serving = asyncio.create_task(serve(stopping), name="kubetask operator")
        done, _ = await asyncio.wait({holding, serving}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done:
            holding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await holding
            await elector.release()
            serving.result()
            return
        serving.cancel()
        margin = config.lease_duration_seconds - config.renew_deadline_seconds
        stopped, _ = await asyncio.wait({serving}, timeout=margin)
        if not stopped:
            # Cancelling did not stop it before a standby may take over: never two active operators.
            logger.critical("leader election: the operator did not stop within %gs; exiting now", margin)
            logging.shutdown()
            os._exit(1)
        raise LeadershipLostError(
            f"lost Lease {elector.lease} (no renewal within {config.renew_deadline_seconds:g}s); stopped "
            "serving so that only one operator acts"
        )
    finally:
        if chained is not None:
            chained.cancel()


async def _chain(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()
