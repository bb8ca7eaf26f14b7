"""The cache's pure parts: what the key covers, and hit, wait or run given the identical TaskRuns."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

import kubetask
from kubetask_client._display import describe
from kubetask_client._option_flags import add_task_option_flags, task_options_from
from kubetask_client._submit import submit_options
from kubetask_client._taskrun import TaskReference, taskrun_manifest
from kubetask_operator._cache import CacheKey, cache_key, decide_cache
from kubetask_operator._reconcile import plan
from kubetask_operator._settings import Settings
from kubetask_operator._spec import parse_spec

from ._factories import NOW, at, stamp, taskrun

SETTINGS = Settings(system_retries=1, image_pull_grace_seconds=30)
BASE: dict[str, Any] = {
    "image": "registry.example/app:1.0",
    "task": {"module": "pkg.tasks", "name": "add"},
    "inputs": {"a": 1, "b": {"y": 2, "x": 1}},
    "cache": {"version": "1"},
}


def _key(**changes: Any) -> CacheKey:
    return cache_key(parse_spec({**BASE, **changes}))


@pytest.mark.parametrize(
    ("changes", "same"),
    [
        pytest.param({"inputs": {"b": {"x": 1, "y": 2}, "a": 1}}, True, id="key-order-of-inputs-ignored"),
        pytest.param({"retries": 3, "timeout": "5m", "queue": "q"}, True, id="how-it-runs-ignored"),
        pytest.param({"inputs": {"a": 2, "b": {"y": 2, "x": 1}}}, False, id="inputs"),
        pytest.param({"image": "registry.example/app:1.1"}, False, id="image"),
        pytest.param({"task": {"module": "pkg.tasks", "name": "mul"}}, False, id="task"),
        pytest.param({"cache": {"version": "2"}}, False, id="version"),
        pytest.param({"code": {"uri": "s3://b/c.tgz", "sha256": "a" * 64}}, False, id="shipped-code"),
        pytest.param({"inputs": None, "inputsFrom": "s3://b/in.json"}, False, id="inputs-from-uri"),
    ],
)
def test_what_the_key_covers(changes: dict[str, Any], same: bool) -> None:
    assert (_key(**changes).digest == _key().digest) is same


def test_the_key_is_a_sha256_and_its_label_fits_a_label_value() -> None:
    key = _key()
    assert len(key.digest) == 64
    assert int(key.digest, 16) >= 0
    assert key.label == key.digest[:63]
    assert "pkg.tasks" in key.describe()
    assert "version 1" in key.describe()


def _peer(name: str, phase: str, key: CacheKey, **status: Any) -> dict[str, Any]:
    reason = status.pop("reason", phase)
    return taskrun(
        BASE,
        {
            "phase": phase,
            "cacheKey": key.digest,
            "conditions": [{"type": "Succeeded", "reason": reason}],
            **status,
        },
        name=name,
    )


KEY = _key()


@pytest.mark.parametrize(
    ("peers", "refresh", "kind", "source"),
    [
        pytest.param([], False, "run", "", id="nothing-yet"),
        pytest.param(
            [_peer("old", "Succeeded", KEY, outputs={"o0": 3}, completionTime=stamp(-5))],
            False,
            "hit",
            "old",
            id="succeeded",
        ),
        pytest.param(
            [
                _peer("older", "Succeeded", KEY, outputs={"o0": 1}, completionTime=stamp(-50)),
                _peer("newer", "Succeeded", KEY, outputs={"o0": 2}, completionTime=stamp(-5)),
            ],
            False,
            "hit",
            "newer",
            id="latest-success",
        ),
        pytest.param(
            [_peer("copy", "Succeeded", KEY, cachedFrom="origin", completionTime=stamp(-5))],
            False,
            "hit",
            "origin",
            id="a-cached-run-names-the-origin",
        ),
        pytest.param([_peer("old", "Succeeded", KEY)], True, "run", "", id="refresh"),
        pytest.param([_peer("old", "Failed", KEY)], False, "run", "", id="failed-is-no-hit"),
        pytest.param([_peer("owner", "Running", KEY, reason="Running")], False, "wait", "owner", id="owner"),
        pytest.param(
            [_peer("other", "Queued", KEY, reason="WaitingForCacheOwner")],
            False,
            "run",
            "",
            id="waiters-own-nothing",
        ),
        pytest.param([_peer("x", "Succeeded", _key(image="other:1"))], False, "run", "", id="other-key"),
        pytest.param([_peer("demo", "Succeeded", KEY)], False, "run", "", id="itself"),
    ],
)
def test_hit_wait_or_run(peers: list[dict[str, Any]], refresh: bool, kind: str, source: str) -> None:
    decision = decide_cache("demo", KEY, peers, refresh=refresh)
    assert (decision.kind, decision.source) == (kind, source)


def test_a_hit_succeeds_without_a_pod_naming_its_source() -> None:
    peers = [_peer("first", "Succeeded", KEY, outputs={"o0": 3}, completionTime=stamp(-5))]
    decision = decide_cache("demo", KEY, peers, refresh=False)
    result = plan(taskrun(BASE), pod="unknown", now=NOW, settings=SETTINGS, cache=decision)
    assert result.create_attempt is None
    assert result.status is not None
    assert result.status["phase"] == "Succeeded"
    assert result.status["outputs"] == {"o0": 3}
    assert result.status["cachedFrom"] == "first"
    assert result.status["cacheKey"] == KEY.digest
    assert "attempts" not in result.status
    (condition,) = result.status["conditions"]
    assert (condition["status"], condition["reason"]) == ("True", "Cached")
    assert "TaskRun first" in condition["message"]


def test_a_waiter_is_queued_then_runs_itself_when_the_owner_fails() -> None:
    owner = _peer("first", "Running", KEY, reason="Running")
    waiting = plan(
        taskrun(BASE),
        pod="unknown",
        now=NOW,
        settings=SETTINGS,
        cache=decide_cache("demo", KEY, [owner], refresh=False),
    )
    assert waiting.status is not None
    assert waiting.status["phase"] == "Queued"
    assert waiting.status["conditions"][0]["reason"] == "WaitingForCacheOwner"
    assert waiting.create_attempt is None
    failed = _peer("first", "Failed", KEY)
    decided = plan(
        taskrun(BASE, waiting.status),
        pod="unknown",
        now=at(5),
        settings=SETTINGS,
        cache=decide_cache("demo", KEY, [failed], refresh=False),
    )
    assert decided.status is not None
    assert decided.status["conditions"][0]["reason"] == "CacheMiss"
    started = plan(taskrun(BASE, decided.status), pod="unknown", now=at(6), settings=SETTINGS)
    assert started.create_attempt == 1


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        pytest.param({"version": 2}, "spec.cache.version", id="version-not-a-string"),
        pytest.param({"refresh": "yes"}, "spec.cache.refresh", id="refresh-not-a-bool"),
        pytest.param({"ttl": 1}, "spec.cache", id="unknown-field"),
    ],
)
def test_a_bad_cache_field_fails_the_run_naming_it(cache: dict[str, Any], message: str) -> None:
    result = plan(taskrun({**BASE, "cache": cache}), pod="unknown", now=NOW, settings=SETTINGS)
    assert result.status is not None
    assert result.status["phase"] == "Failed"
    assert message in result.status["conditions"][0]["message"]


# ---------------------------------------------------------------- @kubetask.task and submit to spec.cache


@kubetask.task(image="img:1", cache=True, cache_version="2")
def cached_add(a: int, b: int) -> int:
    return a + b


@kubetask.task(image="img:1")
def plain_add(a: int, b: int) -> int:
    return a + b


def _cache_spec(task: kubetask.Task[..., Any], argv: list[str]) -> Any:
    parser = argparse.ArgumentParser()
    add_task_option_flags(parser)
    options = submit_options(task, **task_options_from(parser.parse_args(argv)))
    manifest = taskrun_manifest(
        name="r", namespace="ns", reference=TaskReference(module="m", name="t"), inputs=None, options=options
    )
    return manifest["spec"].get("cache")


@pytest.mark.parametrize(
    ("task", "argv", "expected"),
    [
        pytest.param(cached_add, [], {"version": "2"}, id="decorator"),
        pytest.param(cached_add, ["--no-cache"], {"version": "2", "refresh": True}, id="no-cache-refreshes"),
        pytest.param(cached_add, ["--cache-version", "3"], {"version": "3"}, id="version-flag-wins"),
        pytest.param(plain_add, [], None, id="off-by-default"),
        pytest.param(plain_add, ["--cache"], {}, id="cache-flag"),
        pytest.param(plain_add, ["--no-cache"], None, id="no-cache-of-an-uncached-task"),
    ],
)
def test_task_options_reach_spec_cache(task: kubetask.Task[..., Any], argv: list[str], expected: Any) -> None:
    assert _cache_spec(task, argv) == expected


def test_the_spec_the_client_writes_parses_to_the_same_key() -> None:
    spec = {"image": "img:1", "task": {"module": "m", "name": "t"}, "cache": _cache_spec(cached_add, [])}
    assert parse_spec(spec).cache_version == "2"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"cache": "yes"}, "cache: expected True or False", id="cache-not-bool"),
        pytest.param({"cache_version": "two words"}, "cache_version: expected", id="version-with-space"),
    ],
)
def test_a_bad_cache_option_is_refused_naming_it(options: dict[str, Any], message: str) -> None:
    with pytest.raises(kubetask.TaskDefinitionError, match=message):
        kubetask.task(**options)(plain_add.function)


def test_describe_explains_a_hit_with_the_keys_parts() -> None:
    peers = [_peer("first", "Succeeded", KEY, outputs={"o0": 3}, completionTime=stamp(-5))]
    decision = decide_cache("demo", KEY, peers, refresh=False)
    result = plan(taskrun(BASE), pod="unknown", now=NOW, settings=SETTINGS, cache=decision)
    assert result.status is not None
    text = describe(taskrun(BASE, result.status), now=at(10))
    assert "Cached from:  first" in text
    assert f"Cache key:    {KEY.digest}" in text
    assert "cache hit: outputs of TaskRun first" in text
    assert "image registry.example/app:1.0" in text
    assert 'inputs {"a":1,"b":{"x":1,"y":2}}' in text
