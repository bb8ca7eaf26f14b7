"""kubetask-execute converts every supported type both ways (real subprocesses, documents on disk)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Executor  # the `executor` fixture of tests/runtime/conftest.py

M = "typed_tasks"

PERSON_IN = {"name": "Ada", "address": {"city": "London", "zip_code": 1815}, "born": "1815-12-10"}
PERSON_OUT = {
    "name": "Ada",
    "address": {"city": "London", "zip_code": 1815},
    "tags": ["seen"],
    "born": "1815-12-10",
    "favourite": "green",
}


@pytest.mark.parametrize(
    ("name", "inputs", "outputs"),
    [
        pytest.param("echo_bool", {"x": True}, {"o0": True}, id="bool"),
        pytest.param("echo_int", {"x": -7}, {"o0": -7}, id="int"),
        pytest.param("echo_int", {"x": 2**70}, {"o0": 2**70}, id="big-int"),
        pytest.param("echo_float", {"x": 1.5}, {"o0": 1.5}, id="float"),
        pytest.param("echo_float", {"x": 2}, {"o0": 2.0}, id="int-as-float"),
        pytest.param("echo_str", {"x": "héllo\n"}, {"o0": "héllo\n"}, id="str"),
        pytest.param("echo_none", {"x": None}, {}, id="none"),
        pytest.param("echo_optional", {"x": 3}, {"o0": 3}, id="optional-set"),
        pytest.param("echo_optional", {}, {"o0": None}, id="optional-default"),
        pytest.param("echo_union", {"x": "3"}, {"o0": "3"}, id="union-str-stays-str"),
        pytest.param("echo_union", {"x": 3}, {"o0": 3}, id="union-int"),
        pytest.param("echo_pipe_union", {"x": 3}, {"o0": 3.0}, id="pipe-union-int-to-float"),
        pytest.param("echo_pipe_union", {"x": None}, {"o0": None}, id="pipe-union-none"),
        pytest.param("echo_list", {"x": [1, 2, 3]}, {"o0": [1, 2, 3]}, id="list"),
        pytest.param("echo_dict", {"x": {"a": 1, "b": 2.5}}, {"o0": {"a": 1.0, "b": 2.5}}, id="dict"),
        pytest.param("echo_tuple", {"x": [1, "a"]}, {"o0": [1, "a"]}, id="tuple"),
        pytest.param("echo_variadic_tuple", {"x": [1, 2, 3]}, {"o0": [1, 2, 3]}, id="variadic-tuple"),
        pytest.param("echo_enum", {"x": "red"}, {"o0": "red"}, id="enum"),
        pytest.param("echo_int_enum", {"x": 2}, {"o0": 2}, id="int-enum"),
        pytest.param(
            "echo_datetime",
            {"x": "2026-11-24T13:00:00+00:00"},
            {"o0": "2026-11-24T14:00:00+00:00"},
            id="datetime",
        ),
        pytest.param(
            "echo_datetime", {"x": "2026-11-24T13:00:00Z"}, {"o0": "2026-11-24T14:00:00+00:00"}, id="utc-z"
        ),
        pytest.param("echo_date", {"x": "2026-02-28"}, {"o0": "2026-03-01"}, id="date"),
        pytest.param("echo_timedelta", {"x": 90}, {"o0": 180.0}, id="timedelta"),
        pytest.param(
            "echo_bytes",
            {"x": base64.b64encode(b"\x00\x01abc").decode()},
            {"o0": base64.b64encode(b"cba\x01\x00").decode()},
            id="bytes",
        ),
        pytest.param("echo_person", {"x": PERSON_IN}, {"o0": PERSON_OUT}, id="nested-dataclass"),
        pytest.param(
            "describe_person",
            {"x": PERSON_IN},
            {"o0": "Ada from London (Address, GREEN)"},
            id="dataclass-typed-inside",
        ),
        pytest.param("divide", {"a": 17, "b": 5}, {"o0": 3, "o1": 2}, id="tuple-outputs"),
        pytest.param("stats", {"xs": [1, 2, 6]}, {"mean": 3.0, "count": 3}, id="named-tuple-outputs"),
        pytest.param("nothing", {}, {}, id="none-outputs"),
        pytest.param("with_defaults", {"a": 1}, {"o0": "1-10-c"}, id="defaults"),
        pytest.param("with_defaults", {"a": 1, "b": 2, "c": "z"}, {"o0": "1-2-z"}, id="keyword-only"),
        pytest.param("positional_only", {"a": 5, "b": 3}, {"o0": 2}, id="positional-only"),
        pytest.param("untyped", {"x": 1}, {"o0": {"sum": 3}}, id="untyped"),
        pytest.param("untyped_pair", {"x": "a"}, {"o0": "a", "o1": ["a"]}, id="untyped-tuple-outputs"),
    ],
)
def test_values_round_trip_through_documents(
    executor: Executor, name: str, inputs: dict[str, object], outputs: dict[str, object]
) -> None:
    result = executor.run(M, name, inputs)
    assert result.returncode == 0, result.stderr
    assert result.outputs == outputs
    assert result.error is None
    assert result.termination is not None
    assert result.termination.outputs == outputs
    assert result.termination.outputs_uri == str(executor.output_prefix / "outputs.json")


def test_file_input_given_as_a_local_path_is_read_in_place(executor: Executor, tmp_path: Path) -> None:
    document = tmp_path / "doc.txt"
    document.write_text("contents")
    result = executor.run(M, "read_file", {"document": str(document)})
    assert result.outputs == {"o0": "contents"}, result.stderr


def test_file_input_given_as_file_uri_and_data_uri(executor: Executor, tmp_path: Path) -> None:
    document = tmp_path / "doc.txt"
    document.write_text("from a file URI")
    assert executor.run(M, "read_file", {"document": document.as_uri()}).outputs == {"o0": "from a file URI"}
    inline = "data:text/plain;base64," + base64.b64encode(b"inline").decode()
    assert executor.run(M, "read_file", {"document": inline}).outputs == {"o0": "inline"}


def test_file_output_is_uploaded_under_the_raw_output_prefix(executor: Executor, tmp_path: Path) -> None:
    document = tmp_path / "doc.txt"
    document.write_text("quiet")
    raw = tmp_path / "raw"
    result = executor.run(M, "shout_file", {"document": str(document)}, raw_output_data_prefix=str(raw))
    assert result.returncode == 0, result.stderr
    assert result.outputs == {"o0": str(raw / "o0" / "shout.txt")}
    assert (raw / "o0" / "shout.txt").read_text() == "QUIET"


def test_file_output_defaults_to_raw_under_the_output_prefix(executor: Executor, tmp_path: Path) -> None:
    document = tmp_path / "doc.txt"
    document.write_text("a")
    result = executor.run(M, "shout_file", {"document": str(document)})
    assert result.outputs == {"o0": str(executor.output_prefix / "raw" / "o0" / "shout.txt")}


def test_file_passed_through_keeps_its_uri_without_copying(executor: Executor, tmp_path: Path) -> None:
    document = tmp_path / "doc.txt"
    document.write_text("a")
    result = executor.run(M, "pass_file", {"document": document.as_uri()})
    assert result.outputs == {"o0": document.as_uri()}
    assert not (executor.output_prefix / "raw").exists()


def test_directory_input_and_output(executor: Executor, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    listed = executor.run(M, "list_directory", {"folder": str(folder)})
    assert listed.outputs == {"o0": ["a.txt", "sub/b.txt"]}, listed.stderr
    made = executor.run(M, "make_directory", {"count": 2})
    assert made.returncode == 0, made.stderr
    uploaded = Path(made.outputs["o0"])  # type: ignore[index]
    assert sorted(p.relative_to(uploaded).as_posix() for p in uploaded.rglob("*.txt")) == [
        "part0/data.txt",
        "part1/data.txt",
    ]


def test_pathlib_path_input_and_output(executor: Executor, tmp_path: Path) -> None:
    source = tmp_path / "s.txt"
    source.write_text("abc")
    result = executor.run(M, "reverse_path", {"source": str(source)})
    assert result.returncode == 0, result.stderr
    assert Path(result.outputs["o0"]).read_text() == "cba"  # type: ignore[index]


def test_inputs_can_travel_inline_as_a_data_uri(executor: Executor) -> None:
    import kubetask

    result = executor.run(M, "echo_int", inputs_uri=kubetask.data_uri(json.dumps({"x": 5}).encode()))
    assert result.outputs == {"o0": 5}, result.stderr


def test_context_carries_the_pod_environment_and_checkpoints(executor: Executor) -> None:
    result = executor.run(
        M,
        "context_report",
        env={"KUBETASK_ATTEMPT": "3", "KUBETASK_RUN_NAME": "run-1", "KUBETASK_NAMESPACE": "ns"},
        checkpoint_path="/ckpt/new",
        prev_checkpoint="/ckpt/old",
    )
    assert result.outputs == {
        "o0": {
            "attempt": 3,
            "run_name": "run-1",
            "namespace": "ns",
            "task_name": "typed_tasks.context_report",
            "checkpoint_path": "/ckpt/new",
            "prev_checkpoint": "/ckpt/old",
            "output_prefix": str(executor.output_prefix),
            # not given on the command line: the default the run really uploads to
            "raw_output_data_prefix": str(executor.output_prefix / "raw"),
        }
    }, result.stderr
    given = executor.run(M, "context_report", raw_output_data_prefix="s3://bucket/raw")
    assert given.outputs is not None, given.stderr
    assert given.outputs["o0"]["raw_output_data_prefix"] == "s3://bucket/raw"


def test_task_output_passes_through_and_logs_are_one_line_each_on_stderr(executor: Executor) -> None:
    result = executor.run(M, "chatty", {"x": 1})
    assert result.stdout == "stdout from the task\n"
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "kubetask-execute: start task-module=typed_tasks task-name=chatty "
        "resolver=kubetask.default_task_resolver attempt=1"
    )
    assert lines[1] == "stderr from the task"
    assert lines[2].startswith("kubetask-execute: end outcome=Succeeded duration=")
    assert len(lines) == 3


def test_outputs_too_big_for_the_termination_message_are_referenced_by_uri(executor: Executor) -> None:
    result = executor.run(M, "echo_str", {"x": "y" * 10_000})
    assert result.outputs == {"o0": "y" * 10_000}
    assert result.termination is not None
    assert result.termination.truncated
    assert result.termination.outputs is None
    assert result.termination_text is not None
    assert len(result.termination_text.encode()) <= 4096
