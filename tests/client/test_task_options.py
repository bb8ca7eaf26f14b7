"""Task options reach the TaskRun the client builds: every @kubetask.task option, overrides from submit()
and from the command line winning, and bad values refused naming the option. No cluster."""

from __future__ import annotations

import argparse
from typing import Any

import jsonschema
import pytest

import kubetask
import kubetask_api
import kubetask_operator
from kubetask import _options as runtime_options
from kubetask_client import ClientUsageError, map_task
from kubetask_client import _map as map_module
from kubetask_client._commands import build_parser
from kubetask_client._option_flags import add_task_option_flags, task_options_from
from kubetask_client._submit import submit_options, task_reference
from kubetask_client._taskrun import SubmitOptions, taskrun_manifest


@kubetask.task(
    retries=3,
    timeout=600,
    image="registry.example/train:1",
    resources=kubetask.Resources(cpu=2, memory="4Gi", gpu=1, extended={"example.com/fpga": 1}),
    env={"MODE": "fast"},
    secrets=[
        kubetask.Secret("db", "password"),
        kubetask.Secret("tls", "tls.crt", mount_path="/etc/tls/tls.crt"),
        kubetask.Secret("tls", "tls.key", mount_path="/etc/tls/private/tls.key"),
    ],
    node_selector={"pool": "gpu"},
    tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
    pod_template="gpu-defaults",
    service_account="trainer",
)
def train(steps: int) -> float:
    return float(steps)


@kubetask.task
def plain(x: int) -> int:
    return x


def spec_of(task: kubetask.Task[..., Any], **overrides: Any) -> dict[str, Any]:
    options = submit_options(task, **overrides)
    manifest = taskrun_manifest(
        name="run",
        namespace="default",
        reference=task_reference(task, image=options.image, namespace="default"),
        inputs={},
        options=options,
    )
    spec: dict[str, Any] = manifest["spec"]
    return spec


def _crd_spec_schema() -> dict[str, Any]:
    (version,) = kubetask_operator.load_crd()["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def test_a_queue_given_at_submission_is_the_taskruns_and_valid_against_the_crd() -> None:
    spec = spec_of(plain, image="i", queue="gpu")
    assert spec["queue"] == "gpu"
    jsonschema.validate(spec, _crd_spec_schema())
    assert "queue" not in spec_of(plain, image="i")
    submitted = build_parser(only="submit").parse_args(["submit", "m.py:t", "--queue", "gpu", "--image", "i"])
    assert task_options_from(submitted)["queue"] == "gpu"


def test_kubetask_map_takes_the_queue_flag_as_submit_does() -> None:
    mapped = build_parser(only="map").parse_args(["map", "m.py:t", "--inputs-file", "-", "--queue", "gpu"])
    assert task_options_from(mapped)["queue"] == "gpu"


@kubetask.task(queue="gpu", image="i")
def on_gpus(x: int) -> int:
    return x


def test_the_decorators_queue_reaches_the_taskrun_and_a_submitted_one_wins() -> None:
    assert on_gpus.options.queue == "gpu"
    assert spec_of(on_gpus)["queue"] == "gpu"
    assert spec_of(on_gpus, queue="cpu.batch")["queue"] == "cpu.batch"
    assert "queue" not in spec_of(plain, image="i")
    jsonschema.validate(spec_of(on_gpus), _crd_spec_schema())


@pytest.mark.parametrize(
    ("given", "expected"),
    [pytest.param({}, "gpu", id="decorator"), pytest.param({"queue": "cpu"}, "cpu", id="given-wins")],
)
def test_a_maps_items_wait_in_the_decorators_queue_or_the_one_given(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, Any], expected: str
) -> None:
    created: list[dict[str, Any]] = []  # what the cluster behind kubetask.map was asked to create

    def api(connection: Any) -> Any:
        return argparse.Namespace(
            connection=connection, create=lambda manifest: created.append(manifest) or manifest
        )

    monkeypatch.setattr(map_module, "connect", lambda **_: argparse.Namespace(namespace="default"))
    monkeypatch.setattr(map_module, "TaskMapApi", api)
    map_task(on_gpus, [{"x": 1}, {"x": 2}], name="m", **given)
    (manifest,) = created
    assert manifest["spec"]["queue"] == expected
    assert manifest["spec"]["items"] == [{"x": 1}, {"x": 2}]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("GPU", id="upper-case"),
        pytest.param("gpu queue", id="space"),
        pytest.param("-gpu", id="leading-dash"),
        pytest.param("gpu.", id="trailing-dot"),
        pytest.param("a..b", id="empty-label"),
        pytest.param("", id="empty"),
        pytest.param("q" * 254, id="too-long"),
        pytest.param(7, id="not-a-str"),
    ],
)
def test_a_bad_queue_name_fails_when_the_task_is_defined(value: object) -> None:
    with pytest.raises(kubetask.TaskDefinitionError) as caught:
        kubetask.task(queue=value)(lambda: None)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("@kubetask.task: queue: expected the name of a TaskQueue (lowercase letters")
    assert message.endswith(f"got {value!r}")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("gpu", id="label"),
        pytest.param("team-a.gpu-1", id="subdomain"),
        pytest.param("q" * 253, id="longest"),
    ],
)
def test_a_queue_named_as_kubernetes_names_objects_is_accepted(value: str) -> None:
    assert kubetask.task(queue=value)(lambda: None).options.queue == value


@pytest.mark.parametrize(
    "value",
    ["gpu", "team-a.gpu-1", "q" * 253, "GPU", "gpu queue", "-gpu", "gpu.", "a..b", "", "q" * 254, "a_b"],
)
def test_the_runtime_checks_a_queue_name_as_the_taskrun_contract_does(value: str) -> None:
    # The runtime writes the DNS-1123 subdomain check out by hand (task pods do not import re); it must
    # agree with kubetask_api's, which the client and the operator use.
    assert runtime_options.is_dns_subdomain(value) == kubetask_api.is_dns_subdomain(value)


def test_every_decorator_option_reaches_the_taskrun() -> None:
    spec = spec_of(train)
    assert spec["image"] == "registry.example/train:1"
    assert spec["retries"] == 3
    assert spec["timeout"] == "600s"
    assert spec["resources"] == {
        "requests": {"cpu": 2, "memory": "4Gi", "nvidia.com/gpu": 1, "example.com/fpga": 1},
        "limits": {"memory": "4Gi", "nvidia.com/gpu": 1, "example.com/fpga": 1},
    }
    assert spec["env"] == [
        {"name": "MODE", "value": "fast"},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
    ]
    assert spec["serviceAccountName"] == "trainer"
    assert spec["podTemplateName"] == "gpu-defaults"
    template = spec["podTemplate"]
    assert template["nodeSelector"] == {"pool": "gpu"}
    assert template["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    (volume,) = template["volumes"]
    assert volume["secret"] == {
        "secretName": "tls",
        "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}],
    }
    assert template["volumeMounts"] == [
        {"name": volume["name"], "mountPath": "/etc/tls/tls.crt", "subPath": "tls.crt", "readOnly": True},
        {
            "name": volume["name"],
            "mountPath": "/etc/tls/private/tls.key",
            "subPath": "tls.key",
            "readOnly": True,
        },
    ]
    schema = _crd_spec_schema()
    if "podTemplateName" not in schema["properties"]:  # the CRD field lands with the operator's side of it
        spec = {key: value for key, value in spec.items() if key != "podTemplateName"}
    jsonschema.validate(spec, schema)


@kubetask.task(retries=2, timeout=1.5)
def flaky() -> None:
    return None


def test_retries_and_timeout_of_the_decorator_are_not_dropped() -> None:
    spec = spec_of(flaky, image="i")
    assert (spec["retries"], spec["timeout"]) == (2, "1500ms")


def test_a_value_given_at_submission_wins_over_the_decorator() -> None:
    spec = spec_of(
        train,
        image="registry.example/train:2",
        retries=0,
        timeout="5m",
        resources=kubetask.Resources(cpu="500m", gpu=2),
        env={"MODE": "slow", "EXTRA": "1"},
        secrets=[kubetask.Secret("db2", "password", env="PASSWORD")],
        node_selector={"zone": "a"},
        tolerations=[{"key": "spot", "operator": "Exists"}],
        pod_template="other",
        service_account="someone",
    )
    assert (spec["image"], spec["retries"], spec["timeout"]) == ("registry.example/train:2", 0, "300s")
    assert spec["resources"]["requests"] == {
        "cpu": "500m",
        "memory": "4Gi",
        "nvidia.com/gpu": 2,
        "example.com/fpga": 1,
    }
    assert spec["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert {"name": "MODE", "value": "slow"} in spec["env"]
    assert {"name": "EXTRA", "value": "1"} in spec["env"]
    assert {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db2", "key": "password"}}} in spec[
        "env"
    ]
    assert spec["podTemplate"]["nodeSelector"] == {"pool": "gpu", "zone": "a"}
    assert len(spec["podTemplate"]["tolerations"]) == 2
    assert (spec["podTemplateName"], spec["serviceAccountName"]) == ("other", "someone")


def test_a_task_without_options_leaves_the_operator_its_defaults() -> None:
    spec = spec_of(plain, image="i")
    assert spec == {
        "image": "i",
        "task": {"module": plain.function.__module__, "name": "plain"},
        "retries": 0,
    }


def test_no_image_anywhere_is_refused_naming_both_places() -> None:
    with pytest.raises(ClientUsageError, match=r"image: task .* names no image: pass image=.*@kubetask.task"):
        submit_options(plain)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"resources": {"requests": {"cpu": "two"}}},
            "resources: requests: cpu: expected a quantity",
            id="qty",
        ),
        pytest.param(
            {"resources": {"request": {"cpu": 1}}}, "submit: resources: unknown key(s) ['request']", id="part"
        ),
        pytest.param({"resources": {"limits": {"GPU!": 1}}}, "'GPU!' is not a resource name", id="name"),
        pytest.param(
            {"secrets": [kubetask.Secret("Bad_Name", "k")]},
            "secrets: 'Bad_Name' is not a Secret name",
            id="secret",
        ),
        pytest.param({"secrets": ["db/key"]}, "submit: secrets: expected kubetask.Secret", id="secret-type"),
        pytest.param(
            {"env": {"PASSWORD": "x"}, "secrets": [kubetask.Secret("db", "password")]},
            "env both set the variable 'PASSWORD'",
            id="env-clash",
        ),
        pytest.param(
            {"node_selector": {"pool": 1}}, "submit: node_selector: pool: expected str", id="selector"
        ),
        pytest.param(
            {"tolerations": [{"key": "g", "effect": "Never"}]}, "effect: expected one of", id="effect"
        ),
        pytest.param({"tolerations": [{"keys": "g"}]}, "unknown field(s) ['keys']", id="toleration-field"),
        pytest.param(
            {"pod_template": "Not A Name"}, "pod_template: expected the name of a PodTemplate", id="tpl"
        ),
        pytest.param({"queue": "GPU queue"}, "queue: expected the name of a TaskQueue", id="queue"),
        pytest.param({"timeout": "soon"}, "timeout: expected a duration", id="timeout"),
        pytest.param({"retries": -1}, "submit: retries: expected an int >= 0", id="retries"),
    ],
)
def test_bad_options_are_refused_naming_the_option(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientUsageError) as caught:
        submit_options(plain, image="i", **overrides)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"retries": True}, "@kubetask.task: retries: expected an int >= 0", id="retries"),
        pytest.param({"timeout": 0}, "@kubetask.task: timeout: expected a positive number", id="timeout"),
        pytest.param(
            {"resources": {"cpu": 1}}, "@kubetask.task: resources: unknown key(s) ['cpu']", id="resources"
        ),
        pytest.param({"env": {"A": 1}}, "@kubetask.task: env: A: expected str, got 1 (int)", id="env"),
        pytest.param(
            {"secrets": [("db", "k")]}, "@kubetask.task: secrets: expected kubetask.Secret", id="secrets"
        ),
        pytest.param({"image": ""}, "@kubetask.task: image: expected a non-empty str", id="image"),
    ],
)
def test_bad_decorator_options_fail_when_the_task_is_defined(options: dict[str, Any], message: str) -> None:
    with pytest.raises(kubetask.TaskDefinitionError) as caught:
        kubetask.task(**options)(lambda: None)
    assert message in str(caught.value)


def test_a_secret_goes_to_a_variable_or_a_file_not_both() -> None:
    assert kubetask.Secret("db", "api-key").env == "API_KEY"
    with pytest.raises(kubetask.TaskDefinitionError, match="give env or mount_path, not both"):
        kubetask.Secret("db", "k", env="K", mount_path="/k")
    with pytest.raises(kubetask.TaskDefinitionError, match="mount_path: expected an absolute path"):
        kubetask.Secret("db", "k", mount_path="k")


# ---------------------------------------------------------------- the command-line flags


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kubetask submit", exit_on_error=False)
    add_task_option_flags(parser)
    return parser.parse_args(list(argv))


def test_flags_become_submit_keyword_arguments() -> None:
    options = task_options_from(
        parse(
            "--image", "img:2", "--retries", "4", "--timeout", "90s",
            "--cpu", "2", "--memory", "4Gi", "--gpu", "1", "--resource", "example.com/fpga=2",
            "--env", "A=1", "--env", "B=x=y",
            "--secret", "db/password", "--secret", "db/user:DB_USER",
            "--secret", "tls/tls.crt:/etc/tls/tls.crt",
            "--node-selector", "pool=gpu", "--toleration", "gpu:NoSchedule", "--toleration", "spot=yes",
            "--pod-template", "gpu-defaults", "--service-account", "trainer",
        )
    )  # fmt: skip
    assert options == {
        "image": "img:2",
        "retries": 4,
        "timeout": "90s",
        "pod_template": "gpu-defaults",
        "service_account": "trainer",
        "resources": kubetask.Resources("2", "4Gi", 1, extended={"example.com/fpga": "2"}),
        "env": {"A": "1", "B": "x=y"},
        "node_selector": {"pool": "gpu"},
        "secrets": [
            kubetask.Secret("db", "password"),
            kubetask.Secret("db", "user", env="DB_USER"),
            kubetask.Secret("tls", "tls.crt", mount_path="/etc/tls/tls.crt"),
        ],
        "tolerations": [
            {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "spot", "operator": "Equal", "value": "yes"},
        ],
    }
    spec = spec_of(plain, **options)
    assert spec["resources"]["requests"] == {
        "cpu": "2",
        "memory": "4Gi",
        "nvidia.com/gpu": 1,
        "example.com/fpga": "2",
    }


def test_no_flags_leave_every_option_to_the_task() -> None:
    assert task_options_from(parse()) == {}
    assert spec_of(train, **task_options_from(parse())) == spec_of(train)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--cpu", "lots"], "expected a Kubernetes quantity", id="cpu"),
        pytest.param(["--gpu", "-1"], "expected a whole number >= 0", id="gpu"),
        pytest.param(["--secret", "db"], "expected NAME/KEY[:ENV|:/PATH]", id="secret"),
        pytest.param(
            ["--toleration", "gpu:Sometimes"], "effect: expected one of NoSchedule", id="toleration"
        ),
        pytest.param(["--resource", "fpga=1"], "extended resource name", id="resource"),
        pytest.param(["--node-selector", "pool"], "expected KEY=VALUE", id="selector"),
        pytest.param(["--timeout", "10"], "expected a duration", id="timeout"),
    ],
)
def test_bad_flags_are_refused_by_the_parser_naming_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(argparse.ArgumentError) as caught:
        parse(*argv)
    assert argv[0] in str(caught.value)
    assert message in str(caught.value)


def test_submit_options_are_still_checked_when_built_directly() -> None:
    with pytest.raises(ClientUsageError, match="node_selector: pool=' x' is not a node label"):
        SubmitOptions("i", node_selector={"pool": " x"})
