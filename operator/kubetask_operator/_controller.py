"""The I/O around ``plan()``: keeps what the watches said, carries plans out, and wakes TaskRuns up later.

Everything here is a cache of the API (the latest TaskRun bodies of unfinished runs, small observations of
their pods, pods created a moment ago that the watch has not shown yet); after a restart it is rebuilt from
the watches' initial listings. Work on one TaskRun is serialized by a per-TaskRun lock; different TaskRuns
proceed concurrently.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from kubetask_operator._client import KubeClient
from kubetask_operator._crd import GROUP, KIND, PLURAL, VERSION
from kubetask_operator._errors import ApiError, InvalidSpecError
from kubetask_operator._events import EventPoster
from kubetask_operator._metrics import Metrics
from kubetask_operator._naming import ANNOTATION_TASKRUN
from kubetask_operator._observe import PodObservation, observe_pod
from kubetask_operator._pods import (
    TaskRunRef,
    build_inputs_configmap,
    build_pod,
    missing_pod_template,
    needs_inputs_configmap,
)
from kubetask_operator._reconcile import (
    FINISHED_PHASES,
    Event,
    Plan,
    PodKnowledge,
    StopPod,
    plan,
    plan_rejected,
)
from kubetask_operator._scheduler import Scheduler
from kubetask_operator._settings import Settings
from kubetask_operator._spec import TaskRunSpec
from kubetask_operator._times import utcnow

logger = logging.getLogger("kubetask_operator")

Key = tuple[str, str]  # (namespace, TaskRun name)
_MAX_PASSES = 6  # plans carried out per reconcile: lookups and conflicts each cost one more pass
_FINISHED_MEMORY = 50_000  # resourceVersions of recently finished runs, to ignore their stale events
_SETTLE_SECONDS = 10.0  # after this, a finished run's trailing watch events have arrived
_ORPHAN_SECONDS = 120.0  # pod observations of TaskRuns not (or no longer) tracked are forgotten after this
_WRITE_BEHIND_SECONDS = 1.0  # longest a new attempt's Pending status waits to be merged with its pod's news


def taskrun_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{base}/{name}" if name else base


def _resource_version(body: Mapping[str, Any]) -> int | None:
    try:
        return int((body.get("metadata") or {}).get("resourceVersion", ""))
    except ValueError:
        return None


def _owner_name(pod: Mapping[str, Any]) -> str | None:
    metadata = pod.get("metadata") or {}
    for owner in metadata.get("ownerReferences") or []:
        if owner.get("kind") == KIND and owner.get("controller"):
            return str(owner.get("name"))
    name = (metadata.get("annotations") or {}).get(ANNOTATION_TASKRUN)
    return str(name) if name else None


def merge_patch_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        previous = old.get(key)
        if isinstance(value, Mapping) and isinstance(previous, Mapping):
            nested = merge_patch_diff(previous, value)
            if nested:
                patch[key] = nested
        elif key not in old or previous != value:
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


class Controller:
    def __init__(
        self,
        *,
        client: KubeClient,
        settings: Settings,
        events: EventPoster,
        metrics: Metrics,
        clock: Callable[[], datetime.datetime] = utcnow,
        forget_object: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._events = events
        self._metrics = metrics
        self._clock = clock
        self._forget_object = forget_object or (lambda _uid: None)
        self._done_uids: collections.deque[tuple[float, str]] = collections.deque()
        self._runs: dict[Key, dict[str, Any]] = {}
        self._pods: dict[Key, dict[str, PodObservation | None]] = {}  # None: seen deleted / not found
        self._pods_touched: dict[Key, float] = {}
        self._created: set[tuple[str, str]] = set()
        self._finished: collections.OrderedDict[Key, int] = collections.OrderedDict()
        self._ttl: dict[Key, tuple[str, datetime.datetime]] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._lock_users: collections.Counter[Key] = collections.Counter()
        self._failures: collections.Counter[Key] = collections.Counter()
        self._unwritten: dict[Key, dict[str, Any]] = {}
        self._flush_at: dict[Key, datetime.datetime] = {}
        self._unwritten_events: dict[Key, tuple[Event, ...]] = {}
        self.scheduler = Scheduler(self._wake, on_idle=self._forget_orphans)
        metrics.gauges["kubetask_taskruns_active"] = lambda: float(len(self._runs))
        metrics.gauges["kubetask_wakeups_scheduled"] = lambda: float(len(self.scheduler))

    # ------------------------------------------------------------ what the watches say

    async def on_taskrun(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace")), str(metadata.get("name")))
        if event_type == "DELETED":
            self._forget(key)
            self._ttl.pop(key, None)
            self._finished.pop(key, None)  # a new TaskRun may take the name
            self._done(str(metadata.get("uid", "")))
            self.scheduler.cancel(key)
            return
        if self._remember(key, body):
            await self.reconcile(key)
        elif key in self._finished:
            self._done(str(metadata.get("uid", "")))

    async def on_pod(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        owner = _owner_name(body)
        if owner is None:
            return
        metadata = body.get("metadata") or {}
        namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
        key = (namespace, owner)
        self._created.discard((namespace, name))
        if key in self._finished and key not in self._runs:
            self._done(str(metadata.get("uid", "")))
            return
        self._pods.setdefault(key, {})[name] = None if event_type == "DELETED" else observe_pod(body)
        self._pods_touched[key] = time.monotonic()
        if key in self._runs:
            await self.reconcile(key)

    def _remember(self, key: Key, body: Mapping[str, Any]) -> bool:
        """Keep ``body`` unless what we hold (or last wrote) is newer; True when it was kept."""
        version = _resource_version(body)
        finished_at = self._finished.get(key)
        if finished_at is not None and version is not None and version <= finished_at:
            return False
        cached = self._runs.get(key)
        if cached is not None and version is not None:
            cached_version = _resource_version(cached)
            if cached_version is not None and version < cached_version:
                return False
        if cached is not None and (cached.get("metadata") or {}).get("uid") != (
            body.get("metadata") or {}
        ).get("uid"):
            self._pods.pop(key, None)  # a new TaskRun under an old name
        self._runs[key] = dict(body)
        return True

    def _forget(self, key: Key) -> None:
        self._runs.pop(key, None)
        self._unwritten.pop(key, None)
        self._flush_at.pop(key, None)
        self._unwritten_events.pop(key, None)
        self._pods.pop(key, None)
        self._pods_touched.pop(key, None)
        self._failures.pop(key, None)

    def _done(self, uid: str) -> None:
        if uid:
            self._done_uids.append((time.monotonic(), uid))

    def _forget_orphans(self) -> None:
        # kopf keeps a small memory per object it has seen until the object is deleted; finished TaskRuns
        # and their pods are kept, so their memories are dropped here once their last events have passed.
        settled = time.monotonic() - _SETTLE_SECONDS
        while self._done_uids and self._done_uids[0][0] < settled:
            self._forget_object(self._done_uids.popleft()[1])
        horizon = time.monotonic() - _ORPHAN_SECONDS
        for key in [
            k for k, touched in self._pods_touched.items() if touched < horizon and k not in self._runs
        ]:
            self._pods.pop(key, None)
            self._pods_touched.pop(key, None)

    def _knowledge(self, key: Key, body: Mapping[str, Any]) -> PodKnowledge:
        name = (body.get("status") or {}).get("podName")
        if not name:
            return "unknown"
        pods = self._pods.get(key, {})
        if name in pods:
            observation = pods[name]
            return "absent" if observation is None else observation
        return "created" if (key[0], name) in self._created else "unknown"

    # ------------------------------------------------------------ reconciling

    async def reconcile(self, key: Key) -> None:
        """Bring one TaskRun a step closer to done; never raises (failures are retried with backoff)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] += 1
        try:
            async with lock:
                await self._reconcile_guarded(key)
        finally:
            self._lock_users[key] -= 1
            if self._lock_users[key] <= 0:
                del self._lock_users[key]
                self._locks.pop(key, None)

    async def _reconcile_guarded(self, key: Key) -> None:
        self._metrics.count("kubetask_reconciles_total")
        started = time.monotonic()
        try:
            await self._reconcile_locked(key)
            self._failures.pop(key, None)
        except Exception as error:  # one TaskRun must never stop or stall the others
            self._failures[key] += 1
            failures = self._failures[key]
            delay = min(2.0**failures, 300.0)
            self._metrics.count("kubetask_reconcile_errors_total")
            if isinstance(error, ApiError):
                logger.warning("TaskRun %s/%s: %s; trying again in %gs", *key, error, delay)
            else:
                logger.exception("TaskRun %s/%s: unexpected error; trying again in %gs", *key, delay)
            self.scheduler.schedule(key, self._clock() + datetime.timedelta(seconds=delay))
        finally:
            self._metrics.observe_reconcile(time.monotonic() - started)

    async def _wake(self, key: Hashable) -> None:
        if not (isinstance(key, tuple) and len(key) == 2):
            return
        namespace, name = str(key[0]), str(key[1])
        ttl = self._ttl.get((namespace, name))
        if (namespace, name) not in self._runs and ttl is not None:
            await self._expire((namespace, name), *ttl)
            return
        await self.reconcile((namespace, name))

    async def _expire(self, key: Key, uid: str, expiry: datetime.datetime) -> None:
        if self._clock() < expiry:
            self.scheduler.schedule(key, expiry)
            return
        try:
            await self._client.delete(
                taskrun_path(*key),
                body={"preconditions": {"uid": uid}, "propagationPolicy": "Background"},
            )
            logger.info("TaskRun %s/%s deleted: ttlSecondsAfterFinished passed", *key)
            self._metrics.count("kubetask_taskruns_expired_total")
        except ApiError as error:
            if error.status != 409:  # 409: a newer TaskRun of the same name; not ours to delete
                self.scheduler.schedule(key, self._clock() + datetime.timedelta(seconds=30))
                logger.warning("TaskRun %s/%s: TTL deletion failed: %s", *key, error)
                return
        self._ttl.pop(key, None)

    async def _reconcile_locked(self, key: Key) -> None:
        for _ in range(_MAX_PASSES):
            body = self._runs.get(key)
            if body is None:
                return
            view = self._view(key, body)
            result = plan(view, pod=self._knowledge(key, view), now=self._clock(), settings=self._settings)
            if result.lookup_pod is not None:
                await self._lookup(key, result.lookup_pod)
                continue
            if result.stop is not None:
                await self._stop_pod(key[0], result.stop)
            if result.create_attempt is not None and result.spec is not None:
                problem = await self._create_attempt(body, result.spec, result.create_attempt)
                if problem is not None:
                    result = plan_rejected(view, message=problem, now=self._clock(), settings=self._settings)
                elif result.status is not None:
                    self._defer_status(key, body, result)
                    return
            status = result.status if result.status is not None else self._unwritten.get(key)
            if status is not None and self._still_deferrable(key, status):
                self._unwritten[key] = dict(status)
                self._after(
                    key, body, dataclasses.replace(result, status=None, wake_at=self.scheduler.when(key))
                )
                return
            if status is not None:
                if not await self._write_status(key, body, status):
                    continue  # the TaskRun changed under us: plan again with its new state
                self._metrics.observe_transition(body, self._runs.get(key, body))
                self._unwritten.pop(key, None)
                self._flush_at.pop(key, None)
                held_events = self._unwritten_events.pop(key, ())
                if result.status is None:  # the held-back status itself was written: so are its events
                    result = dataclasses.replace(result, events=held_events + result.events)
            self._after(key, body, result)
            if result.delete_taskrun:
                await self._expire(key, str(body["metadata"].get("uid", "")), self._clock())
                self._forget(key)
            return
        raise RuntimeError(f"no stable plan after {_MAX_PASSES} passes")

    def _view(self, key: Key, body: dict[str, Any]) -> dict[str, Any]:
        """The TaskRun as the operator sees it: with the status it decided on but has not written yet."""
        unwritten = self._unwritten.get(key)
        return body if unwritten is None else {**body, "status": unwritten}

    def _still_deferrable(self, key: Key, status: Mapping[str, Any]) -> bool:
        """A held-back status may wait for more news while its attempt is merely starting, until its flush."""
        flush = self._flush_at.get(key)
        if key not in self._unwritten or flush is None or self._clock() >= flush:
            return False
        conditions = status.get("conditions") or [{}]
        return status.get("phase") == "Pending" and conditions[0].get("reason") in (
            "Pending",
            "ContainerCreating",
        )

    def _defer_status(self, key: Key, body: Mapping[str, Any], result: Plan) -> None:
        """Hold the status of a just-created attempt back for a moment: the pod's first events usually follow
        within milliseconds and one write then says both (with one Event for the transition written). Safe
        across restarts: a status never written only means the deterministic pod is created again (409)."""
        assert result.status is not None
        self._unwritten[key] = result.status
        flush = self._clock() + datetime.timedelta(seconds=_WRITE_BEHIND_SECONDS)
        self._flush_at[key] = flush
        wake = flush if result.wake_at is None else min(flush, result.wake_at)
        self._unwritten_events[key] = result.events
        self._after(key, body, dataclasses.replace(result, status=None, events=(), wake_at=wake))

    def _after(self, key: Key, body: Mapping[str, Any], result: Plan) -> None:
        current = self._runs.get(key, body)
        for event in result.events:
            self._events.post(current, event)
        if result.status is not None:
            self._metrics.count("kubetask_status_updates_total")
        phase = (current.get("status") or {}).get("phase")
        if phase in FINISHED_PHASES and result.status is not None:
            # The run just finished: what is left is its TTL, which plan() reads from the finished TaskRun.
            expiry = plan(current, pod="absent", now=self._clock(), settings=self._settings)
            result = dataclasses.replace(
                result, wake_at=self._clock() if expiry.delete_taskrun else expiry.wake_at
            )
        if phase in FINISHED_PHASES:
            if result.status is not None:
                self._metrics.count("kubetask_taskruns_finished_total", phase=str(phase))
            version = _resource_version(current)
            self._finished[key] = version if version is not None else 0
            self._finished.move_to_end(key)
            self._done(str((current.get("metadata") or {}).get("uid", "")))
            for observation in self._pods.get(key, {}).values():
                if observation is not None:
                    self._done(observation.uid)
            while len(self._finished) > _FINISHED_MEMORY:
                self._finished.popitem(last=False)
            self._forget(key)
            for name in (current.get("status") or {}).get("attempts") or []:
                self._created.discard((key[0], str(name.get("podName"))))
            if result.wake_at is not None:
                self._ttl[key] = (str((current.get("metadata") or {}).get("uid", "")), result.wake_at)
        if result.wake_at is not None:
            self.scheduler.schedule(key, result.wake_at)
        elif not result.delete_taskrun:
            self.scheduler.cancel(key)

    # ------------------------------------------------------------ carrying plans out

    async def _lookup(self, key: Key, pod_name: str) -> None:
        pod = await self._client.get(f"/api/v1/namespaces/{key[0]}/pods/{pod_name}")
        self._pods.setdefault(key, {})[pod_name] = observe_pod(pod) if pod is not None else None
        self._pods_touched[key] = time.monotonic()

    async def _stop_pod(self, namespace: str, stop: StopPod) -> None:
        path = f"/api/v1/namespaces/{namespace}/pods/{stop.name}"
        if stop.delete:
            await self._client.delete(path)
        else:
            # The kubelet stops a pod past activeDeadlineSeconds (SIGTERM, then SIGKILL after the grace
            # period) and keeps it, so `kubectl logs` still works; deleting it would lose the logs.
            try:
                await self._client.merge_patch(path, {"spec": {"activeDeadlineSeconds": 1}})
            except ApiError as error:
                if error.status != 404:
                    raise
        self._metrics.count("kubetask_pods_stopped_total")

    async def _create_attempt(self, body: Mapping[str, Any], spec: TaskRunSpec, attempt: int) -> str | None:
        """Create the attempt's objects; the API server's refusal message when it finds them invalid."""
        ref = TaskRunRef.of(body)
        template = None
        if spec.pod_template_name is not None:
            template = await self._client.get(
                f"/api/v1/namespaces/{ref.namespace}/podtemplates/{spec.pod_template_name}"
            )
            if template is None:
                return missing_pod_template(spec, ref)
        try:
            pod = build_pod(spec, ref, self._settings, attempt, pod_template=template)
        except InvalidSpecError as error:  # the operator's policy (Pod Security level, ServiceAccounts)
            return str(error)
        try:
            if needs_inputs_configmap(spec, self._settings):
                configmap = build_inputs_configmap(spec, ref)
                await self._client.create(f"/api/v1/namespaces/{ref.namespace}/configmaps", configmap)
            created = await self._client.create(f"/api/v1/namespaces/{ref.namespace}/pods", pod)
        except ApiError as error:
            if error.status in (400, 422):
                return f"the API server refused the attempt's objects: {error.message}"
            raise
        self._created.add((ref.namespace, pod["metadata"]["name"]))
        if created is not None:
            self._metrics.count("kubetask_pods_created_total")
        return None

    async def _write_status(self, key: Key, body: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
        """Write the new status with the TaskRun's resourceVersion as precondition; False after a conflict."""
        metadata = body.get("metadata") or {}
        patch = {
            "metadata": {"resourceVersion": metadata.get("resourceVersion")},
            "status": merge_patch_diff(body.get("status") or {}, status),
        }
        path = taskrun_path(*key) + "/status"
        try:
            updated = await self._client.merge_patch(path, patch, retry_conflicts=False)
        except ApiError as error:
            if error.status == 404:
                self._forget(key)
                return True
            if error.status != 409:
                raise
            fresh = await self._client.get(taskrun_path(*key))
            if fresh is None:
                self._forget(key)
                return True
            self._runs[key] = fresh
            return False
        self._runs[key] = updated
        return True
