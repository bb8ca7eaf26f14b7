"""The queue's pure decisions: who is admitted, in what order, and what a waiting TaskRun says."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubetask_client._display import why_waiting
from kubetask_client._taskrun import progress_line
from kubetask_operator import SettingsError, load_settings
from kubetask_operator._observe import observe_pod
from kubetask_operator._queue_plan import DEFAULT_QUEUE, Member, Verdict, counts, decide, member_of, ordinal
from kubetask_operator._reconcile import plan
from kubetask_operator._settings import Settings

from ._factories import NOW, at, in_progress, pod, stamp, taskrun

SETTINGS = Settings(system_retries=1, image_pull_grace_seconds=30)


def _m(
    name: str, *, priority: int = 0, created: int = 0, admitted: bool = False, done: bool = False
) -> Member:
    return Member(name=name, priority=priority, created=stamp(created), admitted=admitted, finished=done)


@pytest.mark.parametrize(
    ("limit", "members", "admitted", "waiting"),
    [
        pytest.param(
            2, [_m("a"), _m("b", created=1), _m("c", created=2)], ["a", "b"], ["c"], id="first-come"
        ),
        pytest.param(
            2,
            [_m("a", admitted=True), _m("b", admitted=True), _m("c")],
            [],
            ["c"],
            id="full",
        ),
        pytest.param(
            2,
            [_m("a", admitted=True, done=True), _m("b", admitted=True), _m("c"), _m("d", created=1)],
            ["c"],
            ["d"],
            id="finished-runs-free-their-slot",
        ),
        pytest.param(
            1,
            [_m("old"), _m("urgent", priority=5, created=9)],
            ["urgent"],
            ["old"],
            id="priority-before-age",
        ),
        pytest.param(1, [_m("b"), _m("a")], ["a"], ["b"], id="same-time-by-name"),
        pytest.param(None, [_m("a")], [], ["a"], id="no-such-queue-admits-nothing"),
        pytest.param(0, [_m("a")], [], ["a"], id="zero-holds-every-run"),
        pytest.param(
            1,
            [_m("a", admitted=True), _m("b", admitted=True), _m("c")],
            [],
            ["c"],
            id="over-the-limit-after-a-lowering",
        ),
    ],
)
def test_admission_order(
    limit: int | None, members: list[Member], admitted: list[str], waiting: list[str]
) -> None:
    verdicts = decide("q", limit, members)
    assert [name for name, v in verdicts.items() if v.admit] == admitted
    assert [name for name, v in verdicts.items() if not v.admit] == waiting
    assert [verdicts[name].position for name in waiting] == list(range(1, len(waiting) + 1))


def test_a_waiting_run_says_its_place_and_why() -> None:
    members = [_m(f"r{i}", admitted=i < 4, created=i) for i in range(7)]
    verdicts = decide("gpu", 4, members)
    assert verdicts["r6"].message == "3rd in queue gpu: 4 of 4 running"
    assert decide("gpu", None, [_m("a")])["a"].message == (
        "1st in queue gpu: TaskQueue gpu does not exist in this namespace; waiting for it to be created"
    )


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (102, "102nd"),
        (111, "111th"),
    ],
)
def test_ordinal(number: int, text: str) -> None:
    assert ordinal(number) == text


def test_members_and_counts_come_from_the_taskruns_alone() -> None:
    running = taskrun({"queue": "q", "priority": 3}, {"phase": "Running", "admittedAt": stamp()}, name="a")
    done = taskrun({"queue": "q"}, {"phase": "Succeeded", "admittedAt": stamp()}, name="b")
    waiting = taskrun({"queue": "q"}, {"phase": "Queued"}, name="c")
    deleting = taskrun(
        {"queue": "q"}, {"phase": "Running", "admittedAt": stamp()}, name="d", deletionTimestamp=stamp()
    )
    members = [member_of(body) for body in (running, done, waiting, deleting)]
    assert members[0] == Member(name="a", priority=3, created=stamp(-60), admitted=True, finished=False)
    assert counts(members) == (1, 1)


# ---------------------------------------------------------------- plan() of a run naming a queue

ADMIT = Verdict(admit=True, position=0, message="admitted by queue q: 1 of 2 running")
WAIT = Verdict(admit=False, position=3, message="3rd in queue q: 2 of 2 running")


def _queued(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, **kw: Any) -> Any:
    return plan(taskrun({"queue": "q", **(spec or {})}, status), pod="unknown", settings=SETTINGS, **kw)


def test_a_run_beyond_the_limit_waits_queued_without_a_pod() -> None:
    result = _queued(now=NOW, admission=WAIT)
    assert result.create_attempt is None
    assert result.status is not None
    assert result.status["phase"] == "Queued"
    assert "attempts" not in result.status
    assert "startTime" not in result.status
    (condition,) = result.status["conditions"]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "Unknown",
        "Queued",
        "3rd in queue q: 2 of 2 running",
    )
    assert result.wake_at is not None  # it looks again even if nothing wakes it


def test_admission_is_written_before_any_pod_then_the_attempt_starts() -> None:
    admitted = _queued(now=NOW, admission=ADMIT)
    assert admitted.create_attempt is None
    assert admitted.status is not None
    assert admitted.status["admittedAt"] == stamp()
    assert admitted.wake_at == NOW
    started = _queued(status=admitted.status, now=at(1))
    assert started.create_attempt == 1
    assert started.status is not None
    assert started.status["admittedAt"] == stamp()


def test_timeouts_do_not_run_while_queued_but_queue_timeout_does() -> None:
    spec = {"pendingTimeout": "1s", "timeout": "1s", "queueTimeout": "2m"}
    still = _queued(spec, now=at(30), admission=WAIT)  # created at -60s: 90 s queued
    assert still.status is not None
    assert still.status["phase"] == "Queued"
    assert still.wake_at == at(60)
    ended = _queued(spec, now=at(60), admission=WAIT)
    assert ended.status is not None
    assert ended.status["phase"] == "Failed"
    (condition,) = ended.status["conditions"]
    assert condition["reason"] == "QueueTimeout"
    assert condition["message"] == "not admitted within queueTimeout 2m: 3rd in queue q: 2 of 2 running"


def test_a_queued_run_can_be_cancelled() -> None:
    result = _queued({"cancelled": True}, {"phase": "Queued"}, now=NOW, admission=WAIT)
    assert result.status is not None
    assert result.status["phase"] == "Cancelled"


def test_an_invalid_queue_name_fails_the_run_naming_the_field() -> None:
    result = plan(taskrun({"queue": "Not_A_Name"}), pod="unknown", settings=SETTINGS, now=NOW)
    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert "spec.queue" in result.status["conditions"][0]["message"]


# ---------------------------------------------------------------- Kueue: pods held by scheduling gates


def test_a_pod_with_scheduling_gates_and_no_node_is_gated() -> None:
    raw: dict[str, Any] = {
        "metadata": {"name": "p"},
        "spec": {"schedulingGates": [{"name": "kueue.x-k8s.io/admission"}]},
    }
    assert observe_pod(raw).scheduling_gates == ("kueue.x-k8s.io/admission",)
    assert observe_pod({**raw, "spec": {}}).scheduling_gates == ()


def test_a_gated_pod_is_queued_and_pending_timeout_counts_from_its_release() -> None:
    gated = dataclasses.replace(pod(phase="Pending"), scheduling_gates=("kueue.x-k8s.io/admission",))
    spec = {"pendingTimeout": "30s"}
    held = plan(taskrun(spec, in_progress()), pod=gated, now=at(600), settings=SETTINGS)
    assert held.status is not None
    assert held.status["phase"] == "Queued"
    assert held.status["conditions"][0]["reason"] == "SchedulingGated"
    assert "kueue.x-k8s.io/admission" in held.status["conditions"][0]["message"]
    waiting = pod(phase="Pending", unschedulable=True)
    released = plan(taskrun(spec, held.status), pod=waiting, now=at(601), settings=SETTINGS)
    assert released.status is not None
    assert released.status["phase"] == "Pending"
    assert released.status["attempts"][-1]["admitTime"] == stamp(601)
    assert released.wake_at is not None
    assert released.wake_at <= at(631)
    not_yet = plan(taskrun(spec, released.status), pod=waiting, now=at(630), settings=SETTINGS)
    assert not_yet.status is None  # 29 s after the release (640 s after creation): within pendingTimeout
    later = plan(taskrun(spec, released.status), pod=waiting, now=at(640), settings=SETTINGS)
    assert later.status is not None
    assert "within spec.pendingTimeout (30s)" in later.status["attempts"][-1]["message"]
    assert later.status["phase"] == "Failed"


def test_describe_says_why_a_queued_run_waits() -> None:
    result = _queued(now=NOW, admission=WAIT)
    assert result.status is not None
    body = taskrun({"queue": "q"}, result.status)
    assert why_waiting(body, None) == "Queued: 3rd in queue q: 2 of 2 running"
    assert progress_line(body) == "Queued: 3rd in queue q: 2 of 2 running"


# ---------------------------------------------------------------- KUBETASK_DEFAULT_QUEUE_MAX_RUNNING


def test_a_default_limit_queues_runs_that_name_no_queue() -> None:
    limited = Settings(system_retries=1, image_pull_grace_seconds=30, default_queue_max_running=1)
    members = [_m("running", admitted=True), _m("demo", created=1)]
    verdict = decide(DEFAULT_QUEUE, 1, members)["demo"]
    result = plan(taskrun(), pod="unknown", now=NOW, settings=limited, admission=verdict)
    assert result.status is not None
    assert result.status["phase"] == "Queued"
    assert result.status["conditions"][0]["message"] == (
        "1st in the namespace's default queue (KUBETASK_DEFAULT_QUEUE_MAX_RUNNING): 1 of 1 running"
    )
    unlimited = plan(taskrun(), pod="unknown", now=NOW, settings=SETTINGS)
    assert unlimited.create_attempt == 1


def test_runs_started_before_a_default_limit_count_as_running() -> None:
    started = taskrun({}, in_progress(), name="old")
    assert member_of(started).admitted


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(None, None, id="unset"), pytest.param("0", 0, id="zero"), pytest.param("8", 8, id="eight")],
)
def test_the_default_limit_setting(value: str | None, expected: int | None) -> None:
    env = {} if value is None else {"KUBETASK_DEFAULT_QUEUE_MAX_RUNNING": value}
    assert load_settings(env).default_queue_max_running == expected


def test_a_bad_default_limit_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="KUBETASK_DEFAULT_QUEUE_MAX_RUNNING='-2'"):
        load_settings({"KUBETASK_DEFAULT_QUEUE_MAX_RUNNING": "-2"})
