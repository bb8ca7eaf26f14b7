"""The pure pieces of the commands: where an attempt's archived log is, why a run waits, what rerun and
``dev --apply`` create. No cluster."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask_client import ClientUsageError
from kubetask_client._apply import taskruns_in
from kubetask_client._commands import rerun_manifest
from kubetask_client._display import why_waiting
from kubetask_client._follow import attempt_prefix, no_archive_message

RUN = {"metadata": {"name": "r", "namespace": "ns"}, "spec": {"image": "i"}}


@pytest.mark.parametrize(
    ("taskrun", "storage_prefix", "expected"),
    [
        pytest.param(
            {**RUN, "status": {"outputsUri": "s3://b/runs/ns/r/2/outputs.json"}},
            None,
            "s3://b/runs/ns/r/2",
            id="beside-the-outputs",
        ),
        pytest.param(
            {**RUN, "status": {"error": {"uri": "file:///s/1/error.json"}}},
            None,
            "file:///s/1",
            id="beside-error",
        ),
        pytest.param(
            {**RUN, "spec": {"outputPrefix": "s3://b/mine/"}}, None, "s3://b/mine/2", id="spec-prefix"
        ),
        pytest.param(RUN, "s3://b/store", "s3://b/store/ns/r/2", id="operator-storage-prefix"),
        pytest.param(RUN, None, None, id="unknown"),
    ],
)
def test_where_an_attempts_log_is_archived(
    taskrun: dict[str, Any], storage_prefix: str | None, expected: str | None
) -> None:
    number = 1 if "error" in taskrun.get("status", {}) else 2
    assert attempt_prefix(taskrun, number, storage_prefix=storage_prefix) == expected


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        pytest.param(
            {"reason": "ImagePullFailed"}, "the pod never started (ImagePullFailed)", id="never-started"
        ),
        pytest.param(
            {"reason": "OOMKilled", "exitCode": 137}, "the attempt was killed (OOMKilled)", id="killed"
        ),
        pytest.param(
            {"reason": "UserError", "exitCode": 1}, "logs outlive pods only when storage", id="no-storage"
        ),
    ],
)
def test_a_missing_archive_is_explained(attempt: dict[str, Any], expected: str) -> None:
    taskrun = {**RUN, "status": {"attempts": [{"number": 1, "podName": "p", **attempt}]}}
    assert expected in no_archive_message(taskrun, 1, "p")


@pytest.mark.parametrize(
    ("status", "pod", "expected"),
    [
        pytest.param(
            {},
            None,
            "no operator has reported on this TaskRun; is one running and watching namespace ns?",
            id="no-operator",
        ),
        pytest.param(
            {"phase": "Retrying", "nextAttemptTime": "2030-01-01T00:00:00Z"},
            None,
            "waiting to retry: the next attempt starts at 2030-01-01T00:00:00Z",
            id="retrying",
        ),
        pytest.param(
            {"phase": "Pending", "podName": "p"},
            {
                "status": {
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": "0/3 nodes",
                        }
                    ],
                    "containerStatuses": [
                        {
                            "name": "task",
                            "state": {"waiting": {"reason": "ErrImagePull", "message": "no such host"}},
                        }
                    ],
                }
            },
            "pod PodScheduled: Unschedulable: 0/3 nodes; container task: ErrImagePull: no such host",
            id="pod-conditions",
        ),
        pytest.param({"phase": "Running"}, None, None, id="running"),
    ],
)
def test_why_a_run_waits(status: dict[str, Any], pod: dict[str, Any] | None, expected: str | None) -> None:
    assert why_waiting({**RUN, "status": status}, pod) == expected


def test_rerun_keeps_the_spec_and_labels_and_replaces_the_given_inputs() -> None:
    original = {
        "metadata": {"name": "greet-x7k2q", "namespace": "ns", "labels": {"team": "data"}, "uid": "u"},
        "spec": {
            "image": "i",
            "task": {"module": "m", "name": "t"},
            "inputs": {"a": 1, "b": 2},
            "cancelled": True,
        },
        "status": {"phase": "Cancelled"},
    }
    manifest = rerun_manifest(original, name="greet-abcde", inputs={"b": 3})
    assert manifest["metadata"] == {
        "name": "greet-abcde",
        "namespace": "ns",
        "labels": {"team": "data", "kubetask.dev/rerun-of": "greet-x7k2q"},
    }
    assert manifest["spec"] == {
        "image": "i",
        "task": {"module": "m", "name": "t"},
        "inputs": {"a": 1, "b": 3},
    }
    assert "status" not in manifest


def test_rerun_cannot_change_inputs_read_from_a_document() -> None:
    original = {"metadata": {"name": "r", "namespace": "ns"}, "spec": {"inputsFrom": "s3://b/in.json"}}
    with pytest.raises(ClientUsageError, match=r"reads its inputs from 's3://b/in.json' \(spec.inputsFrom\)"):
        rerun_manifest(original, name="r2", inputs={"a": 1})


def test_apply_takes_taskruns_and_refuses_anything_else() -> None:
    text = (
        "apiVersion: kubetask.dev/v1alpha1\nkind: TaskRun\nmetadata: {name: a}\nspec: {image: i}\n---\n"
        "apiVersion: kubetask.dev/v1alpha1\nkind: TaskRun\nmetadata: {name: b, namespace: other}\n"
        "spec: {image: i}\n"
    )
    assert [
        (t["metadata"]["namespace"], t["metadata"]["name"])
        for t in taskruns_in(text, path="f", namespace="default")
    ] == [
        ("default", "a"),
        ("other", "b"),
    ]
    with pytest.raises(
        ClientUsageError, match=r"f: document 1: expected apiVersion kubetask.dev/v1alpha1 kind TaskRun"
    ):
        taskruns_in("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", path="f", namespace="default")
    with pytest.raises(ClientUsageError, match=r"f: document 1: metadata.name: expected lowercase"):
        taskruns_in(
            "apiVersion: kubetask.dev/v1alpha1\nkind: TaskRun\nmetadata: {name: Bad}\n",
            path="f",
            namespace="d",
        )
