"""The controller against a fake API client: what it writes, creates and schedules when the API server
refuses, conflicts or forgets, with a clock of its own. No cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubetask_operator._naming import pod_name
from kubetask_operator._settings import Settings

from ._factories import UID, at, stamp, taskrun
from ._fake_api import Harness, harness

TASKRUN = "/apis/kubetask.dev/v1alpha1/namespaces/team/taskruns/demo"
KEY = ("team", "demo")
POD = pod_name("demo", UID, 1)
POD_PATH = f"/api/v1/namespaces/team/pods/{POD}"


def run(scenario: Callable[[Harness], Awaitable[None]], settings: Settings | None = None) -> Harness:
    async def main() -> Harness:
        h = harness(settings)
        await scenario(h)
        return h

    return asyncio.run(main())


async def submit(h: Harness, spec: dict[str, Any] | None = None) -> None:
    """The TaskRun is created (by someone) and its watch event arrives."""
    body = h.api.put(TASKRUN, taskrun(spec))
    await h.controller.on_taskrun("ADDED", body)


def status(h: Harness) -> dict[str, Any]:
    return dict(h.api.objects[TASKRUN].get("status") or {})


def condition(h: Harness) -> dict[str, Any]:
    (found,) = status(h)["conditions"]
    return dict(found)


async def wake(h: Harness, seconds: float) -> None:
    """``seconds`` pass; the scheduler's wake-up (if due by then) fires."""
    h.clock.advance(seconds)
    due = h.controller.scheduler.when(KEY)
    if due is not None and due <= h.clock.now:
        h.controller.scheduler.cancel(KEY)
        await h.controller.on_wake(KEY)


# ---------------------------------------------------------------- pods the API server refuses

QUOTA = (
    f'pods "{POD}" is forbidden: exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=2, '
    "limited: limits.cpu=2"
)
NO_SERVICE_ACCOUNT = (
    f'pods "{POD}" is forbidden: error looking up service account team/robot: '
    'serviceaccount "robot" not found'
)
PSA = (
    f'pods "{POD}" is forbidden: violates PodSecurity "restricted:latest": privileged '
    '(container "task" must not set securityContext.privileged=true)'
)


def test_an_exceeded_quota_shows_at_once_and_waits_with_backoff_until_the_pod_is_accepted() -> None:
    async def scenario(h: Harness) -> None:
        h.api.fail("POST", "/pods", 403, "Forbidden", QUOTA, times=3)
        await submit(h)
        assert status(h)["phase"] == "Pending"
        assert condition(h)["reason"] == "QuotaExceeded"
        assert "exceeded quota: compute" in condition(h)["message"]
        assert "HTTP 403 Forbidden" in condition(h)["message"]
        assert status(h)["attempts"][0]["reason"] == "QuotaExceeded"
        assert h.events.reasons() == ["QuotaExceeded"]
        first_try = h.controller.scheduler.when(KEY)
        assert first_try == at(2)
        assert status(h)["nextAttemptTime"] == stamp(2)
        assert POD_PATH not in h.api.objects
        await wake(h, 2)
        await wake(h, 2)
        assert h.controller.scheduler.when(KEY) == at(4 + 2)
        await wake(h, 2)  # the fourth try is accepted
        assert len(h.api.calls_of("POST", "/pods")) == 4
        assert POD_PATH in h.api.objects
        assert h.events.reasons() == ["QuotaExceeded"], "one Event for the refusal, not one per try"
        await wake(h, 1)  # the held-back status of the created pod is written
        assert condition(h)["reason"] == "Pending"
        attempt = status(h)["attempts"][0]
        assert "reason" not in attempt
        assert attempt["createTime"] == stamp(0), "the attempt began at the first try"
        assert "nextAttemptTime" not in status(h)

    run(scenario)


def test_an_exceeded_quota_fails_when_pending_timeout_passes_counted_from_the_first_try() -> None:
    async def scenario(h: Harness) -> None:
        h.api.fail("POST", "/pods", 403, "Forbidden", QUOTA, times=1000)
        await submit(h, {"pendingTimeout": "30s"})
        for _ in range(20):
            await wake(h, 5)
            if status(h)["phase"] == "Failed":
                break
        assert status(h)["phase"] == "Failed"
        assert condition(h)["reason"] == "QuotaExceeded"
        assert "still refused after 30s" in condition(h)["message"]
        assert status(h)["completionTime"] <= stamp(35)
        assert status(h)["error"]["kind"] == "USER"

    run(scenario)


def test_a_missing_service_account_waits_within_pending_timeout_then_fails() -> None:
    async def scenario(h: Harness) -> None:
        h.api.fail("POST", "/pods", 403, "Forbidden", NO_SERVICE_ACCOUNT, times=1000)
        await submit(h, {"pendingTimeout": "10s", "serviceAccountName": "robot"})
        assert condition(h)["reason"] == "ServiceAccountNotFound"
        assert 'serviceaccount "robot" not found' in condition(h)["message"]
        for _ in range(10):
            await wake(h, 3)
        assert status(h)["phase"] == "Failed"
        assert condition(h)["reason"] == "ServiceAccountNotFound"
        assert len(status(h)["attempts"]) == 1

    run(scenario, Settings(service_accounts=frozenset({"robot"})))  # allowed, but missing in the namespace


def test_a_missing_service_account_without_pending_timeout_waits_the_image_pull_grace() -> None:
    async def scenario(h: Harness) -> None:
        h.api.fail("POST", "/pods", 403, "Forbidden", NO_SERVICE_ACCOUNT, times=1000)
        await submit(h, {"serviceAccountName": "robot"})
        for _ in range(30):
            await wake(h, 4)
        assert status(h)["phase"] == "Failed"
        assert "still refused after 1m" in condition(h)["message"]

    run(scenario, Settings(image_pull_grace_seconds=60, service_accounts=frozenset({"robot"})))


@pytest.mark.parametrize(
    ("status_code", "api_reason", "message", "reason", "kind"),
    [
        pytest.param(403, "Forbidden", PSA, "PodForbidden", "USER", id="pod-security-admission"),
        pytest.param(
            403,
            "Forbidden",
            'admission webhook "policy.example.com" denied the request: no privileged pods',
            "PodForbidden",
            "USER",
            id="webhook",
        ),
        pytest.param(404, "NotFound", 'namespaces "team" not found', "PodCreateFailed", "SYSTEM", id="404"),
    ],
)
def test_a_refusal_waiting_cannot_cure_fails_the_run_at_once(
    status_code: int, api_reason: str, message: str, reason: str, kind: str
) -> None:
    async def scenario(h: Harness) -> None:
        h.api.fail("POST", "/pods", status_code, api_reason, message, times=1000)
        await submit(h, {"retries": 3})
        assert status(h)["phase"] == "Failed"
        assert condition(h)["reason"] == reason
        assert message in condition(h)["message"]
        assert status(h)["error"]["kind"] == kind
        assert status(h)["attempts"][0]["reason"] == reason
        assert len(h.api.calls_of("POST", "/pods")) == 1
        assert reason in h.events.reasons()

    run(scenario)


def test_an_api_server_error_after_the_clients_retries_shows_and_is_tried_again() -> None:
    async def scenario(h: Harness) -> None:
        h.api.fail("POST", "/pods", 503, "ServiceUnavailable", "etcd is unhappy", times=1)
        await submit(h)
        assert status(h)["phase"] == "Pending"
        assert condition(h)["reason"] == "PodCreateFailed"
        assert "etcd is unhappy" in condition(h)["message"]
        await wake(h, 2)
        assert POD_PATH in h.api.objects

    run(scenario)


def test_an_invalid_pod_fails_invalid_spec_without_an_attempt() -> None:
    async def scenario(h: Harness) -> None:
        h.api.fail("POST", "/pods", 422, "Invalid", "spec.containers[0].image: Required value")
        await submit(h)
        assert status(h)["phase"] == "Failed"
        assert condition(h)["reason"] == "InvalidSpec"
        assert "Required value" in condition(h)["message"]

    run(scenario)


def test_cancelling_while_the_pod_is_refused_cancels_and_deletes_any_pod() -> None:
    async def scenario(h: Harness) -> None:
        h.api.fail("POST", "/pods", 403, "Forbidden", QUOTA, times=1000)
        await submit(h)
        body = h.api.objects[TASKRUN]
        body["spec"]["cancelled"] = True
        body["metadata"]["generation"] = 2
        await h.controller.on_taskrun("MODIFIED", h.api.put(TASKRUN, body))
        assert status(h)["phase"] == "Cancelled"
        assert h.api.calls_of("DELETE", POD_PATH)

    run(scenario)


# ---------------------------------------------------------------- conflicts, lost objects, stale events


def pod_body(h: Harness, **status: Any) -> dict[str, Any]:
    """The attempt's pod as the API holds it, with ``status``."""
    body = dict(h.api.objects[POD_PATH])
    body["status"] = status
    return h.api.put(POD_PATH, body)


RUNNING = {
    "phase": "Running",
    "containerStatuses": [{"name": "task", "state": {"running": {"startedAt": stamp()}}}],
}


def test_a_pod_that_exists_already_409_is_taken_as_created() -> None:
    async def scenario(h: Harness) -> None:
        h.api.objects[POD_PATH] = {"metadata": {"name": POD, "uid": "pod-uid"}}
        await submit(h)
        assert h.api.calls_of("POST", "/pods") == ["/api/v1/namespaces/team/pods"]
        await wake(h, 1)  # the held-back status is written: the pod is its attempt's
        assert status(h)["phase"] == "Pending"
        assert status(h)["podName"] == POD

    run(scenario)


def test_the_pending_status_waits_a_moment_and_is_written_with_the_pods_news() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h)
        assert "status" not in h.api.objects[TASKRUN], "held back for the pod's first news"
        assert h.controller.scheduler.when(KEY) == at(1)
        await h.controller.on_pod("MODIFIED", pod_body(h, **RUNNING))
        assert status(h)["phase"] == "Running"
        assert len(h.api.calls_of("PATCH", "/status")) == 1, "one write says both"
        assert h.events.reasons() == ["Running"]

    run(scenario)


def test_a_conflicting_status_write_reads_the_taskrun_again_and_plans_from_it() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h)
        await wake(h, 1)
        assert status(h)["phase"] == "Pending"
        # Someone cancels; the watch event has not arrived when the pod's news comes.
        body = h.api.objects[TASKRUN]
        body["spec"]["cancelled"] = True
        body["metadata"]["generation"] = 2
        h.api.put(TASKRUN, body)
        await h.controller.on_pod("MODIFIED", pod_body(h, **RUNNING))
        assert h.api.calls_of("GET", TASKRUN), "the 409 made it read the TaskRun"
        assert status(h)["phase"] == "Cancelled"

    run(scenario)


def test_a_status_write_answered_404_forgets_the_taskrun() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h)
        del h.api.objects[TASKRUN]
        await wake(h, 1)
        assert h.api.calls_of("PATCH", "/status")
        assert h.controller.scheduler.when(KEY) is None
        await h.controller.on_pod("MODIFIED", pod_body(h, **RUNNING))
        assert len(h.api.calls_of("PATCH", "/status")) == 1, "nothing more for a TaskRun that is gone"

    run(scenario)


def test_an_event_older_than_the_last_write_is_dropped() -> None:
    async def scenario(h: Harness) -> None:
        submitted = h.api.put(TASKRUN, taskrun())
        await h.controller.on_taskrun("ADDED", submitted)
        await wake(h, 1)
        await h.controller.on_pod("MODIFIED", pod_body(h, **RUNNING))
        assert status(h)["phase"] == "Running"
        writes = len(h.api.calls_of("PATCH", "/status"))
        reads = len(h.api.calls_of("GET", ""))
        # The watch now delivers the events of the earlier writes (no status, then Pending).
        await h.controller.on_taskrun("MODIFIED", submitted)
        assert len(h.api.calls_of("PATCH", "/status")) == writes, "planned from a stale event"
        assert len(h.api.calls_of("GET", "")) == reads

    run(scenario)


def test_a_status_written_by_someone_else_is_restored() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h)
        await wake(h, 1)
        await h.controller.on_pod("MODIFIED", pod_body(h, **RUNNING))
        body = h.api.objects[TASKRUN]
        body["status"] = {**body["status"], "phase": "Succeeded", "outputs": {"o0": "forged"}}
        await h.controller.on_taskrun("MODIFIED", h.api.put(TASKRUN, body))
        assert status(h)["phase"] == "Running"
        assert "outputs" not in status(h)
        assert "StatusOverwritten" in h.events.reasons()
        # The real result is then recorded.
        summary = '{"outcome":"Succeeded","outputs":{"o0":5}}'
        terminated = {"exitCode": 0, "message": summary, "startedAt": stamp(), "finishedAt": stamp(1)}
        await h.controller.on_pod(
            "MODIFIED",
            pod_body(
                h,
                phase="Succeeded",
                containerStatuses=[{"name": "task", "state": {"terminated": terminated}}],
            ),
        )
        assert status(h)["phase"] == "Succeeded"
        assert status(h)["outputs"] == {"o0": 5}

    run(scenario)


def test_the_spec_is_parsed_once_per_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetask_operator import _reconcile

    parsed: list[object] = []
    original = _reconcile.parse_spec

    def counting(spec: object) -> Any:
        parsed.append(spec)
        return original(spec)

    monkeypatch.setattr(_reconcile, "parse_spec", counting)

    async def scenario(h: Harness) -> None:
        await submit(h, {"inputs": {"blob": "x" * 100_000}})
        await wake(h, 1)
        await h.controller.on_pod("MODIFIED", pod_body(h, **RUNNING))
        assert len(parsed) == 1
        body = h.api.objects[TASKRUN]
        body["spec"]["cancelled"] = True
        body["metadata"]["generation"] = 2
        await h.controller.on_taskrun("MODIFIED", h.api.put(TASKRUN, body))
        assert len(parsed) == 2
        assert status(h)["phase"] == "Cancelled"

    run(scenario)


# ---------------------------------------------------------------- TTL


def finish(h: Harness) -> Callable[[], Awaitable[None]]:
    async def succeed() -> None:
        summary = '{"outcome":"Succeeded","outputs":{"o0":5}}'
        terminated = {"exitCode": 0, "message": summary, "startedAt": stamp(), "finishedAt": stamp(1)}
        await h.controller.on_pod(
            "MODIFIED",
            pod_body(
                h,
                phase="Succeeded",
                containerStatuses=[{"name": "task", "state": {"terminated": terminated}}],
            ),
        )

    return succeed


def test_a_finished_taskrun_is_deleted_when_its_ttl_passes_not_before() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h, {"ttlSecondsAfterFinished": 60})
        await wake(h, 1)
        await finish(h)()
        assert status(h)["phase"] == "Succeeded"
        completed = status(h)["completionTime"]
        assert h.controller.scheduler.when(KEY) is not None
        await wake(h, 30)
        assert TASKRUN in h.api.objects, "deleted before its TTL"
        await wake(h, 31)
        assert TASKRUN not in h.api.objects
        assert h.api.calls_of("DELETE", TASKRUN)
        assert completed

    run(scenario)


def test_a_ttl_deletion_spares_a_new_taskrun_of_the_same_name() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h, {"ttlSecondsAfterFinished": 5})
        await wake(h, 1)
        await finish(h)()
        replaced = h.api.objects[TASKRUN]
        replaced["metadata"]["uid"] = "another-uid"  # deleted and created again, watch events not yet in
        await wake(h, 10)
        assert TASKRUN in h.api.objects
        assert h.controller.scheduler.when(KEY) is None

    run(scenario)


def test_a_pod_silent_in_container_creating_shows_the_kubelets_warning() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h)
        creating = {
            "phase": "Pending",
            "containerStatuses": [{"name": "task", "state": {"waiting": {"reason": "ContainerCreating"}}}],
        }
        await h.controller.on_pod("MODIFIED", pod_body(h, **creating))
        await wake(h, 1)
        assert condition(h)["reason"] == "ContainerCreating"
        assert h.controller.scheduler.when(KEY) == at(5), "the Events are read 5 s into the attempt"
        message = 'MountVolume.SetUp failed for volume "creds" : secret "nope" not found'
        for name, involved, reason in [("e1", POD, "FailedMount"), ("e2", "other-pod", "FailedScheduling")]:
            h.api.put(
                f"/api/v1/namespaces/team/events/{name}",
                {
                    "metadata": {"name": name},
                    "type": "Warning",
                    "reason": reason,
                    "message": message,
                    "lastTimestamp": stamp(),
                    "involvedObject": {"kind": "Pod", "name": involved},
                },
            )
        await wake(h, 4)
        assert condition(h)["reason"] == "FailedMount"
        assert 'secret "nope" not found' in condition(h)["message"]
        assert "FailedMount" in h.events.reasons()

    run(scenario)


def test_a_taskrun_that_keeps_failing_logs_one_traceback_and_keeps_being_retried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from kubetask_operator import _controller

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(_controller, "plan", broken)

    async def scenario(h: Harness) -> None:
        await submit(h)
        for _ in range(5):
            due = h.controller.scheduler.when(KEY)
            assert due is not None, "retried with backoff"
            await wake(h, (due - h.clock.now).total_seconds())

    run(scenario)
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 1
    assert sum("unexpected error again" in record.getMessage() for record in caplog.records) == 5


def test_a_refused_inputs_configmap_is_named_as_what_was_refused() -> None:
    async def scenario(h: Harness) -> None:
        quota = 'configmaps "x" is forbidden: exceeded quota: objects, requested: count/configmaps=1'
        h.api.fail("POST", "/configmaps", 403, "Forbidden", quota)
        await submit(h, {"inputs": {"blob": "x" * 100_000}})
        assert condition(h)["reason"] == "QuotaExceeded"
        assert "refused to create the inputs ConfigMap" in condition(h)["message"]
        assert POD_PATH not in h.api.objects
        await wake(h, 2)
        assert POD_PATH in h.api.objects

    run(scenario, Settings(inline_inputs_max_bytes=1024))


def test_the_pods_events_are_not_read_again_for_a_status_update_that_says_nothing_new() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h)
        creating = {
            "phase": "Pending",
            "containerStatuses": [{"name": "task", "state": {"waiting": {"reason": "ContainerCreating"}}}],
        }
        await h.controller.on_pod("MODIFIED", pod_body(h, **creating))
        await wake(h, 5)
        reads = len(h.api.calls_of("GET", "/events"))
        assert reads == 1
        await h.controller.on_pod("MODIFIED", pod_body(h, **creating))
        assert len(h.api.calls_of("GET", "/events")) == reads

    run(scenario)


def test_the_watch_event_of_a_write_arriving_before_its_answer_is_not_someone_elses() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h)
        original = h.api.merge_patch
        echoes: list[asyncio.Task[None]] = []

        async def echo_first(path: str, patch: Any, *, retry_conflicts: bool = True) -> dict[str, Any]:
            updated = await original(path, patch, retry_conflicts=retry_conflicts)
            if path.endswith("/status"):  # the watch delivers the write before its answer is read
                echoes.append(asyncio.create_task(h.controller.on_taskrun("MODIFIED", updated)))
                await asyncio.sleep(0)
            return updated

        h.api.merge_patch = echo_first  # type: ignore[method-assign]
        await wake(h, 1)
        await h.controller.on_pod("MODIFIED", pod_body(h, **RUNNING))
        await asyncio.gather(*echoes)
        assert echoes
        assert "StatusOverwritten" not in h.events.reasons()
        assert status(h)["phase"] == "Running"

    run(scenario)


def test_a_final_status_write_answered_404_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(h: Harness) -> None:
        await submit(h, {"ttlSecondsAfterFinished": 5})
        await wake(h, 1)
        del h.api.objects[TASKRUN]  # deleted while its pod ends; the watch has not said so yet
        await finish(h)()
        assert h.controller.scheduler.when(KEY) is None

    run(scenario)
    assert not [record for record in caplog.records if record.levelname in ("ERROR", "WARNING")]


def test_a_status_forged_deep_is_replaced_without_recursing_through_it() -> None:
    async def scenario(h: Harness) -> None:
        await submit(h)
        await wake(h, 1)
        await h.controller.on_pod("MODIFIED", pod_body(h, **RUNNING))
        body = h.api.objects[TASKRUN]
        deep: Any = 1
        for _ in range(990):  # json.loads still decodes it; deep copies and json.dumps of it would not
            deep = [deep]
        body["status"] = {**body["status"], "outputs": {"o0": deep}}
        h.api.stamp(body)  # stored as it is (a deep copy of it would fail too)
        await h.controller.on_taskrun("MODIFIED", dict(body))
        assert status(h)["phase"] == "Running"
        assert "outputs" not in status(h)
        assert "StatusOverwritten" in h.events.reasons()

    run(scenario)


TERMINATED = {
    "phase": "Succeeded",
    "containerStatuses": [
        {
            "name": "task",
            "state": {
                "terminated": {
                    "exitCode": 0,
                    "message": '{"outcome":"Succeeded","outputs":{"o0":5}}',
                    "startedAt": stamp(),
                    "finishedAt": stamp(1),
                }
            },
        }
    ],
}


@pytest.mark.parametrize("lookup", ["list", "get"])
def test_a_pod_event_arriving_during_a_lookup_is_not_overwritten_by_its_answer(lookup: str) -> None:
    """Found by the operator benchmark: a pod that ended while its Events were being read stayed Pending."""

    async def scenario(h: Harness) -> None:
        await submit(h)
        silent = {"phase": "Pending"}
        news: list[asyncio.Task[None]] = []
        original = getattr(h.api, lookup)

        async def meanwhile(path: str, **kwargs: Any) -> Any:
            answer = await original(path, **kwargs)
            if not news and ("/events" in path or "/pods/" in path):
                ended = pod_body(h, **TERMINATED)
                news.append(asyncio.create_task(h.controller.on_pod("MODIFIED", ended)))
                await asyncio.sleep(0)  # the watch event is taken in while the lookup's answer travels
            return answer

        if lookup == "list":
            setattr(h.api, lookup, meanwhile)
            await h.controller.on_pod("MODIFIED", pod_body(h, **silent))
            await wake(h, 1)
            await wake(h, 4)  # its Events are read
        else:
            pod_body(h, **silent)
            await wake(h, 1)
            # The operator restarts: its listing shows the TaskRun, whose pod it looks up.
            h.controller = harness(restart_of=h).controller
            setattr(h.api, lookup, meanwhile)
            await h.controller.on_taskrun(None, h.api.objects[TASKRUN])
        await asyncio.gather(*news)
        assert news
        assert status(h)["phase"] == "Succeeded"

    run(scenario)
