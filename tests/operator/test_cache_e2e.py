"""Caching on a cluster: a cached run creates no pod and names where its outputs came from; identical runs
started together make one pod; refresh runs anyway."""

from __future__ import annotations

import pytest

from .conftest import TaskRuns, condition

pytestmark = pytest.mark.e2e

CACHE_LABEL = "kubetask.dev/cache-key"


def test_a_cached_run_creates_no_pod_and_names_its_source(taskruns: TaskRuns) -> None:
    taskruns.create("first", "add", inputs={"a": 2, "b": 3}, cache={"version": "1"})
    first = taskruns.wait_finished("first", timeout=120)
    assert first["phase"] == "Succeeded", first
    assert "CacheMiss" in taskruns.events("first")
    taskruns.create("second", "add", inputs={"b": 3, "a": 2}, cache={"version": "1"})
    second = taskruns.wait_finished("second", timeout=120)
    assert second["phase"] == "Succeeded", second
    assert condition(second)["reason"] == "Cached"
    assert second["cachedFrom"] == "first"
    assert second["outputs"] == first["outputs"] == {"o0": 5}
    assert second["cacheKey"] == first["cacheKey"]
    assert "TaskRun first" in condition(second)["message"]
    assert taskruns.pods("second") == []
    assert len(taskruns.pods("first")) == 1
    labels = taskruns.get("second")["metadata"]["labels"]
    assert labels[CACHE_LABEL] == second["cacheKey"][:63]
    # Another version, or a refresh, runs.
    taskruns.create("bumped", "add", inputs={"a": 2, "b": 3}, cache={"version": "2"})
    taskruns.create("forced", "add", inputs={"a": 2, "b": 3}, cache={"version": "1", "refresh": True})
    for name in ("bumped", "forced"):
        status = taskruns.wait_finished(name, timeout=120)
        assert status["phase"] == "Succeeded", status
        assert "cachedFrom" not in status
        assert len(taskruns.pods(name)) == 1


def test_identical_runs_started_together_make_one_pod(taskruns: TaskRuns) -> None:
    names = [f"twin-{i}" for i in range(3)]
    for name in names:
        taskruns.create(name, "sleep", inputs={"seconds": 2}, cache={})
    statuses = {name: taskruns.wait_finished(name, timeout=180) for name in names}
    assert all(status["phase"] == "Succeeded" for status in statuses.values()), statuses
    ran = [name for name, status in statuses.items() if "cachedFrom" not in status]
    assert len(ran) == 1, statuses
    for name, status in statuses.items():
        if name != ran[0]:
            assert status["cachedFrom"] == ran[0]
            assert status["outputs"] == statuses[ran[0]]["outputs"]
            assert taskruns.pods(name) == []
    assert len(taskruns.pods()) == 1
    assert "WaitingForCacheOwner" in {e for name in names for e in taskruns.events(name)}
