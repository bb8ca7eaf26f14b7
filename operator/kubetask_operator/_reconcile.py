"""The heart of the operator as one pure function: TaskRun + what its pod says + now -> what to do.

``plan()`` does no I/O. It returns the TaskRun's next status and the few actions that lead there (create the
attempt's pod, stop a pod, look a pod up, delete the TaskRun after its TTL), the Events to post, and when to
look again. Everything it needs is in the TaskRun's status and its pod, so a restarted operator carries on
exactly where the API says things are.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any, Literal

from kubetask_api import (
    CONDITION_SUCCEEDED,
    FINAL_PHASES,
    REASON_ADMITTED,
    REASON_CACHE_MISS,
    REASON_CACHED,
    REASON_INVALID_SPEC,
    REASON_QUEUE_TIMEOUT,
    REASON_WAITING_FOR_CACHE_OWNER,
    succeeded_condition,
)
from kubetask_operator import _outcomes
from kubetask_operator._cache import CacheDecision
from kubetask_operator._durations import format_duration
from kubetask_operator._errors import InvalidSpecError
from kubetask_operator._naming import pod_name
from kubetask_operator._observe import PodObservation
from kubetask_operator._outcomes import Outcome, Refusal, RefusalKind, cut
from kubetask_operator._queue_plan import Verdict, queue_of
from kubetask_operator._settings import Settings
from kubetask_operator._spec import TaskRunSpec, parse_spec
from kubetask_operator._times import format_time, parse_time

_EVENTS_FIRST_SECONDS = 5.0  # a pod still creating this long after its attempt began: ask its Events why
_EVENTS_RECHECK_SECONDS = 30.0  # and again this often while it stays so and they said nothing

PodKnowledge = PodObservation | Literal["absent", "unknown", "created"]
"""What the operator knows of the current attempt's pod: its state; ``absent`` (it was deleted, or a lookup
found nothing); ``unknown`` (not seen yet: look it up); ``created`` (this process created it a moment ago)."""


@dataclasses.dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class StopPod:
    """Stop a pod. ``delete`` only for pods whose task never started; a started task is stopped with
    ``activeDeadlineSeconds``, which the kubelet enforces while keeping the pod, so its logs stay readable."""

    name: str
    delete: bool


@dataclasses.dataclass(frozen=True)
class Plan:
    status: dict[str, Any] | None = None
    """The whole new status when it changed, else None."""
    create_attempt: int | None = None
    stop: StopPod | None = None
    lookup_pod: str | None = None
    """Look this pod up (GET) and plan again with the answer before doing anything."""
    lookup_events: str | None = None
    """Look up this pod's Warning Events (the kubelet's word on a pod stuck creating), then plan again."""
    delete_taskrun: bool = False
    events: tuple[Event, ...] = ()
    wake_at: datetime.datetime | None = None
    spec: TaskRunSpec | None = None
    hold_back: bool = False
    """The status only says the attempt is starting: it may wait a moment (up to the executor's flush) to be
    written together with the pod's first news."""
    expire_at: datetime.datetime | None = None
    """The run is finished and is to be deleted at this moment (ttlSecondsAfterFinished)."""


@dataclasses.dataclass(frozen=True)
class _Run:
    """One planning pass: the TaskRun's identity and the inputs every branch reads."""

    name: str
    uid: str
    generation: int | None
    old_status: Mapping[str, Any]
    now: datetime.datetime
    settings: Settings
    has_storage: bool = False
    ttl_seconds: int | None = None


# ---------------------------------------------------------------- status building


def _with_condition(run: _Run, status: dict[str, Any], state: str, reason: str, message: str) -> None:
    old = succeeded_condition(run.old_status)
    changed = not old or old.get("status") != state
    status["conditions"] = [
        {
            "type": CONDITION_SUCCEEDED,
            "status": state,
            "reason": reason,
            "message": cut(message, 2048),
            "lastTransitionTime": format_time(run.now) if changed else old.get("lastTransitionTime"),
            **({"observedGeneration": run.generation} if run.generation is not None else {}),
        }
    ]


def _finalize(
    run: _Run,
    status: dict[str, Any],
    *,
    spec: TaskRunSpec | None,
    events: tuple[Event, ...] = (),
    create_attempt: int | None = None,
    stop: StopPod | None = None,
    wake_at: datetime.datetime | None = None,
    hold_back: bool = False,
) -> Plan:
    """A Plan whose status is written only when it differs from the TaskRun's current one."""
    if run.generation is not None:
        status["observedGeneration"] = run.generation
    changed = status != dict(run.old_status)
    expire_at = _expiry(run, status) if status.get("phase") in FINAL_PHASES else None
    return Plan(
        status=status if changed else None,
        events=events if changed else (),
        create_attempt=create_attempt,
        stop=stop,
        wake_at=expire_at if expire_at is not None else wake_at,
        spec=spec,
        hold_back=hold_back,
        expire_at=expire_at,
    )


def _expiry(run: _Run, status: Mapping[str, Any]) -> datetime.datetime | None:
    completed = parse_time(status.get("completionTime"))
    if run.ttl_seconds is None or completed is None:
        return None
    return _after(completed, run.ttl_seconds)


def _earliest(*moments: datetime.datetime | None) -> datetime.datetime | None:
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


def _after(moment: datetime.datetime, seconds: float) -> datetime.datetime:
    return moment + datetime.timedelta(seconds=seconds)


# ---------------------------------------------------------------- entry points


def _run_of(taskrun: Mapping[str, Any], *, now: datetime.datetime, settings: Settings) -> _Run:
    metadata = taskrun.get("metadata") or {}
    generation = metadata.get("generation")
    ttl = (taskrun.get("spec") or {}).get("ttlSecondsAfterFinished")
    return _Run(
        name=str(metadata.get("name", "")),
        uid=str(metadata.get("uid", "")),
        generation=generation if isinstance(generation, int) and not isinstance(generation, bool) else None,
        old_status=taskrun.get("status") or {},
        now=now,
        settings=settings,
        has_storage=settings.storage_prefix is not None
        or bool((taskrun.get("spec") or {}).get("outputPrefix")),
        ttl_seconds=ttl if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0 else None,
    )


def plan_refused(
    taskrun: Mapping[str, Any],
    *,
    planned: Mapping[str, Any],
    spec: TaskRunSpec,
    refusal: Refusal,
    now: datetime.datetime,
    settings: Settings,
) -> Plan:
    """The API server refused the pod (or inputs ConfigMap) of the attempt that ``planned`` (the status the
    plan that created it would have written) starts: fail, or wait visibly and try again with backoff."""
    run = _run_of(taskrun, now=now, settings=settings)
    if refusal.status in (400, 422):  # invalid: the spec produced objects the API server cannot accept
        message = (
            refusal.message
            if refusal.operator
            else f"the API server refused the attempt's objects: {refusal.message}"
        )
        return _fail(
            run, copy.deepcopy(dict(run.old_status)), spec=None, reason=REASON_INVALID_SPEC, message=message
        )
    status = copy.deepcopy(dict(planned))
    current: dict[str, Any] = status["attempts"][-1]
    kind = _outcomes.classify_refusal(refusal)
    message = _outcomes.refusal_message(refusal, str(current.get("podName")))
    if kind.waits == "never":
        return _end_attempt(run, status, spec, current, _outcomes.create_refused(kind, message, limit=None))
    created = parse_time(current.get("createTime")) or run.now
    limit = _refusal_limit(run, spec, kind)
    if limit is not None and run.now >= _after(created, limit):
        outcome = _outcomes.create_refused(kind, message, limit=format_duration(limit))
        return _end_attempt(run, status, spec, current, outcome)
    # Backoff without a counter: wait half the time the attempt has waited so far (2 s to 60 s).
    due = _after(run.now, min(max((run.now - created).total_seconds() / 2, 2.0), 60.0))
    current.update(reason=kind.reason, message=cut(message))
    status.update(phase="Pending", nextAttemptTime=format_time(due))
    bound = f"; gives up {format_duration(limit)} after the attempt began" if limit is not None else ""
    text = f"attempt {current.get('number')}: {message}; trying again at {format_time(due)}{bound}"
    old = succeeded_condition(run.old_status)
    _with_condition(run, status, "Unknown", kind.reason, text)
    events = (Event("Warning", kind.reason, cut(message)),) if old.get("reason") != kind.reason else ()
    end = _after(created, limit) if limit is not None else None
    return _finalize(run, status, spec=spec, events=events, wake_at=_earliest(due, end))


def _refusal_limit(run: _Run, spec: TaskRunSpec, kind: RefusalKind) -> float | None:
    """How long after its start an attempt may wait for its pod to be accepted."""
    if kind.waits == "grace":
        return spec.pending_timeout_seconds or run.settings.image_pull_grace_seconds
    return spec.pending_timeout_seconds


def _plan_refused_attempt(
    run: _Run, status: dict[str, Any], spec: TaskRunSpec, current: dict[str, Any], kind: RefusalKind
) -> Plan:
    """The attempt's pod was refused and does not exist: give up, wait for the next try, or try again."""
    number = int(current.get("number") or 1)
    name = str(current.get("podName"))
    if spec.cancelled:  # a pod may exist after all (created, its status not written): delete it
        _complete_attempt(run, current, reason="Cancelled", message="cancelled by spec.cancelled")
        return _cancelled(
            run, status, spec, f"attempt {number} cancelled before its pod existed", stop=StopPod(name, True)
        )
    created = parse_time(current.get("createTime")) or run.now
    limit = _refusal_limit(run, spec, kind)
    end = _after(created, limit) if limit is not None else None
    if end is not None and limit is not None and run.now >= end:
        message = str(current.get("message") or kind.reason)
        outcome = _outcomes.create_refused(kind, message, limit=format_duration(limit))
        return _end_attempt(run, status, spec, current, outcome)
    due = parse_time(status.get("nextAttemptTime")) or run.now
    if run.now < due:
        return _finalize(run, status, spec=spec, wake_at=_earliest(due, end))
    for key in ("reason", "message"):
        current.pop(key, None)
    status.pop("nextAttemptTime", None)
    status["phase"] = "Pending"
    _with_condition(
        run, status, "Unknown", "Pending", f"attempt {number}: pod {name} created, waiting for it to start"
    )
    deadlines = [_after(created, s) for s in (spec.pending_timeout_seconds,) if s is not None]
    event = Event("Normal", "PodCreated", f"attempt {number}: created pod {name}")
    return _finalize(
        run,
        status,
        spec=spec,
        events=(event,),
        create_attempt=number,
        wake_at=_earliest(*deadlines),
        hold_back=True,
    )


def parse(spec: object) -> TaskRunSpec | InvalidSpecError:
    """The spec parsed, or why it cannot be: what ``plan(spec=...)`` takes, so a caller parses a spec once."""
    try:
        return parse_spec(spec)
    except InvalidSpecError as error:
        return error


def plan(
    taskrun: Mapping[str, Any],
    *,
    pod: PodKnowledge,
    now: datetime.datetime,
    settings: Settings,
    spec: TaskRunSpec | InvalidSpecError | None = None,
    admission: Verdict | None = None,
    cache: CacheDecision | None = None,
) -> Plan:
    """What to do next for ``taskrun``, given what is known of its current attempt's pod; ``spec`` is
    ``parse(taskrun["spec"])`` when the caller has it already (the spec changes only with the generation);
    ``admission`` is its queue's verdict while a run naming a queue waits to be admitted; ``cache`` the
    cache's word for a cache-enabled run that has not started (see ``needs_cache_decision``)."""
    metadata = taskrun.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return Plan()  # garbage collection takes the pods; nothing left to decide
    run = _run_of(taskrun, now=now, settings=settings)
    status = copy.deepcopy(dict(run.old_status))
    if status.get("phase") in FINAL_PHASES:
        return _plan_finished(run, status)
    attempts: list[dict[str, Any]] = status.get("attempts") or []
    current = attempts[-1] if attempts else None
    in_progress = current is not None and not current.get("completionTime")
    parsed = spec if spec is not None else parse(taskrun.get("spec"))
    if isinstance(parsed, InvalidSpecError):
        error = parsed
        if in_progress and current is not None:
            stopping = _stop_for(pod, str(current.get("podName")))
            if stopping == "lookup":
                return Plan(lookup_pod=str(current.get("podName")))
            _complete_attempt(run, current, reason=REASON_INVALID_SPEC, message=str(error), kind="USER")
            return _fail(
                run, status, spec=None, reason=REASON_INVALID_SPEC, message=str(error), stop=stopping
            )
        return _fail(run, status, spec=None, reason=REASON_INVALID_SPEC, message=str(error))
    spec = parsed
    if current is None:
        if spec.cancelled:
            return _cancelled(run, status, spec, "cancelled before its first attempt started", stop=None)
        if cache is not None and needs_cache_decision(status, spec):
            return _plan_cache(run, status, spec, cache)
        queue = queue_of(taskrun, default_limit=settings.default_queue_max_running)
        if queue is not None and not status.get("admittedAt"):
            created = parse_time(metadata.get("creationTimestamp")) or run.now
            return _plan_queued(run, status, spec, queue, admission, created=created)
        return _start_attempt(run, status, spec, number=1)
    if not in_progress:
        return _plan_retrying(run, status, spec, number=len(attempts) + 1)
    refused = _outcomes.waiting_refusal(str(current.get("reason") or ""))
    if refused is not None and not isinstance(pod, PodObservation):
        return _plan_refused_attempt(run, status, spec, current, refused)
    if refused is not None:  # its pod exists after all (a later try was accepted): on as usual
        for key in ("reason", "message"):
            current.pop(key, None)
        status.pop("nextAttemptTime", None)
    return _plan_attempt(run, status, spec, current, pod)


# ---------------------------------------------------------------- finished TaskRuns: only the TTL is left


def _plan_finished(run: _Run, status: Mapping[str, Any]) -> Plan:
    expiry = _expiry(run, status)
    if expiry is None:
        return Plan()
    return Plan(delete_taskrun=run.now >= expiry, wake_at=expiry, expire_at=expiry)


# ---------------------------------------------------------------- the cache


def needs_cache_decision(status: Mapping[str, Any], spec: TaskRunSpec) -> bool:
    """A cache-enabled run not started: not decided yet, or waiting for an identical run to finish."""
    if not spec.cache or status.get("attempts") or status.get("phase") in FINAL_PHASES:
        return False
    reason = succeeded_condition(status).get("reason")
    return not status.get("cacheKey") or reason == REASON_WAITING_FOR_CACHE_OWNER


def _plan_cache(run: _Run, status: dict[str, Any], spec: TaskRunSpec, decision: CacheDecision) -> Plan:
    """Take an identical run's outputs (no pod), wait for the identical run in progress, or run: the decision
    is written before any pod exists, so identical runs deciding after it see it."""
    key = decision.key
    status["cacheKey"] = key.digest
    if decision.kind == "hit":
        status.update(phase="Succeeded", completionTime=format_time(run.now), cachedFrom=decision.source)
        for field in ("outputs", "outputsUri", "nextAttemptTime", "error"):
            status.pop(field, None)
        if decision.outputs is not None:
            status["outputs"] = copy.deepcopy(dict(decision.outputs))
        if decision.outputs_uri is not None:
            status["outputsUri"] = decision.outputs_uri
        message = (
            f"cache hit: outputs of TaskRun {decision.source} (succeeded {decision.source_completed}) "
            f"reused without a pod; {key.describe()}"
        )
        _with_condition(run, status, "True", REASON_CACHED, message)
        return _finalize(run, status, spec=spec, events=(Event("Normal", REASON_CACHED, cut(message)),))
    if decision.kind == "wait":
        status["phase"] = "Queued"
        message = (
            f"an identical TaskRun {decision.source} is running: waiting to take its outputs "
            f"(or to run if it fails); {key.describe()}"
        )
        _with_condition(run, status, "Unknown", REASON_WAITING_FOR_CACHE_OWNER, message)
        return _finalize(
            run,
            status,
            spec=spec,
            events=(Event("Normal", REASON_WAITING_FOR_CACHE_OWNER, cut(message)),),
            wake_at=_after(run.now, _QUEUE_RECHECK_SECONDS),
        )
    why = "spec.cache.refresh: running whatever is cached" if spec.cache_refresh else "no Succeeded TaskRun"
    message = f"cache miss ({why}); {key.describe()}"
    status["phase"] = "Pending"
    _with_condition(run, status, "Unknown", REASON_CACHE_MISS, message)
    return _finalize(
        run, status, spec=spec, events=(Event("Normal", REASON_CACHE_MISS, cut(message)),), wake_at=run.now
    )


# ---------------------------------------------------------------- waiting in a TaskQueue

_QUEUE_RECHECK_SECONDS = 30.0  # a queued run looks again this often, whatever wakes it sooner


def _plan_queued(
    run: _Run,
    status: dict[str, Any],
    spec: TaskRunSpec,
    queue: str,
    admission: Verdict | None,
    *,
    created: datetime.datetime,
) -> Plan:
    """Wait Queued (no pod; timeout and pendingTimeout not running) or take the queue's admission. The
    admission is a status write of its own (``admittedAt``), made before any pod exists: a restarted operator
    then counts it from the API, and the attempt starts in the next pass."""
    verdict = admission or Verdict(admit=False, position=0, message=f"waiting for queue {queue} to admit it")
    deadline = _after(created, spec.queue_timeout_seconds) if spec.queue_timeout_seconds is not None else None
    if deadline is not None and spec.queue_timeout_seconds is not None and run.now >= deadline:
        message = (
            f"not admitted within queueTimeout {format_duration(spec.queue_timeout_seconds)}: "
            f"{verdict.message}"
        )
        return _fail(run, status, spec=spec, reason=REASON_QUEUE_TIMEOUT, message=message)
    if verdict.admit:
        status.update(phase="Pending", admittedAt=format_time(run.now))
        _with_condition(run, status, "Unknown", REASON_ADMITTED, verdict.message)
        admitted = (Event("Normal", REASON_ADMITTED, verdict.message),)
        return _finalize(run, status, spec=spec, events=admitted, wake_at=run.now)
    status["phase"] = "Queued"
    _with_condition(run, status, "Unknown", "Queued", verdict.message)
    old = succeeded_condition(run.old_status)
    events = (Event("Normal", "Queued", verdict.message),) if old.get("reason") != "Queued" else ()
    return _finalize(
        run,
        status,
        spec=spec,
        events=events,
        wake_at=_earliest(deadline, _after(run.now, _QUEUE_RECHECK_SECONDS)),
    )


# ---------------------------------------------------------------- starting attempts


def _start_attempt(run: _Run, status: dict[str, Any], spec: TaskRunSpec, *, number: int) -> Plan:
    name = pod_name(run.name, run.uid, number)
    status.setdefault("attempts", [])
    status["attempts"] = [
        *status["attempts"],
        {"number": number, "podName": name, "createTime": format_time(run.now)},
    ]
    status.update(phase="Pending", attemptCount=number, podName=name)
    status.setdefault("startTime", format_time(run.now))
    status.pop("nextAttemptTime", None)
    _with_condition(
        run, status, "Unknown", "Pending", f"attempt {number}: pod {name} created, waiting for it to start"
    )
    deadlines = [
        _after(run.now, seconds) for seconds in (spec.pending_timeout_seconds,) if seconds is not None
    ]
    event = Event("Normal", "PodCreated", f"attempt {number}: created pod {name}")
    return _finalize(
        run,
        status,
        spec=spec,
        events=(event,),
        create_attempt=number,
        wake_at=_earliest(*deadlines),
        hold_back=True,
    )


def _plan_retrying(run: _Run, status: dict[str, Any], spec: TaskRunSpec, *, number: int) -> Plan:
    if spec.cancelled:
        return _cancelled(run, status, spec, f"cancelled while waiting to start attempt {number}", stop=None)
    due = parse_time(status.get("nextAttemptTime")) or run.now
    if run.now >= due:
        return _start_attempt(run, status, spec, number=number)
    return _finalize(run, status, spec=spec, wake_at=due)


# ---------------------------------------------------------------- the attempt in progress


def _stop_for(pod: PodKnowledge, name: str) -> StopPod | Literal["lookup"] | None:
    if pod == "unknown":
        return "lookup"
    if pod == "absent":
        return None
    if pod == "created":
        return StopPod(name=name, delete=True)
    if pod.finished or pod.deleting:
        return None
    return StopPod(name=name, delete=not pod.running)


def _plan_attempt(
    run: _Run, status: dict[str, Any], spec: TaskRunSpec, current: dict[str, Any], pod: PodKnowledge
) -> Plan:
    name = str(current.get("podName"))
    if pod == "unknown":
        return Plan(lookup_pod=name, spec=spec)
    if pod == "absent":
        return _end_attempt(run, status, spec, current, _outcomes.pod_deleted(name))
    if isinstance(pod, PodObservation) and pod.finished:
        outcome = _outcomes.terminated_outcome(pod)
        if pod.deleting and not outcome.succeeded:
            outcome = _outcomes.pod_deleted(name)
        return _end_attempt(run, status, spec, current, outcome, observation=pod)
    if isinstance(pod, PodObservation) and pod.deleting:
        return _end_attempt(run, status, spec, current, _outcomes.pod_deleted(name), observation=pod)
    if spec.cancelled:
        stop = _stop_for(pod, name)
        message = f"attempt {current.get('number')} cancelled; pod {name} stopped, its logs stay readable"
        _complete_attempt(run, current, reason="Cancelled", message="cancelled by spec.cancelled")
        return _cancelled(run, status, spec, message, stop=stop if isinstance(stop, StopPod) else None)
    # A pod held by scheduling gates (Kueue) waits for admission: pendingTimeout counts from its end.
    created = parse_time(current.get("admitTime") or current.get("createTime")) or run.now
    if pod == "created":
        limits = [_after(created, s) for s in (spec.pending_timeout_seconds,) if s is not None]
        return _finalize(run, status, spec=spec, wake_at=_earliest(*limits))
    if pod.running:
        return _plan_running(run, status, spec, current, pod)
    return _plan_pending(run, status, spec, current, pod, created=created)


def _plan_running(
    run: _Run, status: dict[str, Any], spec: TaskRunSpec, current: dict[str, Any], pod: PodObservation
) -> Plan:
    number = current.get("number")
    started = parse_time(current.get("startTime")) or pod.started_at or run.now
    current.setdefault("startTime", format_time(started))
    status["phase"] = "Running"
    _with_condition(run, status, "Unknown", "Running", f"attempt {number}: running in pod {pod.name}")
    if spec.timeout_seconds is not None:
        deadline = _after(started, spec.timeout_seconds)
        if run.now >= deadline:
            outcome = _outcomes.timeout(format_duration(spec.timeout_seconds))
            return _end_attempt(run, status, spec, current, outcome, stop=StopPod(pod.name, delete=False))
        events = (Event("Normal", "Running", f"attempt {number} started in pod {pod.name}"),)
        return _finalize(run, status, spec=spec, events=events, wake_at=deadline)
    events = (Event("Normal", "Running", f"attempt {number} started in pod {pod.name}"),)
    return _finalize(run, status, spec=spec, events=events)


def _plan_pending(
    run: _Run,
    status: dict[str, Any],
    spec: TaskRunSpec,
    current: dict[str, Any],
    pod: PodObservation,
    *,
    created: datetime.datetime,
) -> Plan:
    waiting = pod.waiting_reason or ""
    never_started = StopPod(pod.name, delete=True)
    if pod.scheduling_gates:
        status["phase"] = "Queued"
        message = (
            f"attempt {current.get('number')}: pod {pod.name} is held by scheduling gates "
            f"({', '.join(pod.scheduling_gates)}) until they are removed (e.g. Kueue admits its workload); "
            f"pendingTimeout counts from then"
        )
        _with_condition(run, status, "Unknown", "SchedulingGated", message)
        return _finalize(run, status, spec=spec, events=(Event("Normal", "SchedulingGated", message),))
    if status.get("phase") == "Queued" and "admitTime" not in current:
        current["admitTime"] = format_time(run.now)
        created = run.now
    if waiting == "InvalidImageName":
        return _end_attempt(run, status, spec, current, _outcomes.invalid_image(pod), stop=never_started)
    grace = run.settings.image_pull_grace_seconds
    grace_end = _after(created, grace)
    wakes: list[datetime.datetime] = []
    # A pod stuck creating says nothing in its own status: the kubelet says why in Events (FailedMount).
    silent = not pod.unschedulable_message and waiting in ("", "ContainerCreating")
    warning = pod.warning_reason if silent else None
    pending_end = (
        _after(created, spec.pending_timeout_seconds) if spec.pending_timeout_seconds is not None else None
    )
    if silent and warning is None:
        checked = pod.warnings_checked_at
        look_at = (
            _after(checked, _EVENTS_RECHECK_SECONDS) if checked else _after(created, _EVENTS_FIRST_SECONDS)
        )
        if pending_end is not None and checked is None:
            look_at = min(look_at, pending_end)  # the cause is worth one look before giving up
        if run.now >= look_at:
            return Plan(lookup_events=pod.name, spec=spec)
        wakes.append(look_at)
    if (
        waiting in _outcomes.IMAGE_PULL_REASONS
        or waiting in _outcomes.CONFIG_ERROR_REASONS
        or (warning in _outcomes.VOLUME_ERROR_REASONS)
    ):
        if run.now >= grace_end:
            if waiting in _outcomes.IMAGE_PULL_REASONS:
                outcome = _outcomes.image_pull_failed(pod, format_duration(grace))
            elif waiting in _outcomes.CONFIG_ERROR_REASONS:
                outcome = _outcomes.config_error(pod, format_duration(grace))
            else:
                outcome = _outcomes.volume_error(pod, format_duration(grace))
            return _end_attempt(run, status, spec, current, outcome, stop=never_started)
        wakes.append(grace_end)
    # An unscheduled pod's container states mean nothing yet (no kubelet has it): the scheduler's word wins.
    if pod.unschedulable_message:
        reason, message = "Unschedulable", pod.unschedulable_message
    elif warning is not None:
        reason, message = warning, pod.warning_message or warning
    else:
        reason, message = waiting or "Pending", pod.waiting_message or "waiting for the pod to start"
    if pending_end is not None and spec.pending_timeout_seconds is not None:
        if run.now >= pending_end:
            outcome = _outcomes.pending_timeout(
                reason, message, format_duration(spec.pending_timeout_seconds)
            )
            return _end_attempt(run, status, spec, current, outcome, stop=never_started)
        wakes.append(pending_end)
    status["phase"] = "Pending"
    _with_condition(run, status, "Unknown", reason, f"attempt {current.get('number')}: {message}")
    events = (
        (Event("Warning", reason, message),)
        if waiting in _outcomes.IMAGE_PULL_REASONS | _outcomes.CONFIG_ERROR_REASONS
        or reason == "Unschedulable"
        or warning is not None
        else ()
    )
    return _finalize(
        run,
        status,
        spec=spec,
        events=events,
        wake_at=_earliest(*wakes),
        hold_back=reason in ("Pending", "ContainerCreating") and not events,
    )


# ---------------------------------------------------------------- ending attempts and runs


def _complete_attempt(
    run: _Run,
    current: dict[str, Any],
    *,
    reason: str,
    message: str,
    kind: str | None = None,
    exit_code: int | None = None,
    observation: PodObservation | None = None,
) -> None:
    if observation is not None and observation.started_at is not None:
        current.setdefault("startTime", format_time(observation.started_at))
    finished = observation.finished_at if observation is not None and observation.finished_at else run.now
    current.update(completionTime=format_time(finished), reason=reason, message=cut(message))
    if kind is not None:
        current["errorKind"] = kind
    if exit_code is not None:
        current["exitCode"] = exit_code


def _retries_used(attempts: list[dict[str, Any]], kind: str) -> int:
    """Earlier attempts that failed for a recoverable reason of ``kind`` (each one used a retry)."""
    return sum(1 for attempt in attempts[:-1] if attempt.get("errorKind") == kind)


def _end_attempt(
    run: _Run,
    status: dict[str, Any],
    spec: TaskRunSpec,
    current: dict[str, Any],
    outcome: Outcome,
    *,
    stop: StopPod | None = None,
    observation: PodObservation | None = None,
) -> Plan:
    number = int(current.get("number") or 1)
    _complete_attempt(
        run,
        current,
        reason=outcome.reason,
        message=outcome.message,
        kind=outcome.error_kind,
        exit_code=outcome.exit_code,
        observation=observation,
    )
    if outcome.succeeded:
        return _succeed(run, status, spec, number, outcome)
    attempts: list[dict[str, Any]] = status["attempts"]
    kind = outcome.error_kind or "SYSTEM"
    limit = spec.retries if kind == "USER" else run.settings.system_retries
    used = _retries_used(attempts, kind)
    failure = f"attempt {number} failed ({outcome.reason}): {outcome.message}"
    if outcome.recoverable and used < limit:
        delay = spec.backoff.delay(len(attempts))
        due = _after(run.now, delay)
        budget = "retries" if kind == "USER" else "system retries"
        status.update(phase="Retrying", nextAttemptTime=format_time(due))
        message = (
            f"{failure}; attempt {number + 1} starts at {format_time(due)} "
            f"(backoff {format_duration(delay)}, {budget} used {used + 1} of {limit})"
        )
        _with_condition(run, status, "Unknown", "Retrying", message)
        events = (Event("Warning", "Retrying", cut(message)),)
        return _finalize(run, status, spec=spec, events=events, stop=stop, wake_at=due)
    if outcome.recoverable:
        failure += (
            f" (no retries left: {used} of {limit} {'retries' if kind == 'USER' else 'system retries'} used)"
        )
    status["error"] = outcome.error()
    return _fail(run, status, spec=spec, reason=outcome.reason, message=failure, stop=stop)


def _succeed(run: _Run, status: dict[str, Any], spec: TaskRunSpec, number: int, outcome: Outcome) -> Plan:
    status.update(phase="Succeeded", completionTime=format_time(run.now))
    for key in ("nextAttemptTime", "error", "outputs", "outputsUri"):
        status.pop(key, None)
    message = f"attempt {number} succeeded"
    if outcome.outputs is not None:
        status["outputs"] = outcome.outputs
    # Without storage the outputs URI names the pod's scratch space, which is gone with the pod.
    stored = run.has_storage and outcome.outputs_uri is not None
    if stored:
        status["outputsUri"] = outcome.outputs_uri
    if outcome.outputs is None and outcome.outputs_truncated:
        if stored:
            message += (
                f"; its outputs did not fit in the 4096-byte termination message: read them from "
                f"{outcome.outputs_uri}"
            )
        elif outcome.outputs_uri is not None:
            message += (
                "; its outputs did not fit in the 4096-byte termination message and no storage is "
                "configured (spec.outputPrefix or the operator's KUBETASK_STORAGE_PREFIX), so they "
                "were lost with the pod's scratch space"
            )
        else:
            message += "; it reported no outputs"
    _with_condition(run, status, "True", "Succeeded", message)
    return _finalize(run, status, spec=spec, events=(Event("Normal", "Succeeded", message),))


def _fail(
    run: _Run,
    status: dict[str, Any],
    *,
    spec: TaskRunSpec | None,
    reason: str,
    message: str,
    stop: StopPod | Literal["lookup"] | None = None,
) -> Plan:
    status.update(phase="Failed", completionTime=format_time(run.now))
    status.pop("nextAttemptTime", None)
    status.pop("outputs", None)
    if "error" not in status or reason == REASON_INVALID_SPEC:
        status["error"] = {"kind": "USER", "recoverable": False, "type": reason, "message": cut(message)}
    _with_condition(run, status, "False", reason, message)
    events = (Event("Warning", reason, cut(message)),)
    return _finalize(run, status, spec=spec, events=events, stop=stop if isinstance(stop, StopPod) else None)


def _cancelled(
    run: _Run, status: dict[str, Any], spec: TaskRunSpec, message: str, *, stop: StopPod | None
) -> Plan:
    status.update(phase="Cancelled", completionTime=format_time(run.now))
    status.pop("nextAttemptTime", None)
    _with_condition(run, status, "False", "Cancelled", message)
    return _finalize(run, status, spec=spec, events=(Event("Normal", "Cancelled", message),), stop=stop)
