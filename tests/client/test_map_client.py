"""``kubetask.map`` and ``kubetask map``: items checked before anything is created, a TaskMap created with the
task's options, outputs back in item order with the failures, and a progress line."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kubetask
import kubetask_client
from kubetask_client._errors import ClientUsageError
from kubetask_client._map import encode_items, progress_line, result_of
from kubetask_client._map_command import ProgressLine, describe_map, read_items
from kubetask_client._selftest import echo, sleep
from kubetask_local.testing import Cluster

Cli = Callable[..., Any]


# ---------------------------------------------------------------- pure parts


def test_kubetask_map_is_the_clients_found_through_the_entry_point() -> None:
    assert kubetask.map is kubetask_client.map_task


@pytest.mark.parametrize(
    ("items", "shared", "message"),
    [
        pytest.param(
            [{"message": "a"}, {"message": 3}],
            {},
            r"items\[1\]: input 'message': expected str",
            id="bad-type",
        ),
        pytest.param([{"message": "a"}, {}], {}, r"items\[1\]: .*message", id="missing-input"),
        pytest.param([{"message": "a"}, {"colour": "red"}], {}, r"items\[1\]: .*colour", id="unknown-input"),
        pytest.param(
            ["a"], {}, r"items\[0\]: expected a mapping of inputs by name, got 'a'", id="not-a-mapping"
        ),
        pytest.param([{}], {"message": 1}, r"inputs: input 'message': expected str", id="bad-shared-input"),
    ],
)
def test_every_item_is_checked_before_anything_is_created(
    items: list[Any], shared: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientUsageError, match=message):
        encode_items(echo, items, shared, upload=None)


def test_shared_inputs_fill_in_and_an_items_own_value_wins() -> None:
    shared, items = encode_items(echo, [{}, {"message": "own"}], {"message": "shared"}, upload=None)
    assert shared == {"message": "shared"}
    assert items == [{}, {"message": "own"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '{"message": "a"}\n{"message": 2}\n', r"line 2: input 'message': expected str", id="bad-type"
        ),
        pytest.param('{"message": "a"}\n[1]\n', "line 2: expected a JSON object", id="not-an-object"),
        pytest.param('{"message": "a"}\n{oops}\n', "line 2 is not JSON", id="not-json"),
    ],
)
def test_a_bad_inputs_file_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(ClientUsageError, match=message):
        read_items(echo, text, source="items.jsonl")


def test_outputs_come_in_item_order_with_the_failures_by_index() -> None:
    taskmap = {
        "metadata": {"name": "m"},
        "status": {
            "phase": "Succeeded",
            "outputs": [
                {"item": 0, "phase": "Succeeded", "outputs": {"o0": "a"}},
                {"item": 1, "phase": "Failed", "reason": "UserError", "message": "ValueError: boom"},
                {"item": 2, "phase": "Succeeded", "outputs": {"o0": "c"}},
            ],
        },
    }
    result = result_of(taskmap, items=list)
    assert result.outputs == [{"o0": "a"}, None, {"o0": "c"}]
    assert result.failures == {1: "UserError: ValueError: boom"}


def test_without_collected_outputs_the_items_taskruns_give_them() -> None:
    taskmap = {
        "metadata": {"name": "m"},
        "status": {"phase": "Succeeded", "total": 2, "outputsMessage": "big"},
    }
    children = [
        {
            "metadata": {"labels": {"kubetask.dev/item": "1"}},
            "status": {"phase": "Succeeded", "outputs": {"o0": 1}},
        }
    ]
    result = result_of(taskmap, items=lambda: children)
    assert result.outputs == [None, {"o0": 1}]
    assert result.failures == {0: "NotStarted"}


def test_the_progress_line_shows_done_of_total_rate_and_failures() -> None:
    taskmap = {
        "metadata": {"name": "m"},
        "status": {
            "phase": "Running",
            "total": 200,
            "succeeded": 118,
            "failed": 2,
            "running": 10,
            "failedItems": "3,7",
        },
    }
    assert progress_line(taskmap, elapsed=30.0) == "m: 120/200 done, 10 running, 2 failed (3,7), 4.0 items/s"


def test_off_a_terminal_the_progress_line_is_printed_every_few_seconds_and_at_the_end() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = ProgressLine(stream, clock=lambda: now[0])
    for second, succeeded in ((1.0, 1), (1.5, 2), (3.5, 3)):
        now[0] = second
        progress(
            {"metadata": {"name": "m"}, "status": {"phase": "Running", "total": 4, "succeeded": succeeded}}
        )
    now[0] = 4.0
    progress({"metadata": {"name": "m"}, "status": {"phase": "Succeeded", "total": 4, "succeeded": 4}})
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["m: 1/4 done", "m: 3/4 done", "m: 4/4 done"]
    assert lines[-1].endswith("[Succeeded]")


# ---------------------------------------------------------------- against the cluster


@pytest.mark.e2e
def test_kubetask_map_waits_for_the_outputs_in_item_order(
    cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    handle = kubetask.map(
        echo,
        [{"message": f"item {index}"} for index in range(5)],
        parallelism=2,
        image=selftest_image,
        namespace=namespace,
        kubeconfig=str(cluster.kubeconfig),
    )
    result = handle.wait(timeout=180)
    assert result.outputs == [{"o0": f"item {index}"} for index in range(5)]
    assert result.failures == {}
    assert [t["metadata"]["name"] for t in handle.items()] == [f"{handle.name}-{index}" for index in range(5)]


@pytest.mark.e2e
def test_kubetask_map_names_failed_items_and_raises_past_max_failed(
    cluster: Cluster, namespace: str, selftest_image: str
) -> None:
    # A float of seconds the task cannot sleep: a negative one fails the item as the user's error.
    items = [{"seconds": 0.1}, {"seconds": -1.0}, {"seconds": 0.1}]
    within = kubetask.map(
        sleep,
        items,
        max_failed=1,
        image=selftest_image,
        namespace=namespace,
        kubeconfig=str(cluster.kubeconfig),
    )
    result = within.wait(timeout=180)
    assert result.outputs == [{"o0": 0.1}, None, {"o0": 0.1}]
    assert list(result.failures) == [1]
    assert "ValueError" in result.failures[1]
    past = kubetask.map(
        sleep, items, image=selftest_image, namespace=namespace, kubeconfig=str(cluster.kubeconfig)
    )
    with pytest.raises(kubetask_client.TaskMapFailedError, match="more than maxFailedItems 0") as raised:
        past.wait(timeout=180)
    assert raised.value.result.failures.keys() == {1}


@pytest.mark.e2e
def test_kubetask_map_command_waits_with_a_progress_line(
    kubetask_cli: Cli, namespace: str, selftest_image: str, tmp_path: Path
) -> None:
    inputs = tmp_path / "items.jsonl"
    inputs.write_text("".join(json.dumps({"message": f"m{index}"}) + "\n" for index in range(4)))
    result = kubetask_cli(
        "map",
        "kubetask_client._selftest:echo",
        "--inputs-file",
        str(inputs),
        "--parallelism",
        "2",
        "--image",
        selftest_image,
        "-n",
        namespace,
        "--name",
        "echoes",
        "--wait",
        "--wait-timeout",
        "180",
    )
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"item": index, "outputs": {"o0": f"m{index}"}} for index in range(4)
    ]
    assert f"taskmap.kubetask.dev/echoes created in namespace {namespace} (4 items)" in result.stderr
    assert "echoes: 4/4 done" in result.stderr


@pytest.mark.e2e
def test_get_describe_cancel_and_delete_work_on_a_map_by_its_name(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str, tmp_path: Path
) -> None:
    inputs = tmp_path / "items.jsonl"
    inputs.write_text("".join(json.dumps({"seconds": 120}) + "\n" for _ in range(3)))
    created = kubetask_cli(
        "map", "kubetask_client._selftest:sleep", "--inputs-file", str(inputs), "--parallelism", "1",
        "--image", selftest_image, "-n", namespace, "--name", "sleepers",
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    got = kubetask_cli("get", "sleepers", "-n", namespace, "-o", "json")
    assert got.exit_code == 0, got.stderr
    assert json.loads(got.stdout)["kind"] == "TaskMap"
    described = kubetask_cli("describe", "sleepers", "-n", namespace)
    assert described.exit_code == 0, described.stderr
    assert "sleepers" in described.stdout
    cancelled = kubetask_cli("cancel", "sleepers", "-n", namespace)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert cluster.kubectl_json("get", "taskmap", "sleepers", "-n", namespace)["spec"]["cancelled"] is True
    deleted = kubetask_cli("delete", "sleepers", "-n", namespace)
    assert deleted.exit_code == 0, deleted.stderr
    assert "taskmap.kubetask.dev/sleepers deleted" in deleted.stdout
    missing = kubetask_cli("get", "sleepers", "-n", namespace)
    assert missing.exit_code == 2
    assert "no taskrun 'sleepers'" in missing.stderr  # neither kind: the TaskRun's message names it


@pytest.mark.e2e
def test_kubetask_map_command_refuses_a_bad_inputs_file_before_creating_anything(
    kubetask_cli: Cli, cluster: Cluster, namespace: str, selftest_image: str, tmp_path: Path
) -> None:
    inputs = tmp_path / "items.jsonl"
    inputs.write_text('{"message": "a"}\n{"message": 2}\n')
    result = kubetask_cli(
        "map",
        "kubetask_client._selftest:echo",
        "--inputs-file",
        str(inputs),
        "--image",
        selftest_image,
        "-n",
        namespace,
    )
    assert result.exit_code == 2
    assert "line 2: input 'message': expected str" in result.stderr
    assert cluster.kubectl_json("get", "taskmaps", "-n", namespace)["items"] == []


def test_describe_shows_why_counts_failed_items_and_where_the_outputs_are() -> None:
    text = describe_map(
        {
            "metadata": {"name": "m", "namespace": "ns"},
            "spec": {"parallelism": 4, "maxFailedItems": 2},
            "status": {
                "phase": "Succeeded",
                "progress": "10/10",
                "succeeded": 8,
                "failed": 2,
                "failedItems": "3,7",
                "outputsUri": "s3://b/o.jsonl",
                "conditions": [
                    {"type": "Succeeded", "reason": "ItemsSucceeded", "message": "8 items of 10 succeeded"}
                ],
            },
        }
    )
    assert "Phase:" in text
    assert "Succeeded (ItemsSucceeded)" in text
    assert "Failed items:    3,7" in text
    assert "succeeded 8, failed 2" in text
    assert "s3://b/o.jsonl" in text
