"""The operator's long-lived parts (API client, Event poster, controller, scheduler, metrics), started and
stopped with kopf, plus the kopf settings that let it keep up with thousands of TaskRuns."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging

import kopf

from kubetask_operator._client import KubeClient, login_credentials
from kubetask_operator._controller import Controller
from kubetask_operator._crd import GROUP, PLURAL, VERSION
from kubetask_operator._events import EventPoster
from kubetask_operator._kopf_adapter import ResourceMemories, forget_memory, new_memories
from kubetask_operator._kopf_storage import NoDiffBaseStorage, NoProgressStorage
from kubetask_operator._maps import MapController
from kubetask_operator._metrics import Metrics
from kubetask_operator._naming import LABEL_MANAGED_BY, MANAGED_BY
from kubetask_operator._settings import Settings

logger = logging.getLogger("kubetask_operator")


def tune_kopf(settings: kopf.OperatorSettings) -> None:
    """kopf settings for an operator that only watches (no kopf-managed state on the objects)."""
    # No cluster scanning: kopf neither lists/watches CRDs (the TaskRun CRD is found once, by discovery, at
    # start) nor namespaces (KUBETASK_NAMESPACES are watched as given), so the operator needs no rights on
    # either and logs no permission warnings. kopf reads this when its observers start, after startup.
    settings.scanning.disabled = True
    # Events are ours (one per TaskRun transition); kopf would add its own per handler run.
    settings.posting.enabled = False
    # Only pods this operator made: filtered by the API server, not after transferring every pod.
    settings.watching.label_selectors["pods"] = f"{LABEL_MANAGED_BY}={MANAGED_BY}"
    # Long watches, renewed before the server ends them; a stalled stream is noticed by kopf's inactivity
    # timeout (bookmarks arrive every minute) and reconnected quickly.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 15
    settings.watching.reconnect_backoff = 0.5
    settings.networking.connect_timeout = 15
    settings.networking.request_timeout = 60
    # The per-object workers are cheap; let them go soon after a TaskRun goes quiet, so memory stays flat.
    settings.queueing.idle_timeout = 2.0
    # Nothing to diff (no change handlers): skip kopf's per-event deep copies and annotations.
    settings.persistence.diffbase_storage = NoDiffBaseStorage()
    settings.persistence.progress_storage = NoProgressStorage()


async def wait_until_taskruns_are_served(client: KubeClient, *, interval: float = 2.0) -> None:
    """Wait until the API serves TaskRuns. With scanning off, kopf looks for the CRD once, as its observers
    start right after the startup handlers: an operator started a moment before the CRD is established (or
    before it is installed at all) waits here instead of never watching TaskRuns. Discovery needs no RBAC
    (every authenticated client may read it)."""
    announced = False
    while True:
        group = await client.get(f"/apis/{GROUP}/{VERSION}")
        if group is not None and any(r.get("name") == PLURAL for r in group.get("resources") or []):
            return
        if not announced:
            announced = True
            logger.warning(
                "TaskRuns (%s.%s/%s) are not served by the API: waiting for the CRD to be installed "
                "(charts/kubetask/files/taskrun-crd.yaml; the chart and manifests/ install it)",
                PLURAL,
                GROUP,
                VERSION,
            )
        await asyncio.sleep(interval)


@dataclasses.dataclass
class Service:
    """Created before kopf starts (so every handler's memo shares it), filled in at kopf's startup."""

    settings: Settings
    metrics: Metrics = dataclasses.field(default_factory=Metrics)
    kopf_memories: ResourceMemories = dataclasses.field(default_factory=new_memories)
    client: KubeClient | None = None
    events: EventPoster | None = None
    controller: Controller | None = None
    maps: MapController | None = None
    _scheduler_task: asyncio.Task[None] | None = None

    def require_controller(self) -> Controller:
        if self.controller is None:
            raise RuntimeError("the operator's controller is not started (kopf startup did not run)")
        return self.controller

    async def start(self, *, settings: kopf.OperatorSettings) -> None:
        self.client = KubeClient(
            credentials=login_credentials(settings=settings), concurrency=self.settings.api_concurrency
        )
        client = self.client
        self.metrics.read_api_client(calls=lambda: client.by_call, retries=lambda: client.retries)
        await wait_until_taskruns_are_served(self.client)
        self.events = EventPoster(self.client)
        self.events.start()
        self.controller = Controller(
            client=self.client,
            settings=self.settings,
            events=self.events,
            metrics=self.metrics,
            forget_object=functools.partial(forget_memory, self.kopf_memories),
        )
        self.maps = MapController(client=self.client, settings=self.settings, runs=self.controller)
        self._scheduler_task = asyncio.create_task(self.controller.scheduler.run())
        logger.info(
            "kubetask operator started: %s, storage %s, system retries %d, image-pull grace %gs",
            "all namespaces"
            if self.settings.clusterwide
            else f"namespaces {', '.join(self.settings.namespaces)}",
            self.settings.storage_prefix or "none (outputs only through the termination message)",
            self.settings.system_retries,
            self.settings.image_pull_grace_seconds,
        )

    def require_maps(self) -> MapController:
        if self.maps is None:
            raise RuntimeError("the operator's TaskMap controller is not started (kopf startup did not run)")
        return self.maps

    async def stop(self) -> None:
        if self._scheduler_task is not None:
            self._scheduler_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler_task
        if self.controller is not None:
            await self.controller.scheduler.stop()
        if self.maps is not None:
            await self.maps.stop()
        if self.events is not None:
            await self.events.stop()
        if self.client is not None:
            await self.client.close()
