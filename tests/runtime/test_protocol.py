"""The fixed contract with the operator: the pod command, data: URIs and exit codes."""

from __future__ import annotations

import base64
import json

import pytest

import kubetask
from kubetask._protocol import decode_data_uri


def test_default_resolver_is_the_module_level_instance_path() -> None:
    assert kubetask.DEFAULT_RESOLVER == "kubetask.default_task_resolver"


def test_minimal_command_has_the_default_resolver_and_loader_args_after_the_separator() -> None:
    command = kubetask.build_execute_command(
        inputs="s3://b/in.json",
        output_prefix="s3://b/out",
        loader_args=["task-module", "m", "task-name", "t"],
    )
    assert command == [
        "kubetask-execute",
        "--inputs",
        "s3://b/in.json",
        "--output-prefix",
        "s3://b/out",
        "--resolver",
        "kubetask.default_task_resolver",
        "--",
        "task-module",
        "m",
        "task-name",
        "t",
    ]


def test_full_command_orders_every_optional_flag_as_the_contract_says() -> None:
    command = kubetask.build_execute_command(
        inputs="I",
        output_prefix="O",
        loader_args=("key", "k"),
        raw_output_data_prefix="R",
        resolver="pkg.mod.resolver",
        checkpoint_path="C",
        prev_checkpoint="P",
    )
    assert command == [
        "kubetask-execute",
        "--inputs",
        "I",
        "--output-prefix",
        "O",
        "--raw-output-data-prefix",
        "R",
        "--resolver",
        "pkg.mod.resolver",
        "--checkpoint-path",
        "C",
        "--prev-checkpoint",
        "P",
        "--",
        "key",
        "k",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"inputs": ""}, "inputs: expected a non-empty str, got ''", id="empty-inputs"),
        pytest.param(
            {"output_prefix": None}, "output_prefix: expected a non-empty str, got None", id="no-prefix"
        ),
        pytest.param({"loader_args": []}, "loader_args: expected a non-empty sequence", id="no-loader-args"),
        pytest.param(
            {"loader_args": "task-module"}, "loader_args: expected a non-empty sequence", id="str-args"
        ),
        pytest.param({"loader_args": ["a", 1]}, "loader_args[1]: expected str, got 1 (int)", id="int-arg"),
        pytest.param({"resolver": ""}, "resolver: expected a non-empty str, got ''", id="empty-resolver"),
    ],
)
def test_bad_command_arguments_are_named(arguments: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"inputs": "I", "output_prefix": "O", "loader_args": ["a"]} | arguments
    with pytest.raises((ValueError, TypeError)) as caught:
        kubetask.build_execute_command(**values)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_data_uri_is_rfc2397_base64_and_round_trips() -> None:
    payload = json.dumps({"name": "wörld", "n": 1}).encode()
    uri = kubetask.data_uri(payload)
    assert uri == "data:application/json;base64," + base64.b64encode(payload).decode()
    assert decode_data_uri(uri) == payload


def test_data_uri_takes_a_media_type() -> None:
    assert kubetask.data_uri(b"hi", media_type="text/plain") == "data:text/plain;base64,aGk="


def test_percent_encoded_data_uri_decodes() -> None:
    assert decode_data_uri("data:,%7B%22a%22%3A1%7D") == b'{"a":1}'


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        pytest.param("data:;base64,@@@", "invalid base64", id="bad-base64"),
        pytest.param("file:///x", "not a data: URI", id="not-data"),
        pytest.param("data:no-comma", "not a data: URI", id="no-comma"),
    ],
)
def test_bad_data_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_data_uri(uri)


def test_data_uri_refuses_text() -> None:
    with pytest.raises(TypeError, match=r"payload: expected bytes, got '\{\}' \(str\)"):
        kubetask.data_uri("{}")  # type: ignore[arg-type]


def test_exit_codes_are_distinct_and_fixed() -> None:
    assert {code.name: int(code) for code in kubetask.ExitCode} == {
        "SUCCESS": 0,
        "USER_ERROR": 1,
        "USAGE_ERROR": 2,
        "SYSTEM_ERROR": 3,
        "TERMINATED": 143,
    }
