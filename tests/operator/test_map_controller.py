"""The TaskMap controller's I/O against a fake API: outputs collected in item order (inline for small maps, a
JSON-lines document in storage, never silently cut), and a restart counting items before creating any."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, cast

import pytest

from kubetask_api import INLINE_OUTPUTS_MAX_ITEMS
from kubetask_operator._client import KubeClient
from kubetask_operator._maps import MapController
from kubetask_operator._settings import Settings


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
