"""The life of one pod on the local node, from scheduling to removal, reported as a kubelet reports it.

A :class:`PodWorker` is one asyncio task per pod. It places the pod (or reports it Unschedulable), simulates
image pulls, resolves configuration, runs the containers as local process groups, enforces
``activeDeadlineSeconds`` and memory limits, honours graceful deletion, writes status through the ``status``
subresource and finally removes a deleted pod with ``gracePeriodSeconds=0``, as the kubelet does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from kubetask_local.node._api import MERGE_PATCH, NodeApiClient
from kubetask_local.node._binding import Binder
from kubetask_local.node._config import NodeConfig
from kubetask_local.node._containers import ContainerSlot, PodContainers
from kubetask_local.node._env import PodNetwork
from kubetask_local.node._errors import ApiError, PodConfigError, PodGone
from kubetask_local.node._events import EventRecorder
from kubetask_local.node._launch import (
    Launch,
    build_launches,
    fetch_objects,
    fetch_tokens,
    image_problems,
)
from kubetask_local.node._lifecycle import LOST_MESSAGE, TERMINAL_PHASES, lost_container_states
from kubetask_local.node._logs import LogOptions, read_log
from kubetask_local.node._memory import MemoryMonitor
from kubetask_local.node._spec import unschedulable_message
from kubetask_local.node._status import (
    TERMINATION_MESSAGE_LIMIT,
    Conditions,
    exit_reason,
    now,
    pod_status,
    terminated,
    waiting,
)

logger = logging.getLogger("kubetask_local.node")

_STATUS_RESYNC_SECONDS = 1.0
_CONFIG_ERROR_BACKOFF_MAX = 122.0  # the kubelet's maximum back-off between mount attempts: 2m2s
_GATED = "Scheduling is blocked due to non-empty scheduling gates"
_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


class PodWorker:
    def __init__(
        self,
        pod: Mapping[str, Any],
        *,
        api: NodeApiClient,
        config: Callable[[], NodeConfig],
        events: EventRecorder,
        binder: Binder,
        memory: MemoryMonitor,
    ) -> None:
        metadata = pod["metadata"]
        self.uid: str = metadata["uid"]
        self.namespace: str = metadata["namespace"]
        self.name: str = metadata["name"]
        self._node_config = config  # read anew each time: fast mode and failing images change at run time
        self.pod_dir = self._config.root / "pods" / f"{self.namespace}_{self.name}_{self.uid}"
        self._pod: Mapping[str, Any] = pod
        self._api = api
        self._events = events
        self._binder = binder
        self._memory = memory
        self._network = PodNetwork(
            node_name=self._config.name, host_ip=self._config.host_ip, pod_ip=self._config.pod_ip
        )
        self._changed = asyncio.Event()
        self._gone = False
        self._slots = {
            c["name"]: ContainerSlot(state=waiting("ContainerCreating")) for c in self.containers()
        }
        self._init_slots = {
            c["name"]: ContainerSlot(state=waiting("PodInitializing")) for c in self.init_containers()
        }
        self._containers: PodContainers | None = None
        self._runner: asyncio.Task[None] | None = None
        self._status_lock = asyncio.Lock()
        self._conditions = Conditions()
        self._phase = "Pending"
        self._reason: str | None = None
        self._message: str | None = None
        self._start_time: str | None = None
        self._started_at: float | None = None  # the event loop's clock at startTime
        self._addresses = False
        self._scheduled = False  # placed on this node: only then does a kubelet report containers
        self._last_posted: dict[str, Any] | None = None
        self._status_unsent = False
        self._last_config_error: str | None = None
        self._config_error_backoff = 0.0
        self._config_error_repeat_at = 0.0
        self.finished = False

    @property
    def _config(self) -> NodeConfig:
        return self._node_config()

    # ---------------------------------------------------------------- inputs from the node's watch

    def update(self, pod: Mapping[str, Any]) -> None:
        self._pod = pod
        self._changed.set()

    def mark_gone(self) -> None:
        self._gone = True
        self._changed.set()

    @property
    def gone(self) -> bool:
        return self._gone

    @property
    def deletion_requested(self) -> bool:
        return self._gone or bool((self._pod.get("metadata") or {}).get("deletionTimestamp"))

    def containers(self) -> list[Mapping[str, Any]]:
        return list((self._pod.get("spec") or {}).get("containers") or [])

    def init_containers(self) -> list[Mapping[str, Any]]:
        return list((self._pod.get("spec") or {}).get("initContainers") or [])

    def _slot(self, container: str) -> ContainerSlot | None:
        return self._slots.get(container) or self._init_slots.get(container)

    # ---------------------------------------------------------------- logs

    def log_file(self, container: str, run: int | None = None) -> Path:
        """The log of one run of the container (the current one by default): each restart starts a new log,
        so ``kubectl logs`` shows the current run and ``--previous`` the one before."""
        slot = self._slot(container)
        current = slot.restart_count if slot is not None else 0
        return self.pod_dir / "logs" / container / f"{current if run is None else run}.log"

    def read_log(self, container: str, options: LogOptions, *, previous: bool = False) -> bytes | None:
        """The log as ``pods/log`` shows it; None when there is none (not started, or no previous run)."""
        slot = self._slot(container)
        if slot is None or (previous and slot.restart_count == 0):
            return None
        path = self.log_file(container, slot.restart_count - 1 if previous else None)
        return read_log(path, options) if path.exists() else None

    def container_running(self, container: str) -> bool:
        slot = self._slots.get(container)
        return slot is not None and "running" in slot.state

    # ---------------------------------------------------------------- the life of the pod

    async def run(self) -> None:
        try:
            await self._run()
        except PodGone:
            pass
        finally:
            if self._containers is not None:  # cancelled (node stopped): nothing may outlive the node
                await self._containers.kill_now(self._runner)
            self.finished = True

    async def _run(self) -> None:
        status = self._pod.get("status") or {}
        if status.get("phase") in TERMINAL_PHASES:
            await self._remove_when_deleted()
            return
        if _containers_were_started(status):
            await self._report_lost_containers(status)
            await self._remove_when_deleted()
            return
        await self._wait_until_ungated()
        if self.deletion_requested:
            await self._remove_when_deleted()
            return
        unschedulable = unschedulable_message(
            self._pod,
            node_name=self._config.name,
            labels=self._config.all_labels(),
            taints=self._config.taints,
        )
        if unschedulable is not None:
            await self._report_unschedulable(unschedulable)
            await self._remove_when_deleted()
            return
        if not (self._pod.get("spec") or {}).get("nodeName"):
            try:
                await self._binder.bind(self._pod)
            except ApiError as error:
                if error.status == 404:
                    raise PodGone from error
                logger.warning("could not bind pod %s/%s: %s", self.namespace, self.name, error)
            self._events.record(
                self._pod,
                reason="Scheduled",
                component="default-scheduler",
                message=f"Successfully assigned {self.namespace}/{self.name} to {self._config.name}",
            )
        self._conditions.set("PodScheduled", "True")
        self._scheduled = self._addresses = True
        if self._config.fast_mode is not None:
            await self._complete_at_once()
        else:
            self._start(status)
            await self._post_status()
            prepared = await self._prepare()
            if prepared is not None and await self._run_init_containers(prepared[0]):
                await self._run_containers(prepared[1])
        await self._remove_when_deleted()

    async def _wait_until_ungated(self) -> None:
        """A pod with ``schedulingGates`` is not scheduled until every gate is removed (what Kueue uses to
        hold pods back): it stays Pending with the PodScheduled condition the API server gives it on create
        (pkg/registry/core/pod/strategy.go, applySchedulingGatedCondition), written here too."""
        while (self._pod.get("spec") or {}).get("schedulingGates") and not self.deletion_requested:
            if (self._conditions.items.get("PodScheduled") or {}).get("reason") != "SchedulingGated":
                self._conditions.set("PodScheduled", "False", reason="SchedulingGated", message=_GATED)
                await self._post_status()
            await self._wait_change(None)

    def _start(self, status: Mapping[str, Any]) -> None:
        self._start_time = status.get("startTime") or now()
        self._conditions.set("PodReadyToStartContainers", "True")
        if self._init_slots:
            self._conditions.set(
                "Initialized",
                "False",
                reason="ContainersNotInitialized",
                message=f"containers with incomplete status: [{' '.join(self._init_slots)}]",
            )
            for slot in self._slots.values():
                slot.state = waiting("PodInitializing")
        else:
            self._conditions.set("Initialized", "True")
        self._set_not_ready("ContainersNotReady")
        started = datetime.datetime.strptime(self._start_time, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.UTC
        )
        elapsed = max((datetime.datetime.now(datetime.UTC) - started).total_seconds(), 0.0)
        self._started_at = asyncio.get_running_loop().time() - elapsed

    @property
    def _deadline_at(self) -> float | None:
        """When ``activeDeadlineSeconds`` runs out, read from the latest pod: it may be shortened at run time
        (controllers stop a pod that way) and the kubelet honours the new value."""
        deadline = (self._pod.get("spec") or {}).get("activeDeadlineSeconds")
        if self._started_at is None or not isinstance(deadline, int):
            return None
        return self._started_at + deadline

    def _set_not_ready(self, reason: str) -> None:
        names = [c["name"] for c in self.containers() if not self.container_running(c["name"])]
        message = f"containers with unready status: [{' '.join(names)}]" if reason != "PodCompleted" else None
        self._conditions.set("ContainersReady", "False", reason=reason, message=message)
        self._conditions.set("Ready", "False", reason=reason, message=message)

    def _deadline_passed(self) -> bool:
        deadline_at = self._deadline_at
        return deadline_at is not None and asyncio.get_running_loop().time() >= deadline_at

    async def _wait_change(self, timeout: float | None) -> None:
        """Sleep until the pod changes in the API, its deadline or ``timeout`` seconds, whichever is first.
        A status write that failed even after its retries is sent again from here, every second, as a kubelet
        keeps syncing pod status until the API server has it."""
        if self._status_unsent:
            timeout = _STATUS_RESYNC_SECONDS if timeout is None else min(timeout, _STATUS_RESYNC_SECONDS)
        deadline_at = self._deadline_at
        if deadline_at is not None:
            until_deadline = max(deadline_at - asyncio.get_running_loop().time(), 0)
            timeout = until_deadline if timeout is None else min(timeout, until_deadline)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout=timeout)
        self._changed.clear()
        if self._status_unsent:
            await self._post_status()

    async def _remove_when_deleted(self) -> None:
        """Wait for deletion, remove the object (grace 0), wait until it is gone; logs are kept till then."""
        while not self.deletion_requested:
            await self._wait_change(None)
        if not self._gone:
            try:
                await self._api.request(
                    "DELETE",
                    f"/api/v1/namespaces/{self.namespace}/pods/{self.name}",
                    body={
                        "apiVersion": "v1",
                        "kind": "DeleteOptions",
                        "gracePeriodSeconds": 0,
                        "preconditions": {"uid": self.uid},
                    },
                )
            except ApiError as error:
                if error.status not in (404, 409):
                    logger.warning("could not remove pod %s/%s: %s", self.namespace, self.name, error)
        while not self._gone:
            await self._wait_change(None)

    # ---------------------------------------------------------------- status

    async def _post_status(self) -> None:
        async with self._status_lock:  # built and sent in turn, so the last write carries the latest state
            await self._post_status_now()

    async def _post_status_now(self) -> None:
        scheduled = self._scheduled  # before that no kubelet reports the containers
        status = pod_status(
            self._pod,
            init_containers=[self._init_slots[c["name"]].as_status(c) for c in self.init_containers()]
            if scheduled
            else [],
            phase=self._phase,
            conditions=self._conditions,
            host_ip=self._config.host_ip if self._addresses else None,
            pod_ip=self._config.pod_ip if self._addresses and self._phase != "Pending" else None,
            start_time=self._start_time,
            containers=[self._slots[c["name"]].as_status(c) for c in self.containers()] if scheduled else [],
            reason=self._reason,
            message=self._message,
        )
        if status == self._last_posted:
            return
        try:
            await self._api.request(
                "PATCH",
                f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status",
                body={"status": status},
                content_type=MERGE_PATCH,
            )
            self._last_posted = status
            self._status_unsent = False
        except ApiError as error:
            if error.status == 404:
                raise PodGone from error
            self._status_unsent = True
            logger.warning("could not write the status of pod %s/%s: %s", self.namespace, self.name, error)

    async def _report_unschedulable(self, message: str) -> None:
        self._conditions.set("PodScheduled", "False", reason="Unschedulable", message=message)
        self._events.record(
            self._pod,
            kind="Warning",
            reason="FailedScheduling",
            message=message,
            component="default-scheduler",
        )
        await self._post_status()

    async def _report_lost_containers(self, status: Mapping[str, Any]) -> None:
        """The node restarted while the pod's containers ran: they are gone, as after a real node reboot."""
        self._scheduled = self._addresses = True
        self._start_time = status.get("startTime")
        self._conditions = Conditions()
        for condition in status.get("conditions") or []:
            self._conditions.items[condition["type"]] = dict(condition)
        for name, state in lost_container_states(status).items():
            if name in self._slots:
                self._slots[name].state = state
        self._phase = "Failed"
        self._set_not_ready("PodCompleted")
        await self._post_status()
        self.finished = True

    async def _complete_at_once(self) -> None:
        fast = self._config.fast_mode
        assert fast is not None
        self._start_time = now()
        for container in self.containers():
            self._slots[container["name"]].state = terminated(
                exit_code=fast.exit_code,
                reason=exit_reason(fast.exit_code, oom_killed=False),
                message=fast.termination_message[:TERMINATION_MESSAGE_LIMIT] or None,
                started_at=self._start_time,
                finished_at=self._start_time,
            )
        self._phase = "Succeeded" if fast.exit_code == 0 else "Failed"
        self._conditions.set("Initialized", "True")
        self._set_not_ready("PodCompleted")
        await self._post_status()
        self.finished = True

    async def _fail(self, *, reason: str | None, message: str | None) -> None:
        self._phase, self._reason, self._message = "Failed", reason, message
        for slot in self._slots.values():
            if "waiting" in slot.state:  # never started: a kubelet reports ContainerStatusUnknown
                slot.state = terminated(
                    exit_code=137,
                    reason="ContainerStatusUnknown",
                    message=LOST_MESSAGE,
                    started_at=None,
                    finished_at=now(),
                )
        self._set_not_ready("PodCompleted")
        await self._post_status()
        self.finished = True

    # ---------------------------------------------------------------- before the containers start

    async def _prepare(self) -> tuple[list[Launch], list[Launch]] | None:
        """Simulated image pulls and configuration, retried as a kubelet retries; None when the pod ended."""
        pull_backoff = self._config.pull_backoff
        pulling_stage, next_stage_at = "backoff", 0.0  # the first pull is attempted at once
        loop = asyncio.get_running_loop()
        while True:
            if self.deletion_requested:
                return None
            if self._deadline_passed():
                await self._fail_deadline()
                return None
            wait: float | None = None
            problems = image_problems(
                [*self.init_containers(), *self.containers()], failing_images=self._config.failing_images
            )
            if problems:
                # As the kubelet: a failed pull shows ErrImagePull, then ImagePullBackOff for a back-off that
                # doubles up to a cap, then the next attempt shows ErrImagePull again. Times are absolute, so
                # the pod's own status updates waking this loop do not speed the cycle up.
                if loop.time() >= next_stage_at:
                    if pulling_stage == "backoff":
                        await self._show_pull_errors(problems, reason="ErrImagePull")
                        pulling_stage, next_stage_at = "error", loop.time() + self._config.pull_backoff
                    else:
                        await self._show_pull_errors(problems, reason="ImagePullBackOff")
                        pulling_stage, next_stage_at = "backoff", loop.time() + pull_backoff
                        pull_backoff = min(pull_backoff * 2, self._config.pull_backoff_max)
                wait = max(next_stage_at - loop.time(), 0.0)
            else:
                try:
                    objects = await fetch_objects(self._api, self._pod)
                    tokens = await fetch_tokens(self._api, self._pod)
                    prepared = [
                        build_launches(
                            self._pod,
                            objects=objects,
                            tokens=tokens,
                            config=self._config,
                            network=self._network,
                            pod_dir=self.pod_dir,
                            field=field,
                        )
                        for field in ("initContainers", "containers")
                    ]
                    return prepared[0], prepared[1]
                except PodConfigError as error:
                    await self._show_config_error(error)
                    wait = self._config.config_retry
            await self._wait_change(wait)

    async def _show_pull_errors(self, problems: Mapping[str, tuple[str, str]], *, reason: str) -> None:
        for name, (kind, message) in problems.items():
            image = next(
                c.get("image") for c in [*self.init_containers(), *self.containers()] if c["name"] == name
            )
            slot = self._slot(name)
            assert slot is not None
            if kind == "InvalidImageName":
                if slot.state.get("waiting", {}).get("reason") != kind:
                    self._events.record(
                        self._pod, kind="Warning", reason="InspectFailed", message=message, container=name
                    )
                slot.state = waiting(kind, message)
            elif reason == "ErrImagePull":
                self._events.record(
                    self._pod,
                    kind="Warning",
                    reason="Failed",
                    message=f'Failed to pull image "{image}": {message}',
                    container=name,
                )
                slot.state = waiting("ErrImagePull", message)
            else:
                self._events.record(
                    self._pod, reason="BackOff", message=f'Back-off pulling image "{image}"', container=name
                )
                slot.state = waiting(
                    "ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: {message}'
                )
        await self._post_status()

    async def _show_config_error(self, error: PodConfigError) -> None:
        """The waiting reason and an event, repeated as the kubelet repeats them while it retries: after a
        back-off that doubles up to 2m2s (the volume manager's exponential back-off, pkg/util/goroutinemap/
        exponentialbackoff), the repeats aggregated into one event's count by the recorder."""
        clock = asyncio.get_running_loop().time()
        changed = error.message != self._last_config_error
        self._last_config_error = error.message
        for container in self.containers():
            state = waiting(error.reason, error.message if error.reason != "ContainerCreating" else None)
            self._slots[container["name"]].state = state
        if changed:
            self._config_error_backoff = self._config.config_retry
        elif clock >= self._config_error_repeat_at:
            self._config_error_backoff = min(self._config_error_backoff * 2, _CONFIG_ERROR_BACKOFF_MAX)
        if changed or clock >= self._config_error_repeat_at:
            self._config_error_repeat_at = clock + self._config_error_backoff
            self._events.record(
                self._pod,
                kind="Warning",
                reason=error.event,
                message=error.message if error.event == "FailedMount" else f"Error: {error.message}",
            )
        await self._post_status()

    # ---------------------------------------------------------------- running

    async def _run_init_containers(self, launches: list[Launch]) -> bool:
        """Each init container to completion, in order; False when the pod ended instead (failed, deleted,
        past its deadline). A failed init container is retried unless ``restartPolicy`` is ``Never``."""
        policy = "Never" if (self._pod.get("spec") or {}).get("restartPolicy") == "Never" else "OnFailure"
        for index, launch in enumerate(launches):
            pending = [c["name"] for c in self.init_containers()[index:]]
            self._conditions.set(
                "Initialized",
                "False",
                reason="ContainersNotInitialized",
                message=f"containers with incomplete status: [{' '.join(pending)}]",
            )
            ended = await self._supervise(
                [launch], slots=self._init_slots, policy=policy, report=self._post_status
            )
            exit_code = self._init_slots[launch.container["name"]].state.get("terminated", {}).get("exitCode")
            if ended or exit_code != 0:
                if ended != "deadline":
                    self._phase = "Failed"
                    self._set_not_ready("PodCompleted")
                    await self._post_status()
                    self.finished = True
                return False
        if launches:
            self._conditions.set("Initialized", "True")
            for slot in self._slots.values():
                slot.state = waiting("ContainerCreating")
            await self._post_status()
        return True

    async def _run_containers(self, launches: list[Launch]) -> None:
        self._phase = "Running"
        policy = str((self._pod.get("spec") or {}).get("restartPolicy") or "Always")
        if await self._supervise(launches, slots=self._slots, policy=policy, report=self._report_running):
            return
        exit_codes = [slot.state.get("terminated", {}).get("exitCode") for slot in self._slots.values()]
        self._phase = "Succeeded" if all(code == 0 for code in exit_codes) else "Failed"
        self._set_not_ready("PodCompleted")
        await self._post_status()
        self.finished = True

    async def _supervise(
        self,
        launches: list[Launch],
        *,
        slots: dict[str, ContainerSlot],
        policy: str,
        report: Callable[[], Awaitable[None]],
    ) -> str | None:
        """Run containers until they end; stop them on deletion or at the deadline. Answers why the pod
        ended early ("deleted" or "deadline", after reporting a deadline), or None when they just ended."""
        config = self._config
        self._containers = containers = PodContainers(
            self._pod,
            launches,
            slots=slots,
            policy=policy,
            events=self._events,
            log_file=self.log_file,
            report=report,
            memory=self._memory,
            restart_backoff=config.restart_backoff,
            restart_backoff_max=config.restart_backoff_max,
        )
        self._runner = runner = asyncio.create_task(containers.run())
        ended: str | None = None
        while not runner.done():
            change = asyncio.create_task(self._wait_change(None))
            await asyncio.wait({runner, change}, return_when=asyncio.FIRST_COMPLETED)
            change.cancel()
            if runner.done():
                break
            if self.deletion_requested:
                ended = "deleted"
                grace = (self._pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
                await containers.stop(grace_period=self._grace_period(grace), reason="Stopping container")
                break
            if self._deadline_passed():
                ended = "deadline"
                self._events.record(self._pod, reason="DeadlineExceeded", message=_DEADLINE_MESSAGE)
                await containers.stop(grace_period=self._grace_period(None), reason="Stopping container")
                break
        await runner
        if ended == "deadline":
            await self._fail(reason="DeadlineExceeded", message=_DEADLINE_MESSAGE)
        elif ended == "deleted":
            exit_codes = [slot.state.get("terminated", {}).get("exitCode") for slot in slots.values()]
            self._phase = "Succeeded" if all(code == 0 for code in exit_codes) else "Failed"
            self._set_not_ready("PodCompleted")
            await self._post_status()
            self.finished = True
        return ended

    async def _report_running(self) -> None:
        if all(self.container_running(c["name"]) for c in self.containers()):
            self._conditions.set("ContainersReady", "True")
            self._conditions.set("Ready", "True")
        else:
            self._set_not_ready("ContainersNotReady")
        await self._post_status()

    def _grace_period(self, grace: object) -> float:
        default = (self._pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        return float(grace if isinstance(grace, int) else default if isinstance(default, int) else 30)

    async def _fail_deadline(self) -> None:
        self._events.record(self._pod, reason="DeadlineExceeded", message=_DEADLINE_MESSAGE)
        await self._fail(reason="DeadlineExceeded", message=_DEADLINE_MESSAGE)


def _containers_were_started(status: Mapping[str, Any]) -> bool:
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    return any(
        "running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {}) for s in statuses
    )
