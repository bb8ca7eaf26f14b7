"""The TaskMap controller's I/O against a fake API: outputs collected in item order (inline for small maps, a
JSON-lines document in storage, never silently cut), and a restart counting items before creating any."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, cast

import pytest

from kubetask_api import INLINE_OUTPUTS_MAX_ITEMS
from kubetask_operator._client import KubeClient
from kubetask_operator._maps import MapController, item_manifest
from kubetask_operator._naming import pod_name
from kubetask_operator._settings import Settings

from ._factories import stamp
from ._fake_api import Harness, harness


def _item(index: int, phase: str, *, uid: str = "map-uid") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if phase == "Succeeded":
        status["outputs"] = {"o0": index * 10}
    return {
        "metadata": {
            "name": f"m-{index}",
            "namespace": "ns",
            "resourceVersion": str(100 + index),
            "labels": {"kubetask.dev/map": "m", "kubetask.dev/item": str(index)},
            "ownerReferences": [{"kind": "TaskMap", "uid": uid, "controller": True}],
        },
        "status": status,
    }


class FakeApi:
    """Serves the item list in pages of two (with continue tokens) and records every write."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.created: list[str] = []
        self.status_patches: list[dict[str, Any]] = []

    async def get(self, path: str) -> dict[str, Any]:
        start = int(path.split("continue=")[1]) if "continue=" in path else 0
        page = self.items[start : start + 2]
        more = start + 2 < len(self.items)
        return {"items": page, "metadata": {"continue": str(start + 2) if more else ""}}

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        if path.endswith("/events"):
            return {}
        self.created.append(body["metadata"]["name"])
        return {**body, "metadata": {**body["metadata"], "resourceVersion": "999"}}

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        self.status_patches.append(dict(patch["status"]))
        return {"metadata": {"resourceVersion": "1000"}, "status": patch["status"]}


def _taskmap(total: int, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "m",
            "namespace": "ns",
            "uid": "map-uid",
            "resourceVersion": "1",
            "generation": 1,
        },
        "spec": {"image": "i", "task": {"module": "t", "name": "f"}, "items": [{}] * total, **spec},
    }


def _run(api: FakeApi, taskmap: dict[str, Any], *, storage: str | None = None) -> dict[str, bytes]:
    written: dict[str, bytes] = {}

    async def scenario() -> None:
        controller = MapController(
            client=cast(KubeClient, api),
            settings=Settings(storage_prefix=storage),
            write_document=written.__setitem__,
        )
        await controller.on_taskmap("ADDED", taskmap)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if api.status_patches and api.status_patches[-1].get("completionTime"):
                break
        await controller.stop()

    asyncio.run(scenario())
    return written


def test_a_small_map_gets_its_outputs_inline_and_in_storage_in_item_order() -> None:
    api = FakeApi([_item(2, "Succeeded"), _item(0, "Succeeded"), _item(1, "Failed")])
    written = _run(api, _taskmap(3, maxFailedItems=1), storage="s3://bucket/kt")
    final = api.status_patches[-1]
    assert final["phase"] == "Succeeded"
    assert final["failedItems"] == "1"
    assert [line["item"] for line in final["outputs"]] == [0, 1, 2]
    assert final["outputsUri"] == "s3://bucket/kt/ns/m/taskmap-outputs.jsonl"
    lines = [json.loads(line) for line in written[final["outputsUri"]].decode().splitlines()]
    assert lines == final["outputs"]
    assert lines[0] == {"item": 0, "phase": "Succeeded", "outputs": {"o0": 0}}
    assert api.created == [], "every item already existed: nothing is created again"


def test_a_large_map_without_storage_says_where_its_outputs_are_instead_of_cutting_them() -> None:
    total = INLINE_OUTPUTS_MAX_ITEMS + 1
    api = FakeApi([_item(index, "Succeeded") for index in range(total)])
    _run(api, _taskmap(total))
    final = api.status_patches[-1]
    assert "outputs" not in final
    assert "outputsUri" not in final
    assert "kubectl get ktr -l kubetask.dev/map=m" in final["outputsMessage"]


@pytest.mark.parametrize("parallelism", [pytest.param(3, id="full"), pytest.param(5, id="two-free-slots")])
def test_after_a_restart_items_already_running_are_counted_before_any_is_created(parallelism: int) -> None:
    # Items 0 and 4 finished, 1-3 still running (created by the operator before it restarted).
    api = FakeApi(
        [
            _item(0, "Succeeded"),
            _item(1, "Running"),
            _item(2, "Pending"),
            _item(3, "Running"),
            _item(4, "Succeeded"),
        ]
    )
    _run(api, _taskmap(10, parallelism=parallelism))
    assert api.created == [f"m-{index}" for index in range(5, 5 + parallelism - 3)]


def test_items_of_another_map_with_the_same_name_are_not_counted() -> None:
    api = FakeApi([_item(0, "Running", uid="old-map-uid")])
    _run(api, _taskmap(2, parallelism=1))
    assert api.created == ["m-0"]  # the API answers 409 while the old one is being deleted; never run twice


def test_an_item_name_held_by_an_old_maps_taskrun_is_created_once_that_one_is_deleted() -> None:
    old = _item(0, "Running", uid="old-map-uid")
    api = FakeApi([old])
    created_answers: list[dict[str, Any] | None] = [None]  # the first create meets the old TaskRun: 409

    original_create = api.create

    async def create(path: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        if not path.endswith("/events") and created_answers:
            created_answers.pop()
            api.created.append(body["metadata"]["name"])
            return None
        return await original_create(path, body)

    api.create = create  # type: ignore[method-assign]

    async def scenario() -> None:
        controller = MapController(client=cast(KubeClient, api), settings=Settings())
        await controller.on_taskmap("ADDED", _taskmap(1, parallelism=1))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if api.created:
                break
        await asyncio.sleep(0.05)
        assert api.created == ["m-0"]
        await controller.on_item("DELETED", old)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(api.created) == 2:
                break
        await controller.stop()

    asyncio.run(scenario())
    assert api.created == ["m-0", "m-0"]


# ---------------------------------------------------------------- with the TaskRun controller of the process

NAMESPACE_RUNS = "/apis/kubetask.dev/v1alpha1/namespaces/ns/taskruns"


async def _until(check: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not seen: {what}")


def _succeeded_pod(h: Harness, run_name: str) -> dict[str, Any]:
    """The item's first pod, as the API holds it, ended with outputs."""
    path = f"/api/v1/namespaces/ns/pods/{pod_name(run_name, f'uid-{run_name}', 1)}"
    body = dict(h.api.objects[path])
    body["status"] = {
        "phase": "Succeeded",
        "containerStatuses": [
            {
                "name": "task",
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "message": '{"outcome":"Succeeded","outputs":{"o0":1}}',
                        "startedAt": stamp(),
                        "finishedAt": stamp(1),
                    }
                },
            }
        ],
    }
    return h.api.put(path, body)


def test_an_item_gets_its_pod_and_frees_its_slot_without_waiting_for_the_watch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The map hands the items it creates to the TaskRun controller (their pods are made at once, and their
    ADDED events are not planned again), and hears of an item's end from it as the final status is written."""
    h = harness()
    reconciled: list[tuple[str, str]] = []
    reconcile = h.controller.reconcile

    async def counting(key: tuple[str, str]) -> None:
        reconciled.append(key)
        await reconcile(key)

    monkeypatch.setattr(h.controller, "reconcile", counting)

    async def scenario() -> None:
        maps = MapController(client=cast(KubeClient, h.api), settings=Settings(), runs=h.controller)
        await maps.on_taskmap("ADDED", _taskmap(2, parallelism=1))
        await _until(lambda: len(h.api.calls_of("POST", "/pods")) == 1, "the first item's pod")
        assert h.api.calls_of("POST", "/taskruns") == [NAMESPACE_RUNS], "one slot: one item"
        created = h.api.objects[f"{NAMESPACE_RUNS}/m-0"]
        assert reconciled == [("ns", "m-0")]
        await h.controller.on_taskrun("ADDED", created)  # its watch event, with the version handed over
        assert reconciled == [("ns", "m-0")], "the version already planned is not planned again"
        # The pod ends: its TaskRun's final status is written, and the map starts the next item at once
        # (no item event reaches the map: on_item is never called here).
        await h.controller.on_pod("MODIFIED", _succeeded_pod(h, "m-0"))
        assert h.api.objects[f"{NAMESPACE_RUNS}/m-0"]["status"]["phase"] == "Succeeded"
        await _until(lambda: len(h.api.calls_of("POST", "/pods")) == 2, "the second item's pod")
        assert h.api.calls_of("POST", "/taskruns") == [NAMESPACE_RUNS] * 2
        await maps.stop()

    asyncio.run(scenario())


def _taskmap_statuses(h: Harness) -> list[dict[str, Any]]:
    """The map's status writes (the fake API keeps TaskRuns and pods, not TaskMaps)."""
    patches: list[dict[str, Any]] = []
    original = h.api.merge_patch

    async def merge_patch(path: str, patch: Mapping[str, Any], *, retry_conflicts: bool = True) -> Any:
        if "/taskmaps/" in path:
            patches.append(dict(patch["status"]))
            return {"status": patch["status"], "metadata": {"resourceVersion": "900"}}
        return await original(path, patch, retry_conflicts=retry_conflicts)

    h.api.merge_patch = merge_patch  # type: ignore[method-assign]
    return patches


def test_an_item_the_api_refuses_for_good_fails_the_map_naming_it() -> None:
    h = harness()
    h.api.fail("POST", "/taskruns", 422, "Invalid", 'TaskRun "m-0" is invalid: spec.image: Required value')
    statuses = _taskmap_statuses(h)

    async def run_map() -> None:
        maps = MapController(client=cast(KubeClient, h.api), settings=Settings(), runs=h.controller)
        await maps.on_taskmap("ADDED", _taskmap(3, parallelism=3))
        await _until(lambda: bool(statuses) and "completionTime" in statuses[-1], "the map's final status")
        await maps.stop()

    asyncio.run(run_map())
    final = statuses[-1]
    assert final["phase"] == "Failed"
    (condition,) = final["conditions"]
    assert condition["reason"] == "InvalidItems"
    assert condition["message"].startswith("item 0: the API refused its TaskRun: ")
    assert "spec.image: Required value" in condition["message"]


def test_an_item_not_created_for_a_passing_reason_is_created_again() -> None:
    h = harness()
    h.api.fail("POST", "/taskruns", 503, "ServiceUnavailable", "etcd leader changed")

    async def run_map() -> None:
        maps = MapController(client=cast(KubeClient, h.api), settings=Settings(), runs=h.controller)
        await maps.on_taskmap("ADDED", _taskmap(1, parallelism=1))
        await _until(lambda: f"{NAMESPACE_RUNS}/m-0" in h.api.objects, "the item created on a second try")
        await maps.stop()

    asyncio.run(run_map())
    assert h.api.calls_of("POST", "/taskruns") == [NAMESPACE_RUNS] * 2


def test_an_item_handed_over_after_its_watch_events_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch may be first (the POST's answer comes late): the handed-over body, older than what the
    watch brought (here: a label added meanwhile, the status alike), is neither planned nor taken in."""
    h = harness()
    reconciled: list[tuple[str, str]] = []
    reconcile = h.controller.reconcile

    async def counting(key: tuple[str, str]) -> None:
        reconciled.append(key)
        await reconcile(key)

    async def scenario() -> None:
        created = await h.api.create(NAMESPACE_RUNS, item_manifest(_taskmap(1), 0, {}))
        assert created is not None
        await h.controller.on_taskrun("ADDED", created)
        stored = h.api.objects[f"{NAMESPACE_RUNS}/m-0"]
        metadata = {**stored["metadata"], "labels": {**stored["metadata"]["labels"], "team": "a"}}
        labelled = h.api.put(f"{NAMESPACE_RUNS}/m-0", {**stored, "metadata": metadata})
        await h.controller.on_taskrun("MODIFIED", labelled)
        monkeypatch.setattr(h.controller, "reconcile", counting)
        await h.controller.take_created(created)
        assert reconciled == []
        assert h.api.calls_of("POST", "/pods") == ["/api/v1/namespaces/ns/pods"]

    asyncio.run(scenario())
