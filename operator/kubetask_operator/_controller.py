"""The I/O around ``plan()``: keeps what the watches said, carries plans out, and wakes TaskRuns up later.

What it keeps is a cache of the API, one ``RunState`` per unfinished TaskRun (see ``_run_state`` for how
stale events and foreign status writes are told apart) and a small ``FinishedRun`` per finished one (its TTL);
after a restart it is rebuilt from the watches' initial listings. Work on one TaskRun is serialized by a
per-TaskRun lock; different TaskRuns proceed concurrently.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any

from kubetask_api import FINAL_PHASES
from kubetask_operator._cache import CACHE_LABEL, CacheKey, cache_key, decide_cache
from kubetask_operator._client import KubeClient
from kubetask_operator._crd import GROUP, KIND, PLURAL, QUEUE_PLURAL, VERSION
from kubetask_operator._errors import ApiError, InvalidSpecError
from kubetask_operator._events import EventPoster
from kubetask_operator._metrics import Metrics
from kubetask_operator._naming import ANNOTATION_TASKRUN
from kubetask_operator._observe import carry_warnings, observe_pod
from kubetask_operator._outcomes import Refusal, cut
from kubetask_operator._pods import (
    TaskRunRef,
    build_inputs_configmap,
    build_pod,
    missing_pod_template,
    needs_inputs_configmap,
)
from kubetask_operator._queue_index import QueueIndex
from kubetask_operator._queue_plan import (
    DEFAULT_QUEUE,
    Member,
    Verdict,
    counts,
    member_of,
    queue_of,
    verdict_of,
)
from kubetask_operator._reconcile import (
    Event,
    Plan,
    PodKnowledge,
    StopPod,
    needs_cache_decision,
    plan,
    plan_refused,
)
from kubetask_operator._run_state import FinishedRun, RunState, resource_version, status_digest, uid_of
from kubetask_operator._scheduler import Scheduler
from kubetask_operator._settings import Settings
from kubetask_operator._spec import TaskRunSpec
from kubetask_operator._times import utcnow

logger = logging.getLogger("kubetask_operator")

Key = tuple[str, str]  # (namespace, TaskRun name)
_MAX_PASSES = 6  # plans carried out per reconcile: lookups and conflicts each cost one more pass
_FINISHED_MEMORY = 50_000  # finished runs remembered, to tell their stale events and keep their TTLs
_SETTLE_SECONDS = 10.0  # after this, a finished run's trailing watch events have arrived
_ORPHAN_SECONDS = 120.0  # pod observations of TaskRuns not (or no longer) tracked are forgotten after this
_UNSEEN = object()  # no entry for a pod yet (None is an entry: seen deleted)
_QUEUE_REFRESH_HEAD = 100  # the first places of a line say their new place soon after it changes; the rest
_QUEUE_REFRESH_SECONDS = 1.0  # at their own look every 30 s. Changes within this time make one write each.
_WRITE_BEHIND_SECONDS = 1.0  # longest a new attempt's Pending status waits to be merged with its pod's news


def taskrun_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{base}/{name}" if name else base


def taskqueue_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{QUEUE_PLURAL}/{name}"


def _waiting_queue(body: Mapping[str, Any], default_limit: int | None) -> str | None:
    """The queue a TaskRun waits for admission to, if it does (no admission yet, no attempt, not ended)."""
    status = body.get("status") or {}
    if status.get("admittedAt") or status.get("attempts") or status.get("phase") in FINAL_PHASES:
        return None
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return None
    return queue_of(body, default_limit=default_limit)


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
        forget_object: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._events = events
        self._metrics = metrics
        self._clock = clock
        self._forget_object = forget_object
        self._runs: dict[Key, RunState] = {}
        self._finished: collections.OrderedDict[Key, FinishedRun] = collections.OrderedDict()
        self._locks: dict[Key, tuple[asyncio.Lock, int]] = {}  # with how many passes use or wait for it
        self._done_uids: collections.deque[tuple[float, str]] = collections.deque()
        self._queue_limits: dict[Key, int] = {}  # (namespace, TaskQueue) -> maxRunning, from its watch
        self._queue_locks: dict[Key, asyncio.Lock] = {}
        self._queue_counts: dict[Key, tuple[int, int]] = {}  # what each TaskQueue's status was last given
        self._queue_index = QueueIndex()  # every queue's line, from the runs below: see _index_queue
        self._cache_locks: dict[Key, asyncio.Lock] = {}  # (namespace, cache key label)
        # TaskRuns this process created and planned at once (a map's items): the (uid, resourceVersion)
        # taken in, so their watch event, carrying that very version, is not planned a second time.
        self._handed_over: dict[Key, tuple[str, str]] = {}
        self.finished_listeners: list[Callable[[Mapping[str, Any]], None]] = []
        """Called with a TaskRun whose final status was just written (a map notes its freed slot at once)."""
        self.scheduler = Scheduler(self.on_wake, on_idle=self._forget_orphans)
        metrics.gauges["kubetask_taskruns_active"] = lambda: float(
            sum(1 for state in self._runs.values() if state.body is not None)
        )
        metrics.gauges["kubetask_wakeups_scheduled"] = lambda: float(len(self.scheduler))

    # ------------------------------------------------------------ what the watches say

    async def on_taskrun(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = self._take_taskrun(event_type, body)
        if key is not None:
            await self.reconcile(key)

    async def take_created(self, body: Mapping[str, Any]) -> None:
        """Plan a TaskRun this process just created (the API's answer to the POST) now, not once its watch
        event has come through the watch stream and kopf: a map's next item gets its pod one hop sooner."""
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace")), str(metadata.get("name")))
        marker = (uid_of(body), resource_version(body))
        known, finished = self._runs.get(key), self._finished.get(key)
        if (known is not None and known.body is not None and known.uid == marker[0]) or (
            finished is not None and finished.uid == marker[0]
        ):
            return  # its watch events came first: they carry this version or a newer one
        if self._take_taskrun("ADDED", body) is None:
            return
        self._handed_over[key] = marker
        await self.reconcile(key)

    def _take_taskrun(self, event_type: str | None, body: Mapping[str, Any]) -> Key | None:
        """Take in a TaskRun event; the key to reconcile, or None when there is nothing to plan."""
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace")), str(metadata.get("name")))
        uid = uid_of(body)
        handed_over = self._handed_over.pop(key, None)
        if event_type != "DELETED" and handed_over == (uid, resource_version(body)):
            return None  # the version its creator handed over, planned already
        if event_type == "DELETED":
            self._runs.pop(key, None)
            self._index_queue(key)  # its slot or its place in line is free
            self._finished.pop(key, None)  # a new TaskRun may take the name
            self._done(uid)
            self.scheduler.cancel(key)
            return None
        finished = self._finished.get(key)
        if finished is not None and finished.uid == uid:
            self._finished_event(key, finished, body)
            return None
        if finished is not None:
            del self._finished[key]  # a new TaskRun under the name of a finished one
        state = self._runs.get(key)
        if state is None or (state.body is not None and state.uid != uid):
            state = self._runs[key] = RunState(pods=state.pods if state and state.body is None else {})
        if not state.take(body, current=False):
            return None
        self._index_queue(key)
        if state.overwritten:
            self._status_overwritten(key, state)
        return key

    async def on_taskqueue(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A TaskQueue appeared, changed or went: its waiting TaskRuns look again."""
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace")), str(metadata.get("name")))
        limit = (body.get("spec") or {}).get("maxRunning")
        if event_type == "DELETED" or not isinstance(limit, int) or isinstance(limit, bool):
            self._queue_limits.pop(key, None)
        else:
            self._queue_limits[key] = limit
        self._queue_counts[key] = (-1, -1)  # its status may say anything: write the counts again
        self._queue_index.line(*key).mark_changed()
        self._wake_queue(*key)

    def _queue_of(self, body: Mapping[str, Any]) -> str | None:
        return queue_of(body, default_limit=self._settings.default_queue_max_running)

    def _index_queue(self, key: Key) -> None:
        """Bring the queue index up to date with what the operator holds of the run (called wherever that
        changes: a watch event, a status write, the end); wake the lines that changed."""
        state = self._runs.get(key)
        view = state.view() if state is not None and state.body is not None else None
        queue = self._queue_of(view) if view is not None else None
        member = member_of(view) if view is not None and queue is not None else None
        for namespace, line in self._queue_index.update(key, queue, member):
            self._wake_queue(namespace, line)

    def _wake_queue(self, namespace: str, queue: str) -> None:
        """Wake the runs of a changed line that its free slots admit, now, and the others among its first
        places whose place or message changed, within a second (one write however many changes came
        meanwhile); places further back are refreshed by each run's own look every 30 s, or every
        admission would cost a write per waiting run."""
        line = self._queue_index.line(namespace, queue)
        admit, refresh = line.wake(self._queue_limit(namespace, queue), head=_QUEUE_REFRESH_HEAD)
        now = self._clock()
        for name in admit:
            self.scheduler.schedule((namespace, name), now)
        soon = now + datetime.timedelta(seconds=_QUEUE_REFRESH_SECONDS)
        for name in refresh:
            due = self.scheduler.when((namespace, name))
            if due is None or due > soon:  # never later than already due: a stream of changes must not
                self.scheduler.schedule((namespace, name), soon)  # keep pushing the refresh back

    def _queue_limit(self, namespace: str, queue: str) -> int | None:
        if queue == DEFAULT_QUEUE:
            return self._settings.default_queue_max_running
        return self._queue_limits.get((namespace, queue))

    async def on_pod(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        owner = _owner_name(body)
        if owner is None:
            return
        metadata = body.get("metadata") or {}
        namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
        key = (namespace, owner)
        if key in self._finished and key not in self._runs:
            self._done(uid_of(body))
            return
        state = self._runs.setdefault(key, RunState())
        state.created.discard(name)
        state.pods[name] = (
            None if event_type == "DELETED" else carry_warnings(state.pods.get(name), observe_pod(body))
        )
        state.pods_touched = time.monotonic()
        if state.body is not None:
            await self.reconcile(key)

    def _status_overwritten(self, key: Key, state: RunState) -> None:
        assert state.body is not None
        found = (state.body.get("status") or {}).get("phase")
        owned = (state.written or {}).get("phase")
        message = (
            f"the status was changed by another client (phase {found!r}); the operator owns it and "
            f"restores what it last wrote (phase {owned!r})"
        )
        logger.warning("TaskRun %s/%s: %s", *key, message)
        self._metrics.count("kubetask_status_overwrites_total")
        self._events.post(state.body, Event("Warning", "StatusOverwritten", message))

    def _done(self, uid: str) -> None:
        if uid:
            self._done_uids.append((time.monotonic(), uid))

    async def _forget_orphans(self) -> None:
        # kopf keeps a small memory per object it has seen until the object is deleted; finished TaskRuns
        # and their pods are kept, so their memories are dropped here once their last events have passed.
        settled = time.monotonic() - _SETTLE_SECONDS
        while self._done_uids and self._done_uids[0][0] < settled:
            uid = self._done_uids.popleft()[1]
            if self._forget_object is not None:
                await self._forget_object(uid)
        horizon = time.monotonic() - _ORPHAN_SECONDS
        for key in [k for k, s in self._runs.items() if s.body is None and s.pods_touched < horizon]:
            del self._runs[key]

    @staticmethod
    def _knowledge(state: RunState, view: Mapping[str, Any]) -> PodKnowledge:
        name = (view.get("status") or {}).get("podName")
        if not name:
            return "unknown"
        if name in state.pods:
            observation = state.pods[name]
            return "absent" if observation is None else observation
        return "created" if name in state.created else "unknown"

    # ------------------------------------------------------------ reconciling

    async def reconcile(self, key: Key) -> None:
        """Bring one TaskRun a step closer to done; never raises (failures are retried with backoff)."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await self._reconcile_guarded(key)
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _reconcile_guarded(self, key: Key) -> None:
        self._metrics.count("kubetask_reconciles_total")
        started = time.monotonic()
        try:
            await self._reconcile_locked(key)
        except Exception as error:  # one TaskRun must never stop or stall the others
            state = self._runs.get(key)
            failures = 1
            if state is not None:
                state.failures += 1
                failures = state.failures
            delay = min(2.0**failures, 300.0)
            self._metrics.count("kubetask_reconcile_errors_total")
            if isinstance(error, ApiError):
                logger.warning("TaskRun %s/%s: %s; trying again in %gs", *key, error, delay)
            elif failures == 1:
                logger.exception("TaskRun %s/%s: unexpected error; trying again in %gs", *key, delay)
            else:  # its traceback was logged at the first failure: repeating it would flood the log
                logger.error(
                    "TaskRun %s/%s: unexpected error again (%d in a row): %s; trying again in %gs",
                    *key,
                    failures,
                    cut(f"{type(error).__name__}: {error}", 300),
                    delay,
                )
            self.scheduler.schedule(key, self._clock() + datetime.timedelta(seconds=delay))
        else:
            state = self._runs.get(key)
            if state is not None:
                state.failures = 0
        finally:
            self._metrics.observe_reconcile(time.monotonic() - started)

    async def on_wake(self, key: Hashable) -> None:
        if not (isinstance(key, tuple) and len(key) == 2):
            return
        run_key = (str(key[0]), str(key[1]))
        finished = self._finished.get(run_key)
        if finished is not None and run_key not in self._runs:
            await self._expire(run_key, finished)
            return
        await self.reconcile(run_key)

    def _finished_event(self, key: Key, finished: FinishedRun, body: Mapping[str, Any]) -> None:
        """An event of a finished TaskRun: stale (an unfinished status), its final state (when to delete
        it may have changed), or a status someone else wrote after the end (reported, not restored: only
        the digest of the final status is kept, so memory stays flat with tens of thousands of them)."""
        self._done(finished.uid)
        status = body.get("status") or {}
        if status.get("phase") not in FINAL_PHASES:
            return
        if status_digest(status) != finished.digest:
            logger.warning("TaskRun %s/%s: its final status was changed by another client", *key)
            self._metrics.count("kubetask_status_overwrites_total")
            finished.digest = status_digest(status)
        result = plan(body, pod="absent", now=self._clock(), settings=self._settings)
        finished.expire_at = result.expire_at
        if result.expire_at is not None:
            self.scheduler.schedule(key, result.expire_at)
        else:
            self.scheduler.cancel(key)

    async def _expire(self, key: Key, finished: FinishedRun) -> None:
        expiry = finished.expire_at
        if expiry is None:
            return
        if self._clock() < expiry:
            self.scheduler.schedule(key, expiry)
            return
        try:
            await self._client.delete(
                taskrun_path(*key),
                body={"preconditions": {"uid": finished.uid}, "propagationPolicy": "Background"},
            )
            logger.info("TaskRun %s/%s deleted: ttlSecondsAfterFinished passed", *key)
            self._metrics.count("kubetask_taskruns_expired_total")
        except ApiError as error:
            if error.status != 409:  # 409: a newer TaskRun of the same name; not ours to delete
                self.scheduler.schedule(key, self._clock() + datetime.timedelta(seconds=30))
                logger.warning("TaskRun %s/%s: TTL deletion failed: %s", *key, error)
                return
        finished.expire_at = None

    async def _reconcile_locked(self, key: Key) -> None:
        state = self._runs.get(key)
        if state is not None and state.body is not None:
            spec = state.spec()
            deleting = (state.body.get("metadata") or {}).get("deletionTimestamp")
            if (
                isinstance(spec, TaskRunSpec)
                and not spec.cancelled
                and not deleting
                and needs_cache_decision(state.view().get("status") or {}, spec)
            ):
                ckey = cache_key(spec)
                lock = self._cache_locks.setdefault((key[0], ckey.label), asyncio.Lock())
                async with lock:  # identical runs decide one at a time: each one sees the others' choice
                    if not await self._decide_cache(key, state, spec, ckey):
                        return
                if len(self._cache_locks) > 10_000:
                    self._cache_locks = {k: v for k, v in self._cache_locks.items() if v.locked()}
        queue = (
            _waiting_queue(state.view(), self._settings.default_queue_max_running)
            if state is not None and state.body is not None
            else None
        )
        if state is not None and queue is not None:
            lock = self._queue_locks.setdefault((key[0], queue), asyncio.Lock())
            async with lock:  # one admission at a time per queue: each one counts the others
                admitted = await self._admit_or_queue(key, state, queue)
            if not admitted:
                return
        await self._reconcile_steps(key)
        if state is not None and state.body is not None and self._queue_of(state.body) is not None:
            await self._report_queue(key[0], str(self._queue_of(state.body)), [])

    async def _reconcile_steps(self, key: Key) -> None:
        for _ in range(_MAX_PASSES):
            state = self._runs.get(key)
            if state is None or state.body is None:
                return
            view = state.view()
            now = self._clock()
            result = plan(
                view, pod=self._knowledge(state, view), now=now, settings=self._settings, spec=state.spec()
            )
            if result.lookup_pod is not None:
                await self._lookup(key, state, result.lookup_pod)
                continue
            if result.lookup_events is not None:
                await self._lookup_events(key, state, result.lookup_events)
                continue
            if result.stop is not None:
                await self._stop_pod(key[0], result.stop)
            if result.create_attempt is not None and result.spec is not None:
                refusal = await self._create_attempt(state, result.spec, result.create_attempt)
                if refusal is not None:
                    result = plan_refused(
                        view,
                        planned=result.status if result.status is not None else view.get("status") or {},
                        spec=result.spec,
                        refusal=refusal,
                        now=self._clock(),
                        settings=self._settings,
                    )
                elif result.status is not None:
                    self._hold_back(key, state, result)
                    return
            status = result.status if result.status is not None else state.status_to_write()
            if (
                status is not None
                and result.hold_back
                and state.flush_at is not None
                and now < state.flush_at
            ):
                state.unwritten = dict(status)  # still merely starting: wait for news until the flush
                self._after(key, state, dataclasses.replace(result, status=None, events=()))
                return
            if status is not None:
                before = state.body
                if not await self._write_status(key, state, status):
                    continue  # the TaskRun changed under us: plan again with its new state
                if self._runs.get(key) is not state:
                    self.scheduler.cancel(key)
                    return  # it is gone (404): nothing left to do
                self._metrics.observe_transition(before, state.body)
                held_events = state.clear_held_back()
                if result.status is None:  # the held-back status itself was written: so are its events
                    result = dataclasses.replace(result, events=held_events + result.events)
                result = dataclasses.replace(result, status=status)
            self._after(key, state, result)
            return
        raise RuntimeError(f"no stable plan after {_MAX_PASSES} passes")

    async def _decide_cache(self, key: Key, state: RunState, spec: TaskRunSpec, ckey: CacheKey) -> bool:
        """Reuse, wait or run (see ``_cache``), from a fresh listing of the runs labelled with the key; True
        when the run is to go on (run itself)."""
        assert state.body is not None
        labels = (state.body.get("metadata") or {}).get("labels") or {}
        if labels.get(CACHE_LABEL) != ckey.label:
            patch = {"metadata": {"labels": {CACHE_LABEL: ckey.label}}}
            updated = await self._client.merge_patch(taskrun_path(*key), patch)
            state.take(updated, current=True)
        peers = await self._client.list(
            taskrun_path(key[0]), params={"labelSelector": f"{CACHE_LABEL}={ckey.label}"}
        )
        decision = decide_cache(key[1], ckey, peers, refresh=spec.cache_refresh)
        result = plan(
            state.view(), pod="absent", now=self._clock(), settings=self._settings, spec=spec, cache=decision
        )
        if result.status is not None:
            if not await self._write_status(key, state, result.status):
                self.scheduler.schedule(key, self._clock())  # changed under us: decide again
                return False
            if self._runs.get(key) is not state:
                return False
        self._after(key, state, result)
        return decision.kind == "run" and self._runs.get(key) is state

    def _wake_cache_waiters(self, namespace: str, label: str) -> None:
        now = self._clock()
        for key, state in self._runs.items():
            if key[0] != namespace or state.body is None:
                continue
            labels = (state.body.get("metadata") or {}).get("labels") or {}
            if labels.get(CACHE_LABEL) == label:
                self.scheduler.schedule(key, now)

    async def _admit_or_queue(self, key: Key, state: RunState, queue: str) -> bool:
        """Write the run's place in its queue, or its admission; True when it holds one (start it now).

        The cache says whether a slot looks free; an admission is then decided again on a fresh listing of the
        namespace's TaskRuns (the API's word, whatever this process missed) and written with the run's
        resourceVersion as precondition, so even an operator that just started never admits past the limit."""
        namespace = key[0]
        limit = self._queue_limit(namespace, queue)
        self._index_queue(key)
        verdict: Verdict | None = self._queue_index.line(namespace, queue).verdict(queue, limit, key[1])
        members: list[Member] = []
        if verdict is not None and verdict.admit:
            # The index is this process's cache; the API's word decides (see _queue_index): O(listing).
            listed = await self._client.list(taskrun_path(namespace))
            members = [member_of(item) for item in listed if self._queue_of(item) == queue]
            if key[1] not in {member.name for member in members}:
                return False  # gone meanwhile
            verdict = verdict_of(queue, limit, members, key[1])
        result = plan(
            state.view(),
            pod="absent",
            now=self._clock(),
            settings=self._settings,
            spec=state.spec(),
            admission=verdict,
        )
        if result.status is not None:
            if not await self._write_status(key, state, result.status):
                self.scheduler.schedule(key, self._clock())  # changed under us: decide again
                return False
            if self._runs.get(key) is not state:
                return False
        self._after(key, state, result)
        await self._report_queue(namespace, queue, members)
        view = state.view() if self._runs.get(key) is state else {}
        return bool((view.get("status") or {}).get("admittedAt"))

    async def _report_queue(self, namespace: str, queue: str, members: list[Member]) -> None:
        """The TaskQueue's status: how many of its runs hold a slot and how many wait (best effort)."""
        if (namespace, queue) not in self._queue_limits:
            return
        running, queued = self._queue_index.line(namespace, queue).counts()
        # A fresh listing's runs that this process does not hold yet (just started) count as it says.
        unknown_running, unknown_queued = counts(m for m in members if (namespace, m.name) not in self._runs)
        running, queued = running + unknown_running, queued + unknown_queued
        if self._queue_counts.get((namespace, queue)) == (running, queued):
            return
        self._queue_counts[(namespace, queue)] = (running, queued)
        try:
            await self._client.merge_patch(
                taskqueue_path(namespace, queue) + "/status",
                {"status": {"running": running, "queued": queued}},
            )
        except ApiError as error:
            self._queue_counts.pop((namespace, queue), None)
            logger.warning("TaskQueue %s/%s: status not written: %s", namespace, queue, error)

    def _hold_back(self, key: Key, state: RunState, result: Plan) -> None:
        """Hold the status of a just-created attempt back for a moment: the pod's first events usually follow
        within milliseconds and one write then says both (with one Event for the transition written). Safe
        across restarts: a status never written only means the deterministic pod is created again (409)."""
        assert result.status is not None
        state.unwritten = result.status
        state.unwritten_events = result.events
        state.flush_at = self._clock() + datetime.timedelta(seconds=_WRITE_BEHIND_SECONDS)
        self._after(key, state, dataclasses.replace(result, status=None, events=()))

    def _after(self, key: Key, state: RunState, result: Plan) -> None:
        """Post the plan's Events and schedule its wake-up; a finished run leaves its state behind."""
        assert state.body is not None
        for event in result.events:
            self._events.post(state.body, event)
        wrote = result.status is not None and state.unwritten is None
        if wrote:
            self._metrics.count("kubetask_status_updates_total")
        wake_at = result.wake_at
        if state.flush_at is not None:
            wake_at = state.flush_at if wake_at is None else min(wake_at, state.flush_at)
        phase = (state.view().get("status") or {}).get("phase")
        if phase not in FINAL_PHASES:
            if wake_at is not None:
                self.scheduler.schedule(key, wake_at)
            else:
                self.scheduler.cancel(key)
            return
        if wrote:
            self._metrics.count("kubetask_taskruns_finished_total", phase=str(phase))
        if (state.body.get("status") or {}).get("phase") in FINAL_PHASES:  # written, not held back
            for listener in self.finished_listeners:
                try:
                    listener(state.body)
                except Exception:  # a listener's bug must not keep this run from being finished
                    logger.exception("TaskRun %s/%s: a listener of finished runs failed", *key)
        self._index_queue(key)  # a slot may be free: the queue's waiting runs look again
        label = ((state.body.get("metadata") or {}).get("labels") or {}).get(CACHE_LABEL)
        if label:  # identical runs waiting for this one take its outputs, or run themselves
            self._wake_cache_waiters(key[0], str(label))
        self._finished[key] = FinishedRun(
            uid=state.uid, digest=status_digest(state.body.get("status")), expire_at=result.expire_at
        )
        self._finished.move_to_end(key)
        while len(self._finished) > _FINISHED_MEMORY:
            self._finished.popitem(last=False)
        self._done(state.uid)
        for observation in state.pods.values():
            if observation is not None:
                self._done(observation.uid)
        del self._runs[key]
        if result.expire_at is not None:
            self.scheduler.schedule(key, result.expire_at)
        else:
            self.scheduler.cancel(key)

    # ------------------------------------------------------------ carrying plans out

    async def _lookup(self, key: Key, state: RunState, pod_name: str) -> None:
        before = state.pods.get(pod_name, _UNSEEN)
        pod = await self._client.get(f"/api/v1/namespaces/{key[0]}/pods/{pod_name}")
        # A watch event that came in meanwhile wins: whether it is older or newer than this answer, the
        # watch delivers this answer's state (or a later one) after it, in order; the other way round, a
        # pod that has ended would stay at the older state for good (no event follows its last one).
        if state.pods.get(pod_name, _UNSEEN) is before:
            state.pods[pod_name] = observe_pod(pod) if pod is not None else None
            state.pods_touched = time.monotonic()

    async def _lookup_events(self, key: Key, state: RunState, pod_name: str) -> None:
        """Read the pod's latest Warning Event into its observation (the kubelet's FailedMount, say)."""
        observation = state.pods.get(pod_name)
        if observation is None:
            return
        selector = f"involvedObject.kind=Pod,involvedObject.name={pod_name}"
        try:
            items = await self._client.list(
                f"/api/v1/namespaces/{key[0]}/events", params={"fieldSelector": selector}
            )
        except ApiError as error:  # e.g. no RBAC to list events: carry on without the cause
            logger.warning("TaskRun %s/%s: events of pod %s not readable: %s", *key, pod_name, error)
            items = []
        if state.pods.get(pod_name) is not observation:
            return  # the pod changed meanwhile: plan with its news (its Events are read again if need be)
        warnings = [event for event in items if event.get("type") == "Warning"]
        latest = max(warnings, key=_event_time, default=None)
        state.pods[pod_name] = dataclasses.replace(
            observation,
            warning_reason=str(latest.get("reason") or "Warning") if latest is not None else None,
            warning_message=str(latest.get("message") or "") if latest is not None else None,
            warnings_checked_at=self._clock(),
        )

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

    async def _create_attempt(self, state: RunState, spec: TaskRunSpec, attempt: int) -> Refusal | None:
        """Create the attempt's objects; the API server's answer when it refuses them (after the client's
        own retries of transient answers), or the operator's own refusal (a missing PodTemplate, the Pod
        Security level, the ServiceAccount allow-list): plan_refused() decides what that means."""
        assert state.body is not None
        ref = TaskRunRef.of(state.body)
        template = None
        if spec.pod_template_name is not None:
            template = await self._client.get(
                f"/api/v1/namespaces/{ref.namespace}/podtemplates/{spec.pod_template_name}"
            )
            if template is None:
                return Refusal.by_operator(missing_pod_template(spec, ref))
        try:
            pod = build_pod(spec, ref, self._settings, attempt, pod_template=template)
        except InvalidSpecError as error:  # the operator's policy (Pod Security level, ServiceAccounts)
            return Refusal.by_operator(str(error))
        target = ""
        try:
            if needs_inputs_configmap(spec, self._settings):
                configmap = build_inputs_configmap(spec, ref)
                target = f"the inputs ConfigMap {configmap['metadata']['name']}"
                await self._client.create(f"/api/v1/namespaces/{ref.namespace}/configmaps", configmap)
            target = ""
            created = await self._client.create(f"/api/v1/namespaces/{ref.namespace}/pods", pod)
        except ApiError as error:
            logger.warning("TaskRun %s/%s: attempt %d refused: %s", ref.namespace, ref.name, attempt, error)
            return Refusal(status=error.status, api_reason=error.reason, message=error.message, target=target)
        state.created.add(pod["metadata"]["name"])
        if created is not None:
            self._metrics.count("kubetask_pods_created_total")
        return None

    async def _write_status(self, key: Key, state: RunState, status: Mapping[str, Any]) -> bool:
        """Write the new status with the TaskRun's resourceVersion as precondition; False after a conflict."""
        assert state.body is not None
        patch = {
            "metadata": {"resourceVersion": resource_version(state.body)},
            "status": merge_patch_diff(state.body.get("status") or {}, status),
        }
        path = taskrun_path(*key) + "/status"
        state.writing = status_digest(status)
        try:
            updated = await self._client.merge_patch(path, patch, retry_conflicts=False)
        except ApiError as error:
            state.writing = ""
            if error.status == 404:
                self._runs.pop(key, None)
                self._index_queue(key)
                return True
            if error.status != 409:
                raise
            fresh = await self._client.get(taskrun_path(*key))
            if fresh is None or uid_of(fresh) != state.uid:
                self._runs.pop(key, None)
                self._index_queue(key)
                return True
            state.take(fresh, current=True)
            self._index_queue(key)
            if state.overwritten:
                self._status_overwritten(key, state)
            return False
        state.wrote(updated)
        self._index_queue(key)
        return True


def _event_time(event: Mapping[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
