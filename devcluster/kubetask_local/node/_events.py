"""Events about pods, posted by the local node as the kubelet (and the scheduler) would.

Posting is fire-and-forget in background tasks, like the client-go event broadcaster: a failed post is logged
and never delays or breaks a pod. As client-go's EventCorrelator (tools/record/events_cache.go), an event
identical to one already posted (same object, type, reason, message and source) is not posted again: the
existing one gets its ``count`` raised and its ``lastTimestamp`` moved (what ``kubectl describe`` shows as
"(x3 over 10s)").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from kubetask_local.node._api import MERGE_PATCH, NodeApiClient
from kubetask_local.node._errors import ApiError
from kubetask_local.node._status import now

logger = logging.getLogger("kubetask_local.node")


_last_suffix = [0]


def _event_suffix() -> str:
    """As client-go names events: ``<object>.<nanoseconds in hex>``, so names sort in recording order (never
    the same value twice, even within one nanosecond)."""
    _last_suffix[0] = max(time.time_ns(), _last_suffix[0] + 1)
    return f"{_last_suffix[0]:x}"


def event_body(
    pod: Mapping[str, Any],
    *,
    kind: str,
    reason: str,
    message: str,
    component: str,
    host: str,
    field_path: str | None = None,
) -> dict[str, Any]:
    metadata = pod.get("metadata") or {}
    timestamp = now()
    involved: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "namespace": metadata.get("namespace"),
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
    }
    if field_path:
        involved["fieldPath"] = field_path
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{metadata.get('name')}.{_event_suffix()}",
            "namespace": metadata.get("namespace"),
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": kind,
        "source": {"component": component, "host": host},
        "reportingComponent": component,
        "reportingInstance": host,
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
    }


class EventRecorder:
    """Posts events in the order they were recorded, from one background task (started on first use)."""

    def __init__(self, *, api: NodeApiClient, host: str) -> None:
        self._api = api
        self._host = host
        self._queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue()
        self._posted: dict[tuple[str, ...], tuple[str, int]] = {}  # identical events -> (name, count)
        self._poster: asyncio.Task[None] | None = None
        self.enabled = True

    def record(
        self,
        pod: Mapping[str, Any],
        *,
        reason: str,
        message: str,
        kind: str = "Normal",
        component: str = "kubelet",
        container: str | None = None,
    ) -> None:
        if not self.enabled:
            return
        body = event_body(
            pod,
            kind=kind,
            reason=reason,
            message=message,
            component=component,
            host=self._host,
            field_path=f"spec.containers{{{container}}}" if container else None,
        )
        namespace = body["metadata"]["namespace"]
        key = (
            str(body["involvedObject"].get("uid")),
            str(body["involvedObject"].get("fieldPath", "")),
            kind,
            reason,
            message,
            component,
        )
        if key in self._posted:
            name, count = self._posted[key]
            self._posted[key] = (name, count + 1)
            patch = {"count": count + 1, "lastTimestamp": body["lastTimestamp"], "reason": reason}
            self._queue.put_nowait(("PATCH", f"/api/v1/namespaces/{namespace}/events/{name}", patch))
        else:
            self._posted[key] = (body["metadata"]["name"], 1)
            self._queue.put_nowait(("POST", f"/api/v1/namespaces/{namespace}/events", body))
        if self._poster is None or self._poster.done():
            self._poster = asyncio.create_task(self._post_all(), name="kubetask-node-events")

    async def _post_all(self) -> None:
        while True:
            method, path, body = await self._queue.get()
            try:
                if method == "PATCH":
                    await self._api.request(method, path, body=body, content_type=MERGE_PATCH)
                else:
                    await self._api.request(method, path, body=body)
            except ApiError as error:
                logger.warning("could not write event %s (%s %s): %s", body["reason"], method, path, error)
            finally:
                self._queue.task_done()

    def forget(self, uid: str) -> None:
        """The pod is gone: its events are no longer correlated."""
        for key in [key for key in self._posted if key[0] == uid]:
            del self._posted[key]

    async def drain(self, timeout: float = 2.0) -> None:
        """Wait a little for events in flight (at shutdown), then drop the rest."""
        if self._poster is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout=timeout)
        self._poster.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._poster
        self._poster = None
