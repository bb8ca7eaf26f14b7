"""TaskMaps end to end: items as child TaskRuns, parallelism never exceeded (seen from a watch), failures
within and past maxFailedItems, cancel, outputs in item order, and an operator restart mid-map.

The parallelism tests run 200 items on a private local cluster whose node completes pods at once (fast
mode, docs/local-cluster.md), so they measure the controller, not pod start-up; the others run real pods.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest
import yaml

from kubetask_local.testing import Cluster, wait_for

from .conftest import FINISHED, IMAGE, TASKS_MOUNT, TaskRuns, create_namespace_with_tasks

SUCCESS = json.dumps({"outcome": "Succeeded", "outputs": {"o0": 3}})


def map_manifest(name: str, task: str, items: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A TaskMap of ``optasks.<task>`` over ``items`` (extra spec fields as given)."""
    return {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskMap",
        "metadata": {"name": name},
        "spec": {
            "image": IMAGE,
            "task": {"module": "optasks", "name": task},
            "env": [{"name": "PYTHONPATH", "value": TASKS_MOUNT}],
            "podTemplate": {
                "volumes": [{"name": "tests", "configMap": {"name": "optasks"}}],
                "volumeMounts": [{"name": "tests", "mountPath": TASKS_MOUNT}],
            },
            "items": items,
            **spec,
        },
    }


class Maps:
    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace

    def create(self, manifest: dict[str, Any]) -> str:
        self.cluster.kubectl("create", "-f", "-", "-n", self.namespace, input=yaml.safe_dump(manifest))
        return str(manifest["metadata"]["name"])

    def get(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.cluster.kubectl_json("get", "taskmap", name, "-n", self.namespace)
        return result

    def wait(self, name: str, *phases: str, timeout: float = 120) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            status = self.get(name).get("status") or {}
            return status if status.get("phase") in phases else None

        return wait_for(check, timeout, f"TaskMap {name} to reach {' or '.join(phases)}", interval=0.5)

    def items(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.cluster.kubectl_json(
            "get", "taskruns", "-n", self.namespace, "-l", f"kubetask.dev/map={name}"
        )["items"]
        return sorted(found, key=lambda t: int(t["metadata"]["labels"]["kubetask.dev/item"]))

    def events(self, name: str) -> list[str]:
        found = self.cluster.kubectl_json(
            "get", "events", "-n", self.namespace, "--field-selector", f"involvedObject.name={name}"
        )["items"]
        return [e["reason"] for e in found if e["involvedObject"]["kind"] == "TaskMap"]


class ItemWatch:
    """Watches a map's item TaskRuns from the API and keeps the most ever unfinished at once, and how often
    each item was ADDED (a duplicate item would be a second ADDED of a name after its deletion)."""

    def __init__(self, cluster: Cluster, namespace: str, map_name: str) -> None:
        self.unfinished: set[str] = set()
        self.peak = 0
        self.added: dict[str, int] = {}
        self.finished: set[str] = set()
        self._stop = threading.Event()
        client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
        self._api = kubernetes.client.CustomObjectsApi(client)
        self._namespace, self._map = namespace, map_name
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(60), "the watch did not start"

    def _run(self) -> None:
        watch = kubernetes.watch.Watch()
        version = self._api.list_namespaced_custom_object(
            "kubetask.dev",
            "v1alpha1",
            self._namespace,
            "taskruns",
            label_selector=f"kubetask.dev/map={self._map}",
        )["metadata"]["resourceVersion"]
        self._ready.set()
        while not self._stop.is_set():
            for event in watch.stream(
                self._api.list_namespaced_custom_object,
                "kubetask.dev",
                "v1alpha1",
                self._namespace,
                "taskruns",
                label_selector=f"kubetask.dev/map={self._map}",
                resource_version=version,
                timeout_seconds=5,
            ):
                body = event["object"]
                version = body["metadata"]["resourceVersion"]
                name = body["metadata"]["name"]
                phase = (body.get("status") or {}).get("phase")
                if event["type"] == "ADDED":
                    self.added[name] = self.added.get(name, 0) + 1
                if event["type"] == "DELETED" or phase in FINISHED:
                    self.unfinished.discard(name)
                    if phase in FINISHED:
                        self.finished.add(name)
                else:
                    self.unfinished.add(name)
                self.peak = max(self.peak, len(self.unfinished))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


@pytest.fixture
def maps(taskruns: TaskRuns) -> Maps:
    return Maps(taskruns.cluster, taskruns.namespace)


@pytest.fixture
def fast_cluster(local_cluster_factory: Callable[..., Cluster]) -> Iterator[Cluster]:
    """A private local cluster whose node completes every pod at once, successfully."""
    cluster = local_cluster_factory()
    cluster.set_fast_mode(exit_code=0, termination_message=SUCCESS)
    return cluster


# ---------------------------------------------------------------- items, inputs and outputs


def test_items_are_child_taskruns_with_shared_inputs_and_outputs_in_item_order(maps: Maps) -> None:
    items = [{"b": index} for index in range(5)] + [{"a": 100, "b": 5}]
    name = maps.create(map_manifest("adds", "add", items, inputs={"a": 10}, parallelism=2))
    status = maps.wait(name, "Succeeded")
    assert status["succeeded"] == status["total"] == 6
    assert status["failed"] == status["pending"] == status["running"] == 0
    assert status["progress"] == "6/6"
    assert [line["outputs"] for line in status["outputs"]] == [{"o0": 10 + i} for i in range(5)] + [
        {"o0": 105}
    ]
    taskmap = maps.get(name)
    children = maps.items(name)
    assert [c["metadata"]["name"] for c in children] == [f"adds-{i}" for i in range(6)]
    for index, child in enumerate(children):
        assert child["metadata"]["labels"]["kubetask.dev/item"] == str(index)
        (owner,) = child["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "TaskMap",
            taskmap["metadata"]["uid"],
            True,
        )
        assert child["spec"]["inputs"] == {"a": 10, **items[index]}
    table = maps.cluster.kubectl("get", "ktm", name, "-n", maps.namespace).stdout
    assert table.split("\n")[0].split()[:4] == ["NAME", "PHASE", "DONE", "FAILED"]
    assert "Succeeded" in table
    assert "6/6" in table
    assert wait_for(lambda: {"Started", "Succeeded"} <= set(maps.events(name)), 30, "the map's events")


# ---------------------------------------------------------------- failures


def test_failed_items_within_max_failed_items_are_named_and_the_map_succeeds(maps: Maps) -> None:
    bad = {2, 5, 6}  # a str where the task takes an int: the item fails as the user's mistake
    items = [{"b": "x" if index in bad else index} for index in range(8)]
    name = maps.create(
        map_manifest("some-fail", "add", items, inputs={"a": 1}, parallelism=3, maxFailedItems=3)
    )
    status = maps.wait(name, "Succeeded", "Failed")
    assert status["phase"] == "Succeeded"
    assert status["failedItems"] == "2,5-6"
    assert (status["succeeded"], status["failed"]) == (5, 3)
    assert [line["phase"] for line in status["outputs"]] == [
        "Failed" if index in bad else "Succeeded" for index in range(8)
    ]
    assert "ItemFailed" in wait_for(lambda: maps.events(name) or None, 30, "events")


def test_past_max_failed_items_the_map_fails_lets_running_items_finish_and_starts_no_new_one(
    maps: Maps,
) -> None:
    # Items 0-2 start together; item 0 fails at once (a bad input), past maxFailedItems 0, while 1 and 2
    # still sleep: they run to the end, and no item past them starts.
    items = [{"seconds": "x"}] + [{"seconds": 20} for _ in range(1, 12)]
    name = maps.create(map_manifest("too-many", "sleep", items, parallelism=3))
    status = maps.wait(name, "Failed", "Succeeded")
    assert status["phase"] == "Failed"
    assert status["failedItems"] == "0"
    (condition,) = status["conditions"]
    assert condition["reason"] == "FailedItemsExceeded"
    assert "more than maxFailedItems 0" in condition["message"]
    assert [t["status"]["phase"] for t in maps.items(name)] == ["Failed", "Succeeded", "Succeeded"]
    assert status["pending"] == 9
    assert [line["phase"] for line in status["outputs"]][3:] == ["NotStarted"] * 9


def test_a_map_over_a_name_too_long_for_its_items_label_fails_saying_so(maps: Maps) -> None:
    name = maps.create(map_manifest("m" * 64, "add", [{"a": 1, "b": 2}]))
    status = maps.wait(name, "Failed")
    (condition,) = status["conditions"]
    assert condition["reason"] == "InvalidItems"
    assert "metadata.name" in condition["message"]
    assert "63" in condition["message"]
    assert maps.items(name[:63]) == []


# ---------------------------------------------------------------- cancel and delete


def test_cancelling_a_map_cancels_its_unfinished_items_and_starts_no_more(maps: Maps) -> None:
    name = maps.create(map_manifest("sleepers", "sleep", [{"seconds": 300}] * 6, parallelism=2))
    wait_for(
        lambda: sum((t.get("status") or {}).get("phase") == "Running" for t in maps.items(name)) == 2 or None,
        120,
        "two items running",
    )
    maps.cluster.kubectl(
        "patch", "taskmap", name, "-n", maps.namespace, "--type", "merge", "-p", '{"spec":{"cancelled":true}}'
    )
    status = maps.wait(name, "Cancelled", timeout=120)
    assert [t["status"]["phase"] for t in maps.items(name)] == ["Cancelled", "Cancelled"]
    assert status["pending"] == 4
    assert status["cancelled"] == 2


def test_deleting_a_map_deletes_its_items(maps: Maps) -> None:
    name = maps.create(map_manifest("deleted", "add", [{"a": 1, "b": i} for i in range(3)]))
    maps.wait(name, "Succeeded")
    assert len(maps.items(name)) == 3
    maps.cluster.kubectl("delete", "taskmap", name, "-n", maps.namespace)
    wait_for(lambda: maps.items(name) == [] or None, 60, "the map's items to be garbage-collected")


# ---------------------------------------------------------------- parallelism at scale


@pytest.mark.slow
def test_200_items_never_more_than_parallelism_unfinished(fast_cluster: Cluster) -> None:
    create_namespace_with_tasks(fast_cluster, "map200")
    maps = Maps(fast_cluster, "map200")
    watch = ItemWatch(fast_cluster, "map200", "wide")
    try:
        maps.create(map_manifest("wide", "add", [{"a": 1, "b": i} for i in range(200)], parallelism=10))
        status = maps.wait("wide", "Succeeded", "Failed", timeout=240)
        wait_for(lambda: len(watch.finished) == 200 or None, 60, "the watch to see every item finish")
    finally:
        watch.stop()
    assert status["phase"] == "Succeeded"
    assert status["succeeded"] == 200
    assert watch.peak <= 10, f"{watch.peak} items were unfinished at once"
    assert watch.peak >= 5, "the map never ran items side by side"
    assert set(watch.added.values()) == {1}


@pytest.mark.slow
def test_an_operator_restart_mid_map_neither_exceeds_parallelism_nor_duplicates_items(
    fast_cluster: Cluster,
) -> None:
    create_namespace_with_tasks(fast_cluster, "restart")
    maps = Maps(fast_cluster, "restart")
    watch = ItemWatch(fast_cluster, "restart", "steady")
    try:
        maps.create(map_manifest("steady", "add", [{"a": 1, "b": i} for i in range(200)], parallelism=10))
        wait_for(lambda: len(watch.finished) >= 40 or None, 120, "40 items to finish")
        fast_cluster.restart_operator()
        status = maps.wait("steady", "Succeeded", "Failed", timeout=240)
        wait_for(lambda: len(watch.finished) == 200 or None, 60, "the watch to see every item finish")
    finally:
        watch.stop()
    assert status["phase"] == "Succeeded"
    assert status["succeeded"] == 200
    assert watch.peak <= 10, f"{watch.peak} items were unfinished at once across the restart"
    assert set(watch.added.values()) == {1}, "an item was created twice"


# ---------------------------------------------------------------- items from a document, TTL


def _data_uri(text: str) -> str:
    return "data:application/jsonl;base64," + base64.b64encode(text.encode()).decode()


def test_items_from_a_json_lines_document(maps: Maps) -> None:
    document = "".join(json.dumps({"b": index}) + "\n" for index in range(4))
    manifest = map_manifest("from-doc", "add", [], inputs={"a": 5})
    del manifest["spec"]["items"]
    manifest["spec"]["itemsFrom"] = _data_uri(document)
    status = maps.wait(maps.create(manifest), "Succeeded")
    assert [line["outputs"] for line in status["outputs"]] == [{"o0": 5 + index} for index in range(4)]


def test_a_bad_items_document_fails_the_map_naming_the_line(maps: Maps) -> None:
    manifest = map_manifest("bad-doc", "add", [])
    del manifest["spec"]["items"]
    manifest["spec"]["itemsFrom"] = _data_uri('{"a": 1, "b": 2}\n[3]\n')
    status = maps.wait(maps.create(manifest), "Failed")
    (condition,) = status["conditions"]
    assert condition["reason"] == "InvalidItems"
    assert "line 2: expected a JSON object" in condition["message"]
    assert maps.items("bad-doc") == []


def test_the_api_refuses_a_map_with_both_items_and_items_from(maps: Maps) -> None:
    manifest = map_manifest("both", "add", [{"a": 1, "b": 2}], itemsFrom=_data_uri("{}\n"))
    refused = maps.cluster.kubectl(
        "create", "-f", "-", "-n", maps.namespace, input=yaml.safe_dump(manifest), check=False
    )
    assert refused.returncode != 0
    assert "exactly one of spec.items and spec.itemsFrom must be set" in refused.stderr


def test_a_finished_map_is_deleted_with_its_items_after_its_ttl(maps: Maps) -> None:
    name = maps.create(map_manifest("short-lived", "add", [{"a": 1, "b": 2}], ttlSecondsAfterFinished=1))

    def gone() -> bool | None:
        listed = maps.cluster.kubectl_json("get", "taskmaps", "-n", maps.namespace)["items"]
        return (not [m for m in listed if m["metadata"]["name"] == name] and not maps.items(name)) or None

    wait_for(gone, 120, "the map and its item to be deleted after the TTL", interval=0.5)


# ---------------------------------------------------------------- caching per item


def test_a_map_with_cache_reuses_each_items_outputs_and_runs_only_the_new_items(
    maps: Maps, taskruns: TaskRuns
) -> None:
    items = [{"b": index} for index in range(4)]
    first = maps.wait(
        maps.create(map_manifest("cache-first", "add", items, inputs={"a": 1}, cache={"version": "1"})),
        "Succeeded",
        timeout=180,
    )
    assert (first["succeeded"], first["cached"]) == (4, 0)
    expected = [{"o0": 1 + index} for index in range(4)]
    assert [line["outputs"] for line in first["outputs"]] == expected

    # The same template and items: every item takes the first map's outputs, no pod is made.
    again = maps.wait(
        maps.create(map_manifest("cache-again", "add", items, inputs={"a": 1}, cache={"version": "1"})),
        "Succeeded",
        timeout=180,
    )
    assert (again["succeeded"], again["cached"], again["total"]) == (4, 4, 4)
    assert [line["outputs"] for line in again["outputs"]] == expected
    for index, child in enumerate(maps.items("cache-again")):
        assert child["status"]["cachedFrom"] == f"cache-first-{index}"
        assert taskruns.pods(child["metadata"]["name"]) == []

    # Two new items among the old ones: only those run (each its own pod); the others are cached.
    mixed_items = [{"b": 10}, *items[:2], {"b": 11}, *items[2:]]
    mixed = maps.wait(
        maps.create(map_manifest("cache-mixed", "add", mixed_items, inputs={"a": 1}, cache={"version": "1"})),
        "Succeeded",
        timeout=180,
    )
    assert (mixed["succeeded"], mixed["cached"], mixed["total"]) == (6, 4, 6)
    assert [line["outputs"] for line in mixed["outputs"]] == [
        {"o0": 11},
        expected[0],
        expected[1],
        {"o0": 12},
        expected[2],
        expected[3],
    ]
    ran = {
        child["metadata"]["name"]
        for child in maps.items("cache-mixed")
        if len(taskruns.pods(child["metadata"]["name"])) == 1 and "cachedFrom" not in child["status"]
    }
    assert ran == {"cache-mixed-0", "cache-mixed-3"}
    for index in (1, 2, 4, 5):
        assert taskruns.pods(f"cache-mixed-{index}") == []
