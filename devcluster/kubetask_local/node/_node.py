"""The local node: a kubelet (plus the bits of scheduler and node-lifecycle controller a one-node cluster
needs) that talks to the API server only over HTTP.

It registers a ``Node`` object and keeps its ``Ready`` condition fresh, watches pods in all namespaces, and
gives each pod bound to it (or not bound anywhere) a :class:`PodWorker`. It can be stopped and started while
the cluster keeps running, to simulate a lost node: a stopped node kills its processes and stops reporting,
and the node-lifecycle controller's reaction follows (see ``_node_lifecycle``). A node started again finds
the containers of pods it was running gone and reports them ``ContainerStatusUnknown``, as after a reboot.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import shutil
from collections.abc import Mapping
from typing import Any

import aiohttp

from kubetask_local.node._api import MERGE_PATCH, NodeApiClient
from kubetask_local.node._binding import Binder
from kubetask_local.node._config import FastMode, NodeConfig
from kubetask_local.node._errors import ApiError
from kubetask_local.node._events import EventRecorder
from kubetask_local.node._lifecycle import TERMINAL_PHASES, lose_node, node_object_status
from kubetask_local.node._logs import log_options
from kubetask_local.node._memory import MemoryMonitor
from kubetask_local.node._pod import PodWorker
from kubetask_local.node._status import now

logger = logging.getLogger("kubetask_local.node")
LEASE_DURATION_SECONDS = 40  # a kubelet's default (nodeLeaseDurationSeconds)


class LocalNode:
    """Plays the kubelet of one node for the API server at ``api_url``."""

    def __init__(self, *, api_url: str, config: NodeConfig) -> None:
        self.config = config
        self.api = NodeApiClient(base_url=api_url, retry_for=config.api_retry_for)
        self._events = EventRecorder(api=self.api, host=config.name)
        self._binder = Binder(api=self.api, node_name=config.name)
        self._memory = MemoryMonitor(interval=config.memory_poll_interval)
        self._workers: dict[str, PodWorker] = {}
        self._worker_tasks: dict[str, asyncio.Task[None]] = {}
        self._kubelet_tasks: list[asyncio.Task[None]] = []
        self._lifecycle_task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._ready_status = ("", "")  # (Ready status, when it last changed)
        self._node_uid = ""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def running(self) -> bool:
        return bool(self._kubelet_tasks)

    @property
    def pod_count(self) -> int:
        """Pods the node currently looks after (running, waiting or finished but not yet deleted)."""
        return len(self._workers)

    # ---------------------------------------------------------------- start and stop

    async def start(self) -> None:
        """Register the node and start serving pods; returns once the first pod listing has been handled."""
        await self.api.open()
        await self.start_node()

    async def close(self) -> None:
        """Stop everything (processes included) and close the HTTP client."""
        await self.stop_node(simulate_loss=False)
        await self._events.drain()
        await self.api.close()

    async def start_node(self) -> None:
        if self.running:
            return
        if self._lifecycle_task is not None:
            self._lifecycle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lifecycle_task
            self._lifecycle_task = None
        await self._register()
        self._synced.clear()
        self._kubelet_tasks = [
            asyncio.create_task(self._watch_pods(), name="kubetask-node-watch"),
            asyncio.create_task(self._heartbeat(), name="kubetask-node-heartbeat"),
        ]
        synced = asyncio.create_task(self._synced.wait())
        await asyncio.wait(
            [synced, self._kubelet_tasks[0]],
            timeout=self.config.api_retry_for,
            return_when=asyncio.FIRST_COMPLETED,
        )
        synced.cancel()

    async def stop_node(self, *, simulate_loss: bool = True) -> None:
        """Stop the kubelet: kill every pod's processes and stop reporting. With ``simulate_loss`` the
        node-lifecycle controller then marks the node Unknown and its pods lost, as in a real cluster."""
        tasks = [*self._kubelet_tasks, *self._worker_tasks.values()]
        self._kubelet_tasks = []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        self._worker_tasks.clear()
        if simulate_loss:
            self._lifecycle_task = asyncio.create_task(
                lose_node(self.api, self.config, post_status=self._post_node_status, events=self._events),
                name="kubetask-node-lifecycle",
            )
        elif self._lifecycle_task is not None:
            self._lifecycle_task.cancel()
            await asyncio.gather(self._lifecycle_task, return_exceptions=True)
            self._lifecycle_task = None

    def set_fast_mode(self, fast_mode: FastMode | None) -> None:
        """Complete pods created from now on at once (benchmarks), or run them again with None."""
        self.config = dataclasses.replace(self.config, fast_mode=fast_mode)
        self._events.enabled = fast_mode is None

    def set_failing_images(self, images: frozenset[str]) -> None:
        self.config = dataclasses.replace(self.config, failing_images=images)

    # ---------------------------------------------------------------- the Node object

    async def _register(self) -> None:
        self.config.root.mkdir(parents=True, exist_ok=True)
        spec = {"taints": [taint.as_dict() for taint in self.config.taints] or None}
        metadata = {"name": self.name, "labels": self.config.all_labels()}
        try:
            node = await self.api.request(
                "POST",
                "/api/v1/nodes",
                body={"apiVersion": "v1", "kind": "Node", "metadata": metadata, "spec": spec},
            )
        except ApiError as error:
            if error.status != 409:
                raise
            node = await self.api.request(
                "PATCH",
                f"/api/v1/nodes/{self.name}",
                body={"metadata": metadata, "spec": spec},
                content_type=MERGE_PATCH,
            )
        self._node_uid = str(node.get("metadata", {}).get("uid", ""))
        await self._post_node_status(ready="True")
        await self._renew_lease()

    async def _renew_lease(self) -> None:
        """The node's Lease in ``kube-node-lease``, renewed with every heartbeat as a kubelet renews it
        (kubectl describe node shows it; a stopped node's Lease goes stale)."""
        leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
        spec = {
            "holderIdentity": self.name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        try:
            await self.api.request(
                "PATCH", f"{leases}/{self.name}", body={"spec": spec}, content_type=MERGE_PATCH
            )
        except ApiError as error:
            if error.status != 404:
                raise
            owner = {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self._node_uid}
            metadata = {"name": self.name, "ownerReferences": [owner] if self._node_uid else []}
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": metadata,
                "spec": spec,
            }
            await self.api.request("POST", leases, body=body)

    def _ready_since(self, ready: str) -> str:
        if self._ready_status[0] != ready:
            self._ready_status = (ready, now())
        return self._ready_status[1]

    async def _post_node_status(self, *, ready: str) -> None:
        await self.api.request(
            "PATCH",
            f"/api/v1/nodes/{self.name}/status",
            body={"status": node_object_status(self.config, ready=ready, since=self._ready_since(ready))},
            content_type=MERGE_PATCH,
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            try:
                await self._post_node_status(ready="True")
                await self._renew_lease()
            except ApiError as error:
                logger.warning("node heartbeat failed: %s", error)

    # ---------------------------------------------------------------- pods

    async def _watch_pods(self) -> None:
        delay = 0.1
        while True:
            try:
                listing = await self.api.request("GET", "/api/v1/pods")
                resource_version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
                items = listing.get("items") or []
                present = {item["metadata"]["uid"] for item in items}
                for uid, worker in list(self._workers.items()):
                    if uid not in present:
                        worker.mark_gone()
                for item in items:
                    self._dispatch("ADDED", item)
                self._synced.set()
                delay = 0.1
                while True:  # watch on from the last version seen; only an error makes us list again
                    ended_cleanly = True
                    params = {"allowWatchBookmarks": "true", "timeoutSeconds": "300"}
                    if resource_version:
                        params["resourceVersion"] = resource_version
                    async for event in self.api.watch("/api/v1/pods", params=params):
                        kind, obj = event.get("type"), event.get("object") or {}
                        if kind == "ERROR":
                            ended_cleanly = False
                            break
                        resource_version = str(
                            (obj.get("metadata") or {}).get("resourceVersion") or resource_version
                        )
                        if kind != "BOOKMARK":
                            self._dispatch(str(kind), obj)
                    if not ended_cleanly:
                        break
            except (TimeoutError, ApiError, aiohttp.ClientError, ValueError) as error:
                logger.info("pod watch interrupted (%s); listing again in %.1fs", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _dispatch(self, kind: str, pod: Mapping[str, Any]) -> None:
        metadata = pod.get("metadata") or {}
        uid = metadata.get("uid")
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not uid or (node_name and node_name != self.name):
            return
        worker = self._workers.get(uid)
        if kind == "DELETED":
            if worker is not None:
                worker.update(pod)
                worker.mark_gone()
            return
        if worker is not None:
            worker.update(pod)
            return
        if not node_name and (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return
        worker = PodWorker(
            pod,
            api=self.api,
            config=lambda: self.config,
            events=self._events,
            binder=self._binder,
            memory=self._memory,
        )
        self._workers[uid] = worker
        task = asyncio.create_task(
            worker.run(), name=f"kubetask-pod-{metadata.get('namespace')}/{metadata.get('name')}"
        )
        self._worker_tasks[uid] = task
        task.add_done_callback(lambda done, uid=uid: self._worker_done(uid, done))  # type: ignore[misc]

    def _worker_done(self, uid: str, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return  # the node stopped; stop_node clears the registry
        worker = self._workers.pop(uid, None)
        self._worker_tasks.pop(uid, None)
        self._events.forget(uid)
        if task.exception() is not None:
            logger.error("pod worker for %s failed", uid, exc_info=task.exception())
        if worker is not None:
            shutil.rmtree(worker.pod_dir, ignore_errors=True)

    # ---------------------------------------------------------------- logs (the API server's pods/log)

    async def log_source(
        self, namespace: str, pod: str, container: str, params: Mapping[str, str]
    ) -> bytes | None:
        """The emulator's ``LogSource``: the container's log shaped by the ``pods/log`` query, or None when
        the node holds no log for it (not started yet, or not on this node)."""
        worker = next((w for w in self._workers.values() if w.namespace == namespace and w.name == pod), None)
        if worker is None:
            return None
        previous = params.get("previous", "").lower() in ("true", "1")
        return worker.read_log(container, log_options(params), previous=previous)
