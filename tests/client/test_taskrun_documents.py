"""Building TaskRuns to submit and reading their status: pure functions, no cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

import kubetask
import kubetask_api
import kubetask_operator
from kubetask_client import ClientUsageError
from kubetask_client._selftest import echo
from kubetask_client._submit import task_reference
from kubetask_client._taskrun import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    SubmitOptions,
    TaskReference,
    duration_of,
    failure_message,
    format_seconds,
    generated_name,
    phase_of,
    pod_for_attempt,
    progress_line,
    reference_from_loader_args,
    taskrun_manifest,
    validate_name,
    validate_namespace,
)


def _crd_schema() -> dict[str, Any]:
    (version,) = kubetask_operator.load_crd()["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def test_the_api_constants_are_the_operators() -> None:
    assert (GROUP, VERSION, KIND, PLURAL, API_VERSION) == (
        kubetask_operator.GROUP,
        kubetask_operator.VERSION,
        kubetask_operator.KIND,
        kubetask_operator.PLURAL,
        kubetask_operator.API_VERSION,
    )


def test_the_contract_agrees_with_the_crd_the_api_server_enforces() -> None:
    crd = kubetask_operator.load_crd()
    names = crd["spec"]["names"]
    assert crd["metadata"]["name"] == kubetask_api.CRD_NAME
    assert crd["spec"]["group"] == kubetask_api.GROUP
    assert (names["kind"], names["listKind"], names["plural"], names["singular"]) == (
        kubetask_api.KIND,
        kubetask_api.LIST_KIND,
        kubetask_api.PLURAL,
        kubetask_api.SINGULAR,
    )
    assert tuple(names["shortNames"]) == kubetask_api.SHORT_NAMES
    assert tuple(names["categories"]) == kubetask_api.CATEGORIES
    (version,) = crd["spec"]["versions"]
    assert version["name"] == kubetask_api.VERSION
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    assert tuple(schema["status"]["properties"]["phase"]["enum"]) == kubetask_api.PHASES
    spec = schema["spec"]["properties"]
    for field in ("timeout", "pendingTimeout"):
        assert spec[field]["pattern"] == f"^{kubetask_api.DURATION_PATTERN}$"
    for part in ("requests", "limits"):
        quantity = spec["resources"]["properties"][part]["additionalProperties"]["pattern"]
        assert quantity == f"^{kubetask_api.QUANTITY_PATTERN}$"
    env_rules = [rule["rule"] for rule in spec["env"]["items"]["x-kubernetes-validations"]]
    assert f"!self.name.startsWith('{kubetask_api.RESERVED_ENV_PREFIX}')" in env_rules


def test_the_reserved_names_are_the_ones_the_operator_refuses() -> None:
    from kubetask_operator import _spec  # the operator's check of a spec (private: this test compares them)

    assert (_spec.RESERVED_MOUNT_ROOT, _spec.RESERVED_VOLUMES) == (
        kubetask_api.RESERVED_MOUNT_ROOT,
        kubetask_api.RESERVED_VOLUMES,
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(600, "600s", id="whole"),
        pytest.param(1.5, "1500ms", id="fraction"),
        pytest.param(0.0001, "1ms", id="tiny"),
    ],
)
def test_seconds_become_a_duration_the_crd_accepts_and_read_back_the_same(seconds: float, text: str) -> None:
    assert kubetask_api.duration_of_seconds(seconds) == text
    assert kubetask_api.parse_duration(text) == pytest.approx(max(seconds, 0.001))


def test_status_views_tolerate_what_is_missing_and_read_what_is_there() -> None:
    assert kubetask_api.StatusView.of({}).phase == "Pending"
    view = kubetask_api.StatusView.of(
        {
            "status": {
                "phase": "Failed",
                "attemptCount": 2,
                "conditions": [
                    {"type": "Succeeded", "status": "False", "reason": "UserError", "message": "m"}
                ],
                "attempts": [{"number": 1, "podName": "p-1"}, "junk"],
                "error": {"kind": "USER", "type": "ValueError", "message": "bad", "recoverable": False},
            }
        }
    )
    assert (view.phase, view.finished, view.reason, view.message, view.attempt_count) == (
        "Failed",
        True,
        "UserError",
        "m",
        2,
    )
    assert view.attempts == (kubetask_api.AttemptView(number=1, pod_name="p-1", reason=None, message=None),)
    assert view.error == kubetask_api.ErrorView(
        kind="USER", type="ValueError", message="bad", recoverable=False
    )


def test_a_default_resolver_task_becomes_spec_task_module_and_name() -> None:
    reference = task_reference(echo, image="img", namespace="default")
    assert reference == TaskReference(module="kubetask_client._selftest", name="echo")
    assert reference.spec() == {"task": {"module": "kubetask_client._selftest", "name": "echo"}}


def test_other_resolvers_keep_their_loader_args() -> None:
    reference = reference_from_loader_args(
        "my.resolvers.registry", ["key", "value"], default_resolver=kubetask.DEFAULT_RESOLVER
    )
    assert reference.spec() == {"resolver": "my.resolvers.registry", "loaderArgs": ["key", "value"]}


def test_a_non_task_is_refused_with_its_type() -> None:
    with pytest.raises(ClientUsageError, match=r"task: expected a @kubetask.task function, got .*function"):
        task_reference(echo.function, image="img", namespace="default")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(SubmitOptions(image="registry.example/tasks:1"), id="minimal"),
        pytest.param(
            SubmitOptions(
                image="registry.example/tasks:1",
                retries=2,
                timeout="5m",
                pending_timeout="1h30m",
                output_prefix="s3://bucket/runs",
                service_account="tasks",
                env={"LOG_LEVEL": "debug"},
                labels={"team": "data", "example.com/cost-centre": "ops-1", "empty": ""},
                ttl_seconds_after_finished=600,
                image_pull_secrets=("registry",),
            ),
            id="every-option",
        ),
    ],
)
def test_the_manifest_is_valid_against_the_crd_schema(options: SubmitOptions) -> None:
    manifest = taskrun_manifest(
        name="echo-abcde",
        namespace="team-a",
        reference=TaskReference(module="kubetask_client._selftest", name="echo"),
        inputs={"message": "hi", "nested": {"a": [1, 2.5, None, True]}},
        options=options,
    )
    jsonschema.validate(manifest["spec"], _crd_schema()["properties"]["spec"])
    assert manifest["apiVersion"] == "kubetask.dev/v1alpha1"
    assert manifest["kind"] == "TaskRun"
    assert manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubetask-client"


def test_unset_options_are_left_to_the_operator() -> None:
    manifest = taskrun_manifest(
        name="x",
        namespace="n",
        reference=TaskReference(module="m", name="t"),
        inputs={},
        options=SubmitOptions("i"),
    )
    assert manifest["spec"] == {"image": "i", "task": {"module": "m", "name": "t"}}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"image": ""}, "image: expected a container image reference, got ''", id="empty-image"),
        pytest.param({"image": "a b"}, "got 'a b'", id="image-with-space"),
        pytest.param(
            {"image": "i", "retries": -1}, "retries: expected an integer >= 0, got -1", id="negative"
        ),
        pytest.param(
            {"image": "i", "retries": True}, "retries: expected an integer >= 0, got True", id="bool"
        ),
        pytest.param({"image": "i", "timeout": "5 minutes"}, "timeout: expected a duration", id="timeout"),
        pytest.param(
            {"image": "i", "pending_timeout": "1d"}, "pending_timeout: expected a duration", id="days"
        ),
        pytest.param({"image": "i", "service_account": "Tasks"}, "service_account: expected", id="sa-case"),
        pytest.param(
            {"image": "i", "ttl_seconds_after_finished": -5}, "ttl_seconds_after_finished", id="ttl"
        ),
        pytest.param(
            {"image": "i", "labels": {"bad key": "x"}}, "labels: bad key='x' is not a", id="label-key"
        ),
        pytest.param(
            {"image": "i", "labels": {"team": "a b"}}, "labels: team='a b' is not", id="label-value"
        ),
        pytest.param({"image": "i", "labels": {"Bad_/x": "y"}}, "labels: Bad_/x='y'", id="label-prefix"),
        pytest.param(
            {"image": "i", "env": {"1 A": "x"}}, "env: '1 A' is not an environment variable", id="env"
        ),
    ],
)
def test_bad_options_name_the_option_and_the_value(kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(ClientUsageError) as caught:
        SubmitOptions(**kwargs)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Echo", id="uppercase"),
        pytest.param("-echo", id="leading-dash"),
        pytest.param("a" * 254, id="long"),
    ],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ClientUsageError, match="expected lowercase letters"):
        validate_name(name)


def test_bad_namespaces_are_refused() -> None:
    with pytest.raises(ClientUsageError, match=r"namespace: expected a DNS label .* got 'team\.a'"):
        validate_namespace("team.a")


@pytest.mark.parametrize(
    ("task_name", "expected"),
    [
        pytest.param("hello.hello", "hello-xyz12", id="module-qualified"),
        pytest.param("my_pkg.tasks.Train_Model", "train-model-xyz12", id="underscores-and-case"),
        pytest.param("x." + "long" * 30, "long" * 10 + "-xyz12", id="long-names-are-cut"),
        pytest.param("___", "task-xyz12", id="nothing-usable"),
    ],
)
def test_generated_names_are_readable_dns_names(task_name: str, expected: str) -> None:
    assert generated_name(task_name, suffix="xyz12") == expected
    assert validate_name(generated_name(task_name))


def _taskrun(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "echo-1", "namespace": "ns"},
        "spec": {},
        **({"status": status} if status else {}),
    }


def test_a_taskrun_without_status_is_pending() -> None:
    assert phase_of(_taskrun()) == "Pending"
    assert progress_line(_taskrun()) == "Pending"


def test_progress_says_phase_attempt_reason_and_message() -> None:
    status = {
        "phase": "Retrying",
        "attemptCount": 2,
        "nextAttemptTime": "2026-01-01T00:00:10Z",
        "conditions": [
            {"type": "Succeeded", "status": "Unknown", "reason": "BackoffWait", "message": "boom"}
        ],
    }
    assert progress_line(_taskrun(status)) == (
        "Retrying, attempt 2, BackoffWait (next attempt at 2026-01-01T00:00:10Z): boom"
    )


def test_failure_message_names_the_run_reason_and_task_error() -> None:
    status = {
        "phase": "Failed",
        "conditions": [{"type": "Succeeded", "status": "False", "reason": "UserError", "message": "exit 1"}],
        "error": {"kind": "USER", "recoverable": False, "type": "ValueError", "message": "bad value 3"},
    }
    assert failure_message(_taskrun(status)) == (
        "taskrun 'echo-1' failed (UserError): USER error ValueError: bad value 3"
    )


def test_failure_message_does_not_repeat_the_error_type() -> None:
    status = {
        "phase": "Failed",
        "error": {"kind": "USER", "type": "kubetask.InputError", "message": "kubetask.InputError: input 'x'"},
    }
    assert (
        failure_message(_taskrun(status))
        == "taskrun 'echo-1' failed: USER error kubetask.InputError: input 'x'"
    )


def test_progress_does_not_repeat_the_attempt_the_message_names() -> None:
    status = {
        "phase": "Running",
        "attemptCount": 2,
        "conditions": [{"type": "Succeeded", "message": "attempt 2 started"}],
    }
    assert progress_line(_taskrun(status)) == "Running: attempt 2 started"


def test_progress_does_not_repeat_a_reason_that_is_the_phase() -> None:
    status = {
        "phase": "Running",
        "attemptCount": 1,
        "conditions": [{"type": "Succeeded", "reason": "Running"}],
    }
    assert progress_line(_taskrun(status)) == "Running, attempt 1"


def test_pod_for_attempt_finds_the_current_or_the_numbered_attempt() -> None:
    status = {
        "podName": "echo-1-2",
        "attempts": [{"number": 1, "podName": "echo-1-1"}, {"number": 2, "podName": "echo-1-2"}],
    }
    assert pod_for_attempt(_taskrun(status), None) == "echo-1-2"
    assert pod_for_attempt(_taskrun(status), 1) == "echo-1-1"
    with pytest.raises(ClientUsageError, match=r"has no attempt 3; its attempts: \[1, 2\]"):
        pod_for_attempt(_taskrun(status), 3)
    with pytest.raises(ClientUsageError, match="has no pod yet"):
        pod_for_attempt(_taskrun(), None)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0s"), (59, "59s"), (60, "1m"), (192, "3m12s"), (7500, "2h5m"), (3600 * 27, "1d3h"), (-4, "0s")],
)
def test_durations_read_like_kubectl_ages(seconds: float, expected: str) -> None:
    assert format_seconds(seconds) == expected


def test_duration_runs_until_now_while_running() -> None:
    now = datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC)
    running = _taskrun({"startTime": "2026-01-01T00:00:00Z"})
    done = _taskrun({"startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:05Z"})
    assert duration_of(running, now=now) == "1m"
    assert duration_of(done, now=now) == "5s"
    assert duration_of(_taskrun(), now=now) == ""
