"""Kubernetes Events on TaskRuns, posted in the background so they never delay a status update.

The queue is bounded: when the API server is too slow to take them all, the oldest are dropped (and
counted) instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from kubetask_operator._client import KubeClient
from kubetask_operator._crd import API_VERSION, KIND
from kubetask_operator._errors import ApiError
from kubetask_operator._reconcile import Event
from kubetask_operator._times import format_time, utcnow

logger = logging.getLogger("kubetask_operator.events")
COMPONENT = "kubetask-operator"


def build_event(taskrun: Mapping[str, Any], event: Event, *, instance: str) -> dict[str, Any]:
    """A core/v1 Event about ``taskrun``."""
    metadata = taskrun.get("metadata") or {}
    name, namespace = str(metadata.get("name", "")), str(metadata.get("namespace", ""))
    now = format_time(utcnow())
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name[:200]}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": name,
            "namespace": namespace,
            "uid": metadata.get("uid", ""),
            "resourceVersion": metadata.get("resourceVersion", ""),
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


class EventPoster:
    def __init__(self, client: KubeClient, *, workers: int = 2, capacity: int = 10_000) -> None:
        self._client = client
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=capacity)
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._instance = os.environ.get("HOSTNAME") or "local"
        self.posted = 0
        self.dropped = 0

    def post(self, taskrun: Mapping[str, Any], event: Event) -> None:
        document = build_event(taskrun, event, instance=self._instance)
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self.dropped += 1
        self._queue.put_nowait(document)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            document = await self._queue.get()
            namespace = document["metadata"]["namespace"]
            try:
                await self._client.create(f"/api/v1/namespaces/{namespace}/events", document)
                self.posted += 1
            except ApiError as error:
                logger.debug("event %s not posted: %s", document["reason"], error)
                self.dropped += 1
