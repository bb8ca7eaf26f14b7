"""TARGET loading and inputs, through the runtime's own functions: what `kubetask submit` sends for the
examples, and the errors it gives before creating anything. No cluster."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import kubetask
import kubetask_operator
from kubetask_client import ClientUsageError
from kubetask_client._inputs import PrefixUpload, inputs_from_assignments, inputs_from_values
from kubetask_client._submit import task_reference
from kubetask_client._target import load_target
from kubetask_client._taskrun import SubmitOptions, taskrun_manifest

EXAMPLES = Path(__file__).parents[2] / "examples"


def _spec_schema() -> dict[str, Any]:
    (version,) = kubetask_operator.load_crd()["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(
            "hello/hello.py:hello", {"task": {"module": "hello", "name": "hello"}}, id="default-resolver"
        ),
        pytest.param(
            "custom_resolver/registry.py:greet_v1",
            {"resolver": "registry.resolver", "loaderArgs": ["key", "greet/v1"]},
            id="custom-resolver",
        ),
    ],
)
def test_a_file_target_names_the_task_as_the_pod_will_find_it(target: str, expected: dict[str, Any]) -> None:
    task = load_target(str(EXAMPLES / target))
    spec = task_reference(task, image="registry.example/t:1", namespace="default").spec()
    assert spec == expected
    manifest = taskrun_manifest(
        name="t",
        namespace="default",
        reference=task_reference(task, image="i", namespace="d"),
        inputs={},
        options=SubmitOptions("registry.example/t:1"),
    )
    jsonschema.validate(manifest["spec"], _spec_schema())


def test_a_module_target_works_too() -> None:
    task = load_target("kubetask_client._selftest:echo")
    assert task.name == "kubetask_client._selftest.echo"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(
            "hello",
            "TARGET: expected 'path/to/file.py:task' or 'package.module:task', got 'hello'",
            id="no-colon",
        ),
        pytest.param("missing/file.py:x", "TARGET: no such file 'missing/file.py'", id="missing-file"),
        pytest.param(
            "hello/hello.py:nope", "module 'hello' has no attribute 'nope'; its tasks: hello", id="no-task"
        ),
        pytest.param(
            "no_such_module_xyz:t", "cannot import task module 'no_such_module_xyz'", id="no-module"
        ),
    ],
)
def test_bad_targets_say_what_is_wrong(target: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    with pytest.raises(ClientUsageError) as caught:
        load_target(target)
    assert expected in str(caught.value)


def test_cli_inputs_are_parsed_by_type() -> None:
    add = load_target(str(EXAMPLES / "arithmetic/arithmetic.py:add"))
    assert inputs_from_assignments(add, ["a=2", "b=40"]) == {"a": 2, "b": 40}
    summarize = load_target(str(EXAMPLES / "arithmetic/arithmetic.py:summarize"))
    assert inputs_from_assignments(summarize, ["values=[1, 2.5]"]) == {"values": [1, 2.5]}


@pytest.mark.parametrize(
    ("assignments", "expected"),
    [
        pytest.param(["a=two", "b=1"], "-i a=two: expected int, got 'two'", id="mistyped"),
        pytest.param(["a=1", "c=1"], "the task has no input 'c'; it takes a, b", id="unknown"),
        pytest.param(["a=1"], "input 'b' is required by task", id="missing"),
        pytest.param(["a"], "-i: expected NAME=VALUE, got 'a'", id="no-equals"),
    ],
)
def test_bad_cli_inputs_name_the_input_and_value(assignments: list[str], expected: str) -> None:
    add = load_target(str(EXAMPLES / "arithmetic/arithmetic.py:add"))
    with pytest.raises(ClientUsageError) as caught:
        inputs_from_assignments(add, assignments)
    assert expected in str(caught.value)


def test_python_inputs_are_converted_by_the_runtime() -> None:
    price_order = load_target(str(EXAMPLES / "dataclasses/orders.py:price_order"))
    module = sys.modules[price_order.function.__module__]
    order = module.Order(
        customer="ada",
        lines=[module.Line("sku-1", 2, 1.5)],
        shipping=module.Shipping.EXPRESS,
        placed=datetime.date(2026, 1, 2),
    )
    converted = inputs_from_values(price_order, {"order": order})
    assert converted["order"]["customer"] == "ada"
    assert converted["order"]["lines"] == [{"sku": "sku-1", "quantity": 2, "unit_price": 1.5}]
    assert converted["order"]["shipping"] == "express"
    assert converted["order"]["placed"] == "2026-01-02"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({"a": "two", "b": 1}, "input 'a'", id="mistyped"),
        pytest.param(
            {"a": 1, "b": 2, "c": 3}, "input 'c': task 'arithmetic.add' has no such input", id="unknown"
        ),
        pytest.param({"a": 1}, "input 'b' is required", id="missing"),
    ],
)
def test_bad_python_inputs_are_refused_before_submitting(values: dict[str, Any], expected: str) -> None:
    add = load_target(str(EXAMPLES / "arithmetic/arithmetic.py:add"))
    with pytest.raises(ClientUsageError) as caught:
        inputs_from_values(add, values)
    assert expected in str(caught.value)


# ---------------------------------------------------------------- refused before anything is created

GOOD_LINE = {"sku": "sku-1", "quantity": 2, "unit_price": 1.5}


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        pytest.param(
            {"customer": "ada", "lines": [GOOD_LINE, {**GOOD_LINE, "quantity": "3"}]},
            "input 'order.lines[1].quantity': expected int, got '3' (str)",
            id="mistyped-nested-field",
        ),
        pytest.param(
            {"customer": "ada", "lines": [{"sku": "sku-1", "quantity": 2}]},
            "input 'order.lines[0]': missing required field 'unit_price' of Line",
            id="missing-field",
        ),
        pytest.param(
            {"customer": "ada", "lines": [], "rush": True},
            "input 'order': unknown field(s) 'rush' for Order",
            id="unknown-field",
        ),
        pytest.param(
            {"customer": "ada", "lines": [], "placed": "2026-13-45"},
            "input 'order.placed': expected date | None, got '2026-13-45' (str)",
            id="bad-optional-date",
        ),
        pytest.param(
            {"customer": "ada", "lines": [], "shipping": "overnight"},
            "input 'order.shipping': expected Shipping (one of 'standard', 'express'), got 'overnight' (str)",
            id="bad-enum",
        ),
        pytest.param(
            {"customer": "ada", "lines": [], "notes": {"gift": 1}},
            "input 'order.notes['gift']': expected str, got 1 (int)",
            id="bad-dict-value",
        ),
    ],
)
def test_cli_inputs_are_checked_inside_records_before_submitting(
    order: dict[str, Any], expected: str
) -> None:
    price_order = load_target(str(EXAMPLES / "dataclasses/orders.py:price_order"))
    with pytest.raises(ClientUsageError) as caught:
        inputs_from_assignments(price_order, [f"order={json.dumps(order)}"])
    assert expected in str(caught.value)


def test_python_inputs_are_checked_inside_records_before_submitting() -> None:
    price_order = load_target(str(EXAMPLES / "dataclasses/orders.py:price_order"))
    module = sys.modules[price_order.function.__module__]
    order = module.Order(customer="ada", lines=[module.Line("sku-1", "2", 1.5)])
    with pytest.raises(ClientUsageError) as caught:
        inputs_from_values(price_order, {"order": order})
    assert "input 'order.lines[0].quantity': expected int, got '2' (str)" in str(caught.value)


def file_input(document: kubetask.File) -> None:
    return None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("s3://bucket/data.csv", id="uri"),
        pytest.param(kubetask.File("data.csv", uri="s3://bucket/data.csv"), id="file-with-uri"),
    ],
)
def test_remote_file_inputs_are_submitted_as_their_uri(value: object) -> None:
    task = kubetask.task(file_input)
    assert inputs_from_values(task, {"document": value}) == {"document": "s3://bucket/data.csv"}
    assert inputs_from_assignments(task, ["document=s3://bucket/data.csv"]) == {
        "document": "s3://bucket/data.csv"
    }


def test_local_file_inputs_are_uploaded_under_the_output_prefix(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    task = kubetask.task(file_input)
    with pytest.raises(ClientUsageError, match=r"input 'document': .* a pod cannot read"):
        inputs_from_values(task, {"document": tmp_path / "data.csv"})
    store = tmp_path / "store"
    sent = inputs_from_values(task, {"document": tmp_path / "data.csv"}, upload=PrefixUpload(str(store)))
    assert sent == {"document": f"{store}/inputs/document/data.csv"}
    assert (store / "inputs" / "document" / "data.csv").read_text() == "a,b\n"
