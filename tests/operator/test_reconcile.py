"""plan(): from a TaskRun and what its pod says to the next status and actions — every reason, retries,
backoff, cancel, timeouts, TTL. Pure: no cluster."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from kubetask_operator import _outcomes, load_crd
from kubetask_operator._cache import CacheDecision, cache_key
from kubetask_operator._observe import PodObservation
from kubetask_operator._outcomes import Refusal
from kubetask_operator._queue_plan import Verdict
from kubetask_operator._reconcile import Plan, PodKnowledge, StopPod, plan, plan_refused
from kubetask_operator._settings import Settings
from kubetask_operator._spec import parse_spec

from ._factories import NOW, at, failed_attempt, in_progress, pod, stamp, summary, taskrun

SETTINGS = Settings(system_retries=1, image_pull_grace_seconds=30)
USER_FAILED = summary(
    {
        "outcome": "Failed",
        "error": {"kind": "USER", "recoverable": False, "type": "ValueError", "message": "bad"},
    }
)
USER_RECOVERABLE = summary(
    {
        "outcome": "Failed",
        "error": {"kind": "USER", "recoverable": True, "type": "my.Flaky", "message": "again"},
    }
)
SYSTEM_FAILED = summary(
    {
        "outcome": "Failed",
        "error": {"kind": "SYSTEM", "recoverable": True, "type": "OSError", "message": "s3 down"},
    }
)

# Termination messages (at most 4096 bytes) a task can write itself: outputs past the nesting limit, and
# nested past what Python's json module decodes without RecursionError.
DEEP_OUTPUTS = summary({"outcome": "Succeeded", "outputs": {"o0": json.loads("[" * 150 + "]" * 150)}})
TOO_DEEP_TO_PARSE = '{"outcome":"Succeeded","outputs":{"o0":' + "[" * 2000 + "]" * 2000 + "}}"


def looked_at(
    observation: PodObservation, reason: str | None = None, message: str | None = None
) -> PodObservation:
    """The pod after its Events were looked up a second ago: they said ``reason`` (or nothing)."""
    return dataclasses.replace(
        observation, warning_reason=reason, warning_message=message, warnings_checked_at=at(-1)
    )


def _plan(
    knowledge: PodKnowledge,
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    now: float = 0,
    settings: Settings = SETTINGS,
) -> Plan:
    body = taskrun(
        {"retries": 1, "backoff": {"initialSeconds": 4, "factor": 3, "maxSeconds": 100}, **(spec or {})},
        status if status is not None else in_progress(),
    )
    return plan(body, pod=knowledge, now=at(now), settings=settings)


def _condition(result: Plan) -> dict[str, Any]:
    assert result.status is not None
    (condition,) = result.status["conditions"]
    return condition


# ---------------------------------------------------------------- how attempts end


ENDINGS = [
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 1, "message": USER_FAILED}),
        0,
        "Failed",
        "UserError",
        "USER",
        id="user-error-not-recoverable-fails-at-once",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 1, "message": USER_RECOVERABLE}),
        0,
        "Retrying",
        "UserError",
        "USER",
        id="recoverable-user-error-uses-retries",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 3, "message": SYSTEM_FAILED}),
        0,
        "Retrying",
        "SystemError",
        "SYSTEM",
        id="system-error-uses-system-budget",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 137, "reason": "OOMKilled"}),
        0,
        "Retrying",
        "OOMKilled",
        "USER",
        id="oom-killed-is-a-recoverable-user-failure",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 137, "reason": "Error"}),
        0,
        "Retrying",
        "Killed",
        "SYSTEM",
        id="sigkill-without-oom-is-a-system-failure",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 143, "reason": "Error"}),
        0,
        "Retrying",
        "Terminated",
        "SYSTEM",
        id="sigterm-from-outside-is-a-system-failure",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 2, "message": "usage: kubetask-execute"}),
        0,
        "Failed",
        "UsageError",
        "SYSTEM",
        id="usage-error-is-not-retried",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 128, "reason": "StartError", "message": "no such file"}),
        0,
        "Failed",
        "StartError",
        "USER",
        id="image-without-kubetask",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 1, "message": "Traceback...\nKeyError: 'x'"}),
        0,
        "Failed",
        "UserError",
        "USER",
        id="exit-1-without-summary-shows-the-log-tail",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 42}),
        0,
        "Failed",
        "UserError",
        "USER",
        id="unknown-exit-code",
    ),
    pytest.param(
        pod(phase="Failed", pod_reason="Evicted", pod_message="The node was low on resource: memory."),
        0,
        "Retrying",
        "Evicted",
        "SYSTEM",
        id="evicted",
    ),
    pytest.param(
        pod(
            phase="Failed",
            terminated={"exitCode": 143},
            conditions=[{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}],
        ),
        0,
        "Retrying",
        "Evicted",
        "SYSTEM",
        id="preempted-disruption-target",
    ),
    pytest.param(
        pod(phase="Failed", pod_reason="NodeLost", pod_message="node vanished"),
        0,
        "Retrying",
        "NodeLost",
        "SYSTEM",
        id="node-lost",
    ),
    *(
        pytest.param(
            pod(
                phase="Failed",
                terminated={"exitCode": 137},
                conditions=[{"type": "DisruptionTarget", "status": "True", "reason": disruption}],
            ),
            0,
            "Retrying",
            "NodeLost",
            "SYSTEM",
            id=f"node-lost-{disruption}",
        )
        for disruption in ("DeletionByTaintManager", "DeletionByPodGC")
    ),
    pytest.param(
        pod(phase="Succeeded", terminated={"exitCode": 0}),
        0,
        "Failed",
        "NoSummary",
        "USER",
        id="exit-0-without-a-summary-is-not-a-success",
    ),
    pytest.param(
        pod(phase="Succeeded", terminated={"exitCode": 0, "message": "done, bye\n"}),
        0,
        "Failed",
        "NoSummary",
        "USER",
        id="exit-0-with-a-log-tail-for-a-summary",
    ),
    pytest.param(
        pod(phase="Succeeded", terminated={"exitCode": 0, "message": USER_FAILED}),
        0,
        "Failed",
        "NoSummary",
        "USER",
        id="exit-0-with-a-failure-summary",
    ),
    pytest.param(
        pod(phase="Succeeded", terminated={"exitCode": 0, "message": DEEP_OUTPUTS}),
        0,
        "Failed",
        "InvalidOutputs",
        "USER",
        id="outputs-nested-past-the-limit",
    ),
    pytest.param(
        pod(phase="Succeeded", terminated={"exitCode": 0, "message": TOO_DEEP_TO_PARSE}),
        0,
        "Failed",
        "InvalidOutputs",
        "USER",
        id="termination-message-nested-past-python",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 1, "message": TOO_DEEP_TO_PARSE}),
        0,
        "Failed",
        "UserError",
        "USER",
        id="failure-with-a-deep-termination-message",
    ),
    pytest.param(
        pod(phase="Failed", pod_reason="UnexpectedAdmissionError", pod_message="admission failed"),
        0,
        "Retrying",
        "PodFailed",
        "SYSTEM",
        id="pod-failed-as-a-whole-without-its-container-ending",
    ),
    pytest.param(
        pod(phase="Failed", pod_reason="DeadlineExceeded", terminated={"exitCode": 143}),
        0,
        "Retrying",
        "Timeout",
        "USER",
        id="backstop-deadline-exceeded-is-a-timeout",
    ),
    pytest.param("absent", 0, "Retrying", "PodDeleted", "SYSTEM", id="pod-deleted-externally"),
    pytest.param(
        pod(phase="Running", running=True, deleting=True),
        0,
        "Retrying",
        "PodDeleted",
        "SYSTEM",
        id="pod-being-deleted-externally",
    ),
    pytest.param(
        pod(phase="Failed", terminated={"exitCode": 143}, deleting=True),
        0,
        "Retrying",
        "PodDeleted",
        "SYSTEM",
        id="pod-deleted-and-terminated",
    ),
    pytest.param(
        pod(waiting=("InvalidImageName", "couldn't parse image name")),
        0,
        "Failed",
        "InvalidImageName",
        "USER",
        id="invalid-image-name-fails-at-once",
    ),
    pytest.param(
        pod(waiting=("ImagePullBackOff", "Back-off pulling image")),
        25,
        "Failed",
        "ImagePullFailed",
        "USER",
        id="image-pull-failure-after-the-grace-period",
    ),
    pytest.param(
        pod(waiting=("ErrImagePull", "not found")),
        25,
        "Failed",
        "ImagePullFailed",
        "USER",
        id="err-image-pull-after-the-grace-period",
    ),
    pytest.param(
        pod(waiting=("CreateContainerConfigError", 'secret "creds" not found')),
        25,
        "Failed",
        "CreateContainerConfigError",
        "USER",
        id="missing-secret-after-the-grace-period",
    ),
    *(
        pytest.param(
            pod(waiting=(waiting, "cannot pull")),
            25,
            "Failed",
            "ImagePullFailed",
            "USER",
            id=f"{waiting}-after-the-grace-period",
        )
        for waiting in ("ErrImageNeverPull", "RegistryUnavailable")
    ),
    *(
        pytest.param(
            pod(waiting=(waiting, "cannot create")),
            25,
            "Failed",
            waiting,
            "USER",
            id=f"{waiting}-after-the-grace-period",
        )
        for waiting in ("CreateContainerError", "RunContainerError")
    ),
]


@pytest.mark.parametrize(("knowledge", "now", "phase", "reason", "kind"), ENDINGS)
def test_how_an_attempt_ends_decides_the_reason_and_the_retry(
    knowledge: PodKnowledge, now: float, phase: str, reason: str, kind: str
) -> None:
    result = _plan(knowledge, now=now)
    assert result.status is not None
    assert result.status["phase"] == phase
    (attempt,) = result.status["attempts"]
    assert attempt["reason"] == reason
    assert attempt["errorKind"] == kind
    assert attempt["completionTime"]
    condition = _condition(result)
    assert condition["reason"] == ("Retrying" if phase == "Retrying" else reason)
    assert condition["status"] == ("Unknown" if phase == "Retrying" else "False")
    if phase == "Failed":
        assert result.status["error"]["kind"] == kind
        assert result.status["completionTime"] == stamp(now)
    else:
        assert "error" not in result.status
        assert result.status["nextAttemptTime"] == stamp(now + 4)
        assert result.wake_at == at(now + 4)


def test_success_reports_the_outputs_from_the_termination_message() -> None:
    message = summary(
        {"outcome": "Succeeded", "outputs": {"o0": 3}, "outputsUri": "s3://b/team/demo/1/outputs.json"}
    )
    result = _plan(
        pod(phase="Succeeded", terminated={"exitCode": 0, "message": message}),
        spec={"outputPrefix": "s3://b/team/demo"},
    )
    assert result.status is not None
    assert result.status["phase"] == "Succeeded"
    assert result.status["outputs"] == {"o0": 3}
    assert result.status["outputsUri"] == "s3://b/team/demo/1/outputs.json"
    assert result.status["attempts"][0]["exitCode"] == 0
    assert _condition(result) | {"lastTransitionTime": None} == {
        "type": "Succeeded",
        "status": "True",
        "reason": "Succeeded",
        "message": "attempt 1 succeeded",
        "lastTransitionTime": None,
        "observedGeneration": 1,
    }
    assert [event.reason for event in result.events] == ["Succeeded"]


def test_outputs_too_large_for_the_message_are_named_by_uri_with_storage() -> None:
    message = summary({"outcome": "Succeeded", "outputsUri": "s3://b/1/outputs.json", "truncated": True})
    result = _plan(
        pod(phase="Succeeded", terminated={"exitCode": 0, "message": message}),
        settings=Settings(storage_prefix="s3://b"),
    )
    assert result.status is not None
    assert "outputs" not in result.status
    assert result.status["outputsUri"] == "s3://b/1/outputs.json"
    assert "read them from s3://b/1/outputs.json" in _condition(result)["message"]


def test_outputs_too_large_without_storage_say_plainly_they_were_lost() -> None:
    message = summary(
        {
            "outcome": "Succeeded",
            "outputsUri": "/var/run/kubetask/scratch/outputs/outputs.json",
            "truncated": True,
        }
    )
    result = _plan(pod(phase="Succeeded", terminated={"exitCode": 0, "message": message}))
    assert result.status is not None
    assert "outputs" not in result.status
    assert "outputsUri" not in result.status
    assert "no storage is configured" in _condition(result)["message"]


def test_a_failure_summary_fills_status_error() -> None:
    result = _plan(pod(phase="Failed", terminated={"exitCode": 1, "message": USER_FAILED}))
    assert result.status is not None
    assert result.status["error"] == {
        "kind": "USER",
        "recoverable": False,
        "type": "ValueError",
        "message": "ValueError: bad",
    }
    assert result.status["attempts"][0]["exitCode"] == 1


# ---------------------------------------------------------------- attempts still in progress


def test_a_new_taskrun_gets_its_first_pod() -> None:
    body = taskrun()
    result = plan(body, pod="unknown", now=NOW, settings=SETTINGS)
    assert result.create_attempt == 1
    assert result.status is not None
    assert result.status["phase"] == "Pending"
    assert result.status["attemptCount"] == 1
    assert result.status["attempts"] == [
        {"number": 1, "podName": result.status["podName"], "createTime": stamp()}
    ]
    assert result.status["observedGeneration"] == 1
    assert _condition(result)["status"] == "Unknown"
    assert [event.reason for event in result.events] == ["PodCreated"]


def test_a_running_pod_makes_the_taskrun_running() -> None:
    result = _plan(pod(phase="Running", running=True))
    assert result.status is not None
    assert result.status["phase"] == "Running"
    assert result.status["attempts"][0]["startTime"] == stamp(-5)
    assert result.create_attempt is None
    assert result.stop is None


def test_the_same_state_twice_writes_nothing() -> None:
    first = _plan(pod(phase="Running", running=True))
    assert first.status is not None
    again = plan(
        taskrun({"retries": 1}, first.status),
        pod=pod(phase="Running", running=True),
        now=at(1),
        settings=SETTINGS,
    )
    assert again.status is None
    assert again.events == ()


def test_last_transition_time_moves_only_when_the_condition_status_changes() -> None:
    pending = _plan(looked_at(pod(phase="Pending")), now=0)
    assert pending.status is not None
    running = plan(
        taskrun({}, pending.status), pod=pod(phase="Running", running=True), now=at(3), settings=SETTINGS
    )
    assert running.status is not None
    assert _condition(running)["lastTransitionTime"] == _condition(pending)["lastTransitionTime"]
    assert _condition(running)["reason"] == "Running"


WAITING = [
    pytest.param(
        pod(waiting=("ImagePullBackOff", "Back-off pulling image")),
        "ImagePullBackOff",
        at(20),
        id="image-pull-within-grace-waits-for-the-grace-end",
    ),
    pytest.param(
        pod(waiting=("CreateContainerConfigError", "secret not found")),
        "CreateContainerConfigError",
        at(20),
        id="config-error-within-grace",
    ),
    pytest.param(pod(unschedulable=True), "Unschedulable", None, id="unschedulable-waits"),
    pytest.param(
        looked_at(pod(waiting=("ContainerCreating", ""))),
        "ContainerCreating",
        at(29),
        id="container-creating",
    ),
    pytest.param(
        looked_at(pod(waiting=("ContainerCreating", "")), "FailedMount", 'secret "nope" not found'),
        "FailedMount",
        at(20),
        id="failed-mount-within-grace",
    ),
]


@pytest.mark.parametrize(("knowledge", "reason", "wake"), WAITING)
def test_a_waiting_pod_keeps_the_taskrun_pending_with_the_reason(
    knowledge: PodKnowledge, reason: str, wake: Any
) -> None:
    result = _plan(knowledge)
    assert result.status is not None
    assert result.status["phase"] == "Pending"
    assert _condition(result)["reason"] == reason
    assert result.wake_at == wake
    assert result.stop is None


@pytest.mark.parametrize(
    ("knowledge", "reason", "phase"),
    [
        pytest.param(pod(unschedulable=True), "Unschedulable", "Retrying", id="unschedulable"),
        pytest.param(
            looked_at(pod(waiting=("ContainerCreating", ""))),
            "PendingTimeout",
            "Retrying",
            id="container-creating",
        ),
        pytest.param(
            looked_at(pod(waiting=("ContainerCreating", "")), "FailedMount", 'configmap "cm" not found'),
            "FailedMount",
            "Failed",
            id="failed-mount",
        ),
        pytest.param(pod(waiting=("ImagePullBackOff", "x")), "ImagePullFailed", "Failed", id="image-pull"),
    ],
)
def test_pending_timeout_fails_the_attempt_with_what_it_waited_on(
    knowledge: PodKnowledge, reason: str, phase: str
) -> None:
    result = _plan(
        knowledge, spec={"pendingTimeout": "5s"}, now=0, settings=Settings(image_pull_grace_seconds=600)
    )
    assert result.status is not None
    assert result.status["attempts"][0]["reason"] == reason
    assert result.status["phase"] == phase
    assert result.stop == StopPod(knowledge.name, delete=True)  # type: ignore[union-attr]


def test_a_pod_silent_in_container_creating_has_its_events_looked_up() -> None:
    result = _plan(pod(waiting=("ContainerCreating", "")), now=0)  # created 10 s ago, never looked at
    assert result.lookup_events is not None
    assert result.status is None
    early = _plan(pod(waiting=("ContainerCreating", "")), now=-6)
    assert early.lookup_events is None
    assert early.wake_at == at(-5)


def test_the_events_are_looked_up_once_before_pending_timeout_gives_up() -> None:
    # The attempt began at -10 s: pendingTimeout ends at -8 s, before the first regular look at -5 s.
    result = _plan(pod(waiting=("ContainerCreating", "")), spec={"pendingTimeout": "2s"}, now=-8)
    assert result.lookup_events is not None
    looked = _plan(looked_at(pod(waiting=("ContainerCreating", ""))), spec={"pendingTimeout": "2s"}, now=-8)
    assert looked.status is not None
    assert looked.status["attempts"][0]["reason"] == "PendingTimeout"


def test_a_volume_that_cannot_be_mounted_fails_after_the_grace_with_the_kubelets_message() -> None:
    message = 'MountVolume.SetUp failed for volume "creds" : secret "nope" not found'
    result = _plan(looked_at(pod(waiting=("ContainerCreating", "")), "FailedMount", message), now=25)
    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert _condition(result)["reason"] == "FailedMount"
    assert 'secret "nope" not found' in _condition(result)["message"]


def test_pending_timeout_not_reached_schedules_a_wake_up() -> None:
    result = _plan(pod(unschedulable=True), spec={"pendingTimeout": "1m"})
    assert result.wake_at == at(50)


def test_timeout_stops_the_pod_without_deleting_it() -> None:
    knowledge = pod(phase="Running", running=True)
    result = _plan(knowledge, spec={"timeout": "3s"}, status=in_progress(started=True, phase="Running"))
    assert result.stop == StopPod(knowledge.name, delete=False)
    assert result.status is not None
    assert result.status["attempts"][0]["reason"] == "Timeout"
    assert result.status["phase"] == "Retrying"


def test_timeout_not_reached_schedules_a_wake_up_at_the_deadline() -> None:
    result = _plan(pod(phase="Running", running=True), spec={"timeout": "1h"})
    assert result.wake_at == at(-5 + 3600)
    assert result.stop is None


def test_an_unknown_pod_is_looked_up_before_anything_is_decided() -> None:
    result = _plan("unknown")
    assert result.lookup_pod == in_progress()["podName"]
    assert result.status is None
    assert result.create_attempt is None


def test_a_pod_just_created_is_waited_for() -> None:
    result = _plan("created")
    assert result.status is None
    assert result.create_attempt is None
    assert result.stop is None


# ---------------------------------------------------------------- retries and backoff


def test_retries_are_counted_per_budget() -> None:
    earlier = [failed_attempt(1, "SYSTEM", "PodDeleted")]
    status = in_progress(2, earlier=earlier)
    result = _plan(
        pod(attempt=2, phase="Failed", terminated={"exitCode": 1, "message": USER_RECOVERABLE}), status=status
    )
    assert result.status is not None
    assert result.status["phase"] == "Retrying", "a system retry must not use the user's retries"
    assert "retries used 1 of 1" in _condition(result)["message"]


def test_no_retries_left_fails_and_says_so() -> None:
    earlier = [failed_attempt(1, "USER")]
    result = _plan(
        pod(attempt=2, phase="Failed", terminated={"exitCode": 1, "message": USER_RECOVERABLE}),
        status=in_progress(2, earlier=earlier),
    )
    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert "no retries left: 1 of 1 retries used" in _condition(result)["message"]
    assert len(result.status["attempts"]) == 2


def test_the_system_budget_comes_from_the_settings() -> None:
    earlier = [failed_attempt(1, "SYSTEM", "Evicted")]
    result = _plan("absent", status=in_progress(2, earlier=earlier))
    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert result.status["attempts"][-1]["reason"] == "PodDeleted"


def test_backoff_grows_exponentially_and_is_visible_in_the_status() -> None:
    earlier = [failed_attempt(1, "USER")]
    result = _plan(
        pod(attempt=2, phase="Failed", terminated={"exitCode": 1, "message": USER_RECOVERABLE}),
        spec={"retries": 5},
        status=in_progress(2, earlier=earlier),
    )
    assert result.status is not None
    assert result.status["nextAttemptTime"] == stamp(12)  # 4 * 3^(2-1)
    assert "backoff 12s" in _condition(result)["message"]


def test_backoff_is_capped_by_max_seconds() -> None:
    earlier = [failed_attempt(n, "USER") for n in (1, 2, 3)]
    result = _plan(
        pod(attempt=4, phase="Failed", terminated={"exitCode": 1, "message": USER_RECOVERABLE}),
        spec={"retries": 9},
        status=in_progress(4, earlier=earlier),
    )
    assert result.status is not None
    assert result.status["nextAttemptTime"] == stamp(100)


def test_retrying_waits_for_the_next_attempt_time_then_creates_the_next_pod() -> None:
    status = {
        **in_progress(2, earlier=[failed_attempt(1, "USER")]),
        "phase": "Retrying",
        "nextAttemptTime": stamp(30),
    }
    status["attempts"] = status["attempts"][:1]
    early = _plan("absent", status=status, now=10)
    assert early.create_attempt is None
    assert early.wake_at == at(30)
    due = _plan("absent", status=status, now=30)
    assert due.create_attempt == 2
    assert due.status is not None
    assert due.status["phase"] == "Pending"
    assert due.status["attemptCount"] == 2
    assert "nextAttemptTime" not in due.status
    assert [a["number"] for a in due.status["attempts"]] == [1, 2]


# ---------------------------------------------------------------- cancel, invalid specs, TTL


@pytest.mark.parametrize(
    ("knowledge", "delete"),
    [
        pytest.param(pod(phase="Running", running=True), False, id="running-pod-is-stopped-keeping-its-logs"),
        pytest.param(pod(waiting=("ContainerCreating", "")), True, id="pod-that-never-started-is-deleted"),
    ],
)
def test_cancel_stops_the_pod(knowledge: PodKnowledge, delete: bool) -> None:
    result = _plan(knowledge, spec={"cancelled": True})
    assert result.stop == StopPod(knowledge.name, delete=delete)  # type: ignore[union-attr]
    assert result.status is not None
    assert result.status["phase"] == "Cancelled"
    assert result.status["attempts"][0]["reason"] == "Cancelled"
    assert _condition(result)["reason"] == "Cancelled"


def test_cancel_before_the_first_attempt_creates_no_pod() -> None:
    result = plan(taskrun({"cancelled": True}), pod="unknown", now=NOW, settings=SETTINGS)
    assert result.create_attempt is None
    assert result.status is not None
    assert result.status["phase"] == "Cancelled"


def test_a_pod_that_finished_wins_over_a_late_cancel() -> None:
    message = summary({"outcome": "Succeeded", "outputs": {"o0": 1}})
    result = _plan(
        pod(phase="Succeeded", terminated={"exitCode": 0, "message": message}), spec={"cancelled": True}
    )
    assert result.status is not None
    assert result.status["phase"] == "Succeeded"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param({"timeout": "0s"}, "spec.timeout", id="zero-timeout"),
        pytest.param({"task": None, "loaderArgs": None}, "spec.task", id="no-task"),
        pytest.param(
            {"podTemplate": {"volumes": [{"name": "kubetask-scratch", "emptyDir": {}}]}},
            "spec.podTemplate.volumes[0].name",
            id="reserved-volume",
        ),
        pytest.param(
            {"env": [{"name": "KUBETASK_ATTEMPT", "value": "9"}]}, "spec.env[0].name", id="reserved-env"
        ),
    ],
)
def test_a_spec_the_operator_cannot_act_on_fails_with_invalid_spec(spec: dict[str, Any], field: str) -> None:
    body = taskrun(spec)
    body["spec"] = {key: value for key, value in body["spec"].items() if value is not None}
    result = plan(body, pod="unknown", now=NOW, settings=SETTINGS)
    assert result.create_attempt is None
    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert _condition(result)["reason"] == "InvalidSpec"
    assert field in _condition(result)["message"]


def test_ttl_wakes_up_at_expiry_then_deletes() -> None:
    status = {"phase": "Succeeded", "completionTime": stamp(-10)}
    waiting = plan(
        taskrun({"ttlSecondsAfterFinished": 60}, status), pod="unknown", now=NOW, settings=SETTINGS
    )
    assert waiting.wake_at == at(50)
    assert not waiting.delete_taskrun
    expired = plan(
        taskrun({"ttlSecondsAfterFinished": 60}, status), pod="unknown", now=at(50), settings=SETTINGS
    )
    assert expired.delete_taskrun


def test_a_finished_taskrun_without_ttl_needs_nothing() -> None:
    result = plan(
        taskrun({}, {"phase": "Failed", "completionTime": stamp()}), pod="absent", now=NOW, settings=SETTINGS
    )
    assert result == Plan()


def test_a_taskrun_being_deleted_needs_nothing() -> None:
    result = plan(taskrun(deletionTimestamp=stamp()), pod="unknown", now=NOW, settings=SETTINGS)
    assert result == Plan()


def test_an_unscheduled_pod_is_unschedulable_whatever_its_container_says() -> None:
    result = _plan(pod(unschedulable=True, waiting=("ContainerCreating", "")), spec={"pendingTimeout": "5s"})
    assert result.status is not None
    assert result.status["attempts"][0]["reason"] == "Unschedulable"


# ---------------------------------------------------------------- pods the API server refuses

REFUSALS = [
    pytest.param(Refusal(403, "Forbidden", "exceeded quota: q"), "Pending", "QuotaExceeded", id="quota"),
    pytest.param(
        Refusal(403, "Forbidden", 'error looking up service account team/sa: serviceaccount "sa" not found'),
        "Pending",
        "ServiceAccountNotFound",
        id="service-account",
    ),
    pytest.param(
        Refusal(403, "Forbidden", 'violates PodSecurity "baseline"'), "Failed", "PodForbidden", id="psa"
    ),
    pytest.param(Refusal(0, "ConnectionError", "refused"), "Pending", "PodCreateFailed", id="unreachable"),
    pytest.param(Refusal(413, "RequestEntityTooLarge", "too big"), "Failed", "PodCreateFailed", id="413"),
    pytest.param(Refusal(422, "Invalid", "bad"), "Failed", "InvalidSpec", id="invalid"),
]


@pytest.mark.parametrize(("refusal", "phase", "reason"), REFUSALS)
def test_a_refused_pod_shows_its_reason_and_the_api_servers_message(
    refusal: Refusal, phase: str, reason: str
) -> None:
    body = taskrun()
    started = plan(body, pod="unknown", now=NOW, settings=SETTINGS)
    assert started.status is not None
    result = plan_refused(
        body,
        planned=started.status,
        spec=parse_spec(body["spec"]),
        refusal=refusal,
        now=NOW,
        settings=SETTINGS,
    )
    assert result.status is not None
    assert result.status["phase"] == phase
    assert _condition(result)["reason"] == reason
    assert refusal.message in _condition(result)["message"]
    assert [event.reason for event in result.events] == [reason]
    if phase == "Pending":
        assert result.status["attempts"][0]["reason"] == reason
        assert result.wake_at == at(2)
        # Planned again while the pod is still refused: no lookup of a pod that does not exist, a wake-up.
        waiting = plan(taskrun(status=result.status), pod="unknown", now=at(1), settings=SETTINGS)
        assert waiting.lookup_pod is None
        assert waiting.create_attempt is None
        assert waiting.wake_at == at(2)
        again = plan(taskrun(status=result.status), pod="unknown", now=at(2), settings=SETTINGS)
        assert again.create_attempt == 1


def test_a_refused_attempt_whose_pod_turns_up_carries_on_as_usual() -> None:
    body = taskrun()
    started = plan(body, pod="unknown", now=NOW, settings=SETTINGS)
    assert started.status is not None
    refused = plan_refused(
        body,
        planned=started.status,
        spec=parse_spec(body["spec"]),
        refusal=Refusal(403, "Forbidden", "exceeded quota: q"),
        now=NOW,
        settings=SETTINGS,
    )
    assert refused.status is not None
    result = plan(
        taskrun(status=refused.status), pod=pod(phase="Running", running=True), now=at(1), settings=SETTINGS
    )
    assert result.status is not None
    assert result.status["phase"] == "Running"
    assert "reason" not in result.status["attempts"][0]
    assert "nextAttemptTime" not in result.status


# ---------------------------------------------------------------- the status schema


def test_the_crd_declares_exactly_the_status_fields_the_reconciler_writes() -> None:
    """No field the operator never writes (users would wait on it), none it writes that would be pruned."""
    success = summary(
        {"outcome": "Succeeded", "outputs": {"o0": 3}, "outputsUri": "s3://b/team/demo/1/outputs.json"}
    )
    plans = [
        plan(taskrun(), pod="unknown", now=NOW, settings=SETTINGS),
        _plan(pod(phase="Running", running=True)),
        _plan(pod(phase="Running", running=True), spec={"cancelled": True}),
        _plan(
            pod(phase="Succeeded", terminated={"exitCode": 0, "message": success}),
            spec={"outputPrefix": "s3://b/team/demo"},
        ),
        _plan(pod(phase="Failed", terminated={"exitCode": 1, "message": USER_FAILED})),
        _plan(pod(phase="Failed", terminated={"exitCode": 1, "message": USER_RECOVERABLE})),
    ]
    admitted = Verdict(admit=True, position=0, message="admitted")
    plans.append(plan(taskrun({"queue": "q"}), pod="unknown", now=NOW, settings=SETTINGS, admission=admitted))
    cached = {"cache": {}}
    hit = CacheDecision(kind="hit", key=cache_key(parse_spec(taskrun(cached)["spec"])), source="first")
    plans.append(plan(taskrun(cached), pod="unknown", now=NOW, settings=SETTINGS, cache=hit))
    written = {key for result in plans if result.status is not None for key in result.status}
    schema = load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert written == set(schema["properties"]["status"]["properties"])


# ---------------------------------------------------------------- the README's reasons table

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented_reasons() -> set[str]:
    section = README.read_text().split("<!-- SECTION: operator -->", 1)[1].split("<!-- SECTION:", 1)[0]
    table = section.split("| reason | when | retried |", 1)[1].split("\n\n", 1)[0]
    rows = [row for row in table.splitlines() if row.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def _reasons_of(params: list[Any], column: int) -> set[str]:
    return {str(param.values[column]) for param in params}


def test_the_readme_documents_every_reason_the_operator_can_report() -> None:
    finished = _reasons_of(ENDINGS, 3)
    waiting = (
        _reasons_of(WAITING, 1)
        | _outcomes.IMAGE_PULL_REASONS
        | _outcomes.CONFIG_ERROR_REASONS
        | _outcomes.VOLUME_ERROR_REASONS
    )
    other = {"Pending", "Running", "Retrying", "Succeeded", "Cancelled", "InvalidSpec", "PendingTimeout"}
    other |= {"Queued", "Admitted", "QueueTimeout", "SchedulingGated"}  # tests/operator/test_queue_plan.py
    other |= {"Cached", "CacheMiss", "WaitingForCacheOwner"}  # tests/operator/test_cache.py
    produced = finished | waiting | other | _reasons_of(REFUSALS, 2)
    assert produced - _documented_reasons() == set()
    assert _documented_reasons() - produced == set(), "documented reasons the tables here never produce"
