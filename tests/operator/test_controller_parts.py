"""The controller's pure helpers and the in-process scheduler of wake-ups (no cluster)."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Hashable

import pytest

from kubetask_operator._controller import merge_patch_diff
from kubetask_operator._scheduler import Scheduler
from kubetask_operator._times import utcnow


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        pytest.param({}, {"phase": "Pending"}, {"phase": "Pending"}, id="added"),
        pytest.param(
            {"phase": "Pending", "x": 1}, {"phase": "Running"}, {"phase": "Running", "x": None}, id="removed"
        ),
        pytest.param(
            {"error": {"kind": "USER", "type": "A"}},
            {"error": {"kind": "USER", "type": "B"}},
            {"error": {"type": "B"}},
            id="nested-changed",
        ),
        pytest.param(
            {"outputs": {"a": 1}}, {"outputs": {"b": 2}}, {"outputs": {"a": None, "b": 2}}, id="nested-key"
        ),
        pytest.param(
            {"attempts": [{"n": 1}]},
            {"attempts": [{"n": 1}, {"n": 2}]},
            {"attempts": [{"n": 1}, {"n": 2}]},
            id="lists-replaced",
        ),
        pytest.param({"phase": "Pending"}, {"phase": "Pending"}, {}, id="unchanged"),
    ],
)
def test_merge_patch_diff_turns_old_into_new(
    old: dict[str, object], new: dict[str, object], patch: dict[str, object]
) -> None:
    assert merge_patch_diff(old, new) == patch


def test_the_scheduler_fires_the_last_time_set_for_a_key_once() -> None:
    fired: list[tuple[Hashable, float]] = []

    async def scenario() -> None:
        started = asyncio.get_running_loop().time()

        async def record(key: Hashable) -> None:
            fired.append((key, asyncio.get_running_loop().time() - started))

        scheduler = Scheduler(record)
        runner = asyncio.create_task(scheduler.run())
        now = utcnow()
        scheduler.schedule("a", now + datetime.timedelta(seconds=0.3))
        scheduler.schedule("a", now + datetime.timedelta(seconds=0.1))  # replaces the first
        scheduler.schedule("b", now + datetime.timedelta(seconds=0.2))
        scheduler.schedule("c", now + datetime.timedelta(seconds=0.2))
        scheduler.cancel("c")
        await asyncio.sleep(0.6)
        runner.cancel()
        await scheduler.stop()
        assert len(scheduler) == 0

    asyncio.run(scenario())
    assert [key for key, _ in fired] == ["a", "b"]
    assert fired[0][1] >= 0.09
    assert fired[1][1] >= 0.19


def test_a_failing_wake_up_or_housekeeping_does_not_stop_the_scheduler() -> None:
    fired: list[Hashable] = []

    async def scenario() -> tuple[bool, int]:
        async def wake(key: Hashable) -> None:
            fired.append(key)
            if key == "bad":
                raise RuntimeError("a callback that fails")

        async def housekeeping() -> None:
            raise AttributeError("'ResourceMemories' object has no attribute '_items'")  # a kopf upgrade

        scheduler = Scheduler(wake, idle_interval=0.05, on_idle=housekeeping)
        runner = asyncio.create_task(scheduler.run())
        now = utcnow()
        scheduler.schedule("bad", now)
        await asyncio.sleep(0.3)
        scheduler.schedule("good", utcnow())
        for _ in range(200):
            if "good" in fired:
                break
            await asyncio.sleep(0.05)
        alive = not runner.done()
        runner.cancel()
        await scheduler.stop()
        return alive, scheduler.failures

    alive, failures = asyncio.run(scenario())
    assert fired == ["bad", "good"]
    assert alive
    assert failures >= 2


def test_the_scheduler_loop_outlives_a_failure_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetask_operator import _scheduler

    calls = {"n": 0}

    def flaky_clock() -> datetime.datetime:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OverflowError("a bug in the loop itself")
        return utcnow()

    monkeypatch.setattr(_scheduler, "utcnow", flaky_clock)
    fired: list[Hashable] = []

    async def scenario() -> int:
        async def record(key: Hashable) -> None:
            fired.append(key)

        scheduler = Scheduler(record)
        runner = asyncio.create_task(scheduler.run())
        scheduler.schedule("a", utcnow())
        for _ in range(100):
            if fired:
                break
            await asyncio.sleep(0.05)
        runner.cancel()
        await scheduler.stop()
        return scheduler.failures

    assert asyncio.run(scenario()) == 1
    assert fired == ["a"]
