"""The controller's side of admission against a fake API: the limit holds even for an operator that has just
restarted and knows only some of the queue's TaskRuns (it counts from a fresh listing). No cluster."""

from __future__ import annotations

import asyncio
import datetime

from kubetask_operator._settings import Settings

from ._factories import taskrun
from ._fake_api import Harness, harness

BASE = "/apis/kubetask.dev/v1alpha1/namespaces/team/taskruns"
LIMITED = Settings(default_queue_max_running=1)


async def _create(h: Harness, name: str) -> None:
    body = h.api.put(f"{BASE}/{name}", taskrun(name=name, uid=f"uid-{name}"))
    await h.controller.on_taskrun("ADDED", body)
    await _fire(h, name)


async def _fire(h: Harness, name: str) -> None:
    """Run the wake-ups due now (an admission wakes its run at once to start the attempt)."""
    for _ in range(5):
        due = h.controller.scheduler.when(("team", name))
        if due is None or due > h.clock.now:
            return
        h.controller.scheduler.cancel(("team", name))
        await h.controller.on_wake(("team", name))


def _phase(h: Harness, name: str) -> str:
    return str((h.api.objects[f"{BASE}/{name}"].get("status") or {}).get("phase"))


def _pods(h: Harness) -> list[str]:
    return [path for path in h.api.objects if "/pods/" in path]


def test_a_restarted_operator_knowing_only_a_queued_run_does_not_admit_it() -> None:
    async def scenario() -> None:
        h = harness(LIMITED)
        await _create(h, "a")
        await _create(h, "b")
        assert _phase(h, "a") == "Pending"
        assert _phase(h, "b") == "Queued"
        assert len(_pods(h)) == 1
        restarted = harness(LIMITED, restart_of=h)
        # Its informer has delivered b but not yet a: its cache alone would say a slot is free.
        await restarted.controller.on_taskrun("ADDED", h.api.objects[f"{BASE}/b"])
        await _fire(restarted, "b")
        assert _phase(restarted, "b") == "Queued"
        assert len(_pods(restarted)) == 1
        status = h.api.objects[f"{BASE}/b"]["status"]
        assert status["conditions"][0]["message"] == (
            "1st in the namespace's default queue (KUBETASK_DEFAULT_QUEUE_MAX_RUNNING): 1 of 1 running"
        )

    asyncio.run(scenario())


def test_without_a_limit_runs_naming_no_queue_start_at_once() -> None:
    async def scenario() -> None:
        h = harness(Settings())
        await _create(h, "a")
        await _create(h, "b")
        assert len(_pods(h)) == 2

    asyncio.run(scenario())


def _message(h: Harness, name: str) -> str:
    return str(h.api.objects[f"{BASE}/{name}"]["status"]["conditions"][0]["message"])


def test_a_freed_slot_admits_the_next_at_once_and_tells_the_head_of_a_long_line_its_place() -> None:
    async def scenario() -> None:
        h = harness(LIMITED)
        await _create(h, "a")
        waiting = [f"w{i:03d}" for i in range(130)]
        for name in waiting:
            await _create(h, name)
        assert _message(h, "w002") == (
            "3rd in the namespace's default queue (KUBETASK_DEFAULT_QUEUE_MAX_RUNNING): 1 of 1 running"
        )
        for name in waiting:
            h.controller.scheduler.cancel(("team", name))  # only what the freed slot wakes is left
        await h.controller.on_taskrun("DELETED", h.api.objects.pop(f"{BASE}/a"))
        due = {name: h.controller.scheduler.when(("team", name)) for name in waiting}
        assert due["w000"] == h.clock.now  # admitted: woken at once
        soon = h.clock.now + datetime.timedelta(seconds=1)
        assert all(due[name] == soon for name in waiting[1:101])  # the head: told its new place soon
        assert all(due[name] is None for name in waiting[101:])  # the back: at its own look (30 s)
        await _fire(h, "w000")
        assert _phase(h, "w000") == "Pending"
        h.clock.advance(1)
        await _fire(h, "w003")
        assert _message(h, "w003") == (
            "3rd in the namespace's default queue (KUBETASK_DEFAULT_QUEUE_MAX_RUNNING): 1 of 1 running"
        )
        assert _message(h, "w120") == (
            "121st in the namespace's default queue (KUBETASK_DEFAULT_QUEUE_MAX_RUNNING): 1 of 1 running"
        )  # not told yet: its own look says 120th

    asyncio.run(scenario())
