"""The value codec through the task's public Interface: compiled once per hint, limits that are the user's
mistake (nesting depth, integers beyond 64 bits), and inputs prepared for submission (files, uploads)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
from pathlib import Path
from typing import Any

import pytest

import kubetask
from kubetask._codec import codec_for

from .conftest import Executor

CODEC_TASKS = "codec_tasks"


class Size(enum.Enum):
    S = "s"
    L = "l"


@dataclasses.dataclass
class Node:
    name: str
    children: list[Node] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Item:
    sku: str
    quantity: int


@dataclasses.dataclass
class Order:
    items: list[Item]
    size: Size = Size.S
    placed: datetime.datetime | None = None
    attachment: kubetask.File | None = None


def interface_of(function: Any) -> kubetask.Interface:
    return kubetask.task(function).interface


def order_task(order: Order, count: int = 1) -> int:
    return count


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def node_chain(depth: int) -> dict[str, Any]:
    document: dict[str, Any] = {"name": "leaf"}
    for level in range(depth):
        document = {"name": f"n{level}", "children": [document]}
    return document


# ---------------------------------------------------------------- compiled once


def test_a_hint_compiles_once_and_a_recursive_record_compiles_at_all() -> None:
    assert codec_for(list[Item], where="x") is codec_for(list[Item], where="y")
    node = codec_for(Node, where="x")
    assert node.description == "Node"
    assert interface_of(lambda_node).decode_inputs({"n": node_chain(3)})["n"].children[0].name == "n1"


def lambda_node(n: Node) -> None:
    return None


def test_unions_in_another_order_keep_their_own_order() -> None:
    # int | str == str | int for Python, but the order is the description and the order members are tried
    assert codec_for(int | str, where="x").description == "int | str"
    assert codec_for(str | int, where="x").description == "str | int"
    assert codec_for(list[str | int], where="x").description == "list[str | int]"


@pytest.mark.parametrize(
    ("hint", "message"),
    [
        pytest.param(set[int], "input 'x': unsupported type set[int]; supported:", id="set"),
        pytest.param(dict[int, str], "input 'x': dict keys must be str", id="int-keys"),
        pytest.param(list[complex], "input 'x': unsupported type complex", id="inside-a-list"),
    ],
)
def test_a_hint_is_supported_exactly_when_it_compiles(hint: object, message: str) -> None:
    def function(x):  # type: ignore[no-untyped-def]
        return x

    function.__annotations__ = {"x": hint}
    with pytest.raises(kubetask.TaskDefinitionError) as caught:
        kubetask.task(function).interface  # noqa: B018 - the interface is computed on first use
    assert message in str(caught.value)


# ---------------------------------------------------------------- limits that are the user's mistake


@pytest.mark.parametrize(
    ("hint", "document"),
    [
        pytest.param(Any, nested(kubetask.MAX_VALUE_DEPTH + 5), id="any"),
        pytest.param(Node, node_chain(kubetask.MAX_VALUE_DEPTH + 5), id="recursive-record"),
    ],
)
def test_inputs_nested_past_the_limit_are_refused_naming_the_input_and_the_limit(
    hint: object, document: object
) -> None:
    def function(x):  # type: ignore[no-untyped-def]
        return x

    function.__annotations__ = {"x": hint}
    with pytest.raises(kubetask.InputError) as caught:
        kubetask.task(function).interface.decode_inputs({"x": document})
    message = str(caught.value)
    assert message.startswith("input 'x")
    assert f"nested deeper than {kubetask.MAX_VALUE_DEPTH} levels" in message


def test_a_value_at_the_limit_passes() -> None:
    interface = interface_of(lambda_node)
    assert interface.decode_inputs({"n": node_chain(kubetask.MAX_VALUE_DEPTH // 2 - 1)})["n"].name


def test_outputs_nested_past_the_limit_are_refused_naming_the_output() -> None:
    def function() -> Any:
        return None

    with pytest.raises(kubetask.OutputError, match=r"output 'o0\[0\]\[0\].*nested deeper than 100 levels"):
        kubetask.task(function).interface.encode_outputs(nested(kubetask.MAX_VALUE_DEPTH + 5))


@pytest.mark.parametrize(
    ("name", "inputs", "message"),
    [
        pytest.param("echo_any", {"x": nested(150)}, "nested deeper than 100 levels", id="any-input"),
        pytest.param("tree_size", {"tree": node_chain(150)}, "nested deeper than 100 levels", id="record"),
        pytest.param("echo_any", '{"x": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper", id="decoder"),
    ],
)
def test_deep_inputs_in_the_pod_are_a_user_error_not_a_retried_recursion_error(
    executor: Executor, name: str, inputs: object, message: str
) -> None:
    result = executor.run(CODEC_TASKS, name, inputs if isinstance(inputs, str) else json.dumps(inputs))
    assert result.returncode == 1, result.stderr
    assert result.error is not None
    assert (result.error["kind"], result.error["recoverable"]) == ("USER", False)
    assert result.error["type"] == "kubetask.InputError"
    assert message in result.error["message"]


def test_deep_outputs_in_the_pod_are_a_user_error(executor: Executor) -> None:
    result = executor.run(CODEC_TASKS, "nested_list", json.dumps({"depth": 500}))
    assert result.returncode == 1, result.stderr
    assert result.error is not None
    assert (result.error["kind"], result.error["recoverable"], result.error["type"]) == (
        "USER",
        False,
        "kubetask.OutputError",
    )
    assert "nested deeper than 100 levels" in result.error["message"]


def test_a_huge_int_that_arrived_as_a_float_says_why() -> None:
    def function(n: int) -> int:
        return n

    interface = kubetask.task(function).interface
    as_kubernetes_sends_it = json.loads(json.dumps(float(2**70)))
    with pytest.raises(kubetask.InputError) as caught:
        interface.decode_inputs({"n": as_kubernetes_sends_it})
    message = str(caught.value)
    assert message.startswith("input 'n': expected int")
    assert "1.1805916207174113e+21 (float)" in message
    assert "beyond 64 bits" in message
    assert "Kubernetes API" in message
    assert "as a str" in message
    assert interface.decode_inputs({"n": 2**70}) == {"n": 2**70}  # an inputs document may carry it


def test_a_huge_int_is_refused_before_submitting() -> None:
    def function(n: int) -> int:
        return n

    with pytest.raises(kubetask.InputError, match=r"input 'n': expected int within 64 bits .* as a str"):
        kubetask.task(function).interface.encode_inputs({"n": 2**70})
    assert kubetask.task(function).interface.encode_inputs({"n": 2**63 - 1}) == {"n": 2**63 - 1}


# ---------------------------------------------------------------- inputs for submission


def file_task(
    document: kubetask.File, folder: kubetask.Directory | None = None, path: Path | None = None
) -> None:
    return None


class Uploads:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, str]] = []

    def __call__(self, path: str, *, directory: bool, key: str) -> str:
        self.calls.append((path, directory, key))
        return f"s3://bucket/inputs/{key}"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("s3://bucket/data.csv", id="uri"),
        pytest.param(kubetask.File("/nowhere/data.csv", uri="s3://bucket/data.csv"), id="file-with-uri"),
    ],
)
def test_remote_files_pass_as_their_uri(value: object) -> None:
    uploads = Uploads()
    encoded = interface_of(file_task).encode_inputs({"document": value}, upload=uploads)
    assert encoded == {"document": "s3://bucket/data.csv"}
    assert uploads.calls == []


def test_local_files_are_uploaded_with_the_path_of_the_value(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "folder").mkdir()
    uploads = Uploads()
    encoded = interface_of(file_task).encode_inputs(
        {
            "document": kubetask.File(tmp_path / "a.txt"),
            "folder": str(tmp_path / "folder"),
            "path": tmp_path / "a.txt",
        },
        upload=uploads,
    )
    assert encoded == {
        "document": "s3://bucket/inputs/document",
        "folder": "s3://bucket/inputs/folder",
        "path": "s3://bucket/inputs/path",
    }
    assert uploads.calls == [
        (str(tmp_path / "a.txt"), False, "document"),
        (str(tmp_path / "folder"), True, "folder"),
        (str(tmp_path / "a.txt"), False, "path"),
    ]


def test_local_files_without_an_upload_are_refused_naming_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    with pytest.raises(kubetask.InputError) as caught:
        interface_of(file_task).encode_inputs({"document": str(tmp_path / "a.txt")})
    message = str(caught.value)
    assert message.startswith("input 'document': ")
    assert "a pod cannot read" in message
    assert "s3://" in message
    assert "output_prefix" in message


def test_a_file_inside_a_record_is_uploaded_under_its_path(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    uploads = Uploads()
    order = Order([Item("x", 1)], attachment=kubetask.File(tmp_path / "a.txt"))
    encoded = interface_of(order_task).encode_inputs({"order": order}, upload=uploads)
    assert encoded["order"]["attachment"] == "s3://bucket/inputs/order.attachment"
    assert uploads.calls == [(str(tmp_path / "a.txt"), False, "order.attachment")]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            {"items": [{"sku": "a", "quantity": 1}, {"sku": "b", "quantity": "3"}]},
            "input 'order.items[1].quantity': expected int, got '3' (str)",
            id="nested-field",
        ),
        pytest.param(
            {"items": [{"sku": "a"}]},
            "input 'order.items[0]': missing required field 'quantity'",
            id="missing",
        ),
        pytest.param(
            {"items": [], "colour": "red"}, "input 'order': unknown field(s) 'colour' for Order", id="unknown"
        ),
        pytest.param(
            {"items": [], "placed": "yesterday"},
            "input 'order.placed': expected datetime | None, got 'yesterday' (str)",
            id="bad-optional-datetime",
        ),
        pytest.param(
            {"items": [], "size": "xl"}, "input 'order.size': expected Size (one of 's', 'l')", id="enum"
        ),
        pytest.param(
            {"items": [], "attachment": "/no/such/file"},
            "input 'order.attachment': '/no/such/file' is neither an existing local path nor a URI",
            id="missing-file",
        ),
    ],
)
def test_checking_json_inputs_names_the_path_the_type_and_the_value(document: object, message: str) -> None:
    with pytest.raises(kubetask.InputError) as caught:
        interface_of(order_task).check_inputs({"order": document})
    assert message in str(caught.value)


def test_assignments_are_checked_inside_the_value() -> None:
    interface = interface_of(order_task)
    with pytest.raises(kubetask.UsageError) as caught:
        interface.parse_assignments(['order={"items": [{"sku": "a", "quantity": "3"}]}'])
    assert "input 'order.items[0].quantity': expected int, got '3' (str)" in str(caught.value)
    values = interface.parse_assignments(['order={"items": [{"sku": "a", "quantity": 3}]}', "count=2"])
    assert values == {"order": Order([Item("a", 3)]), "count": 2}
