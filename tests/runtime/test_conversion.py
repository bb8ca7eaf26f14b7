"""Typed conversion through a task's Interface: JSON -> Python for inputs, Python -> JSON for outputs."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from pathlib import Path
from typing import Any, NamedTuple, Optional, Union

import pytest

import kubetask
from kubetask import FileTransfer, Interface, Parameter

LOCAL = FileTransfer()


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


@dataclasses.dataclass
class Segment:
    start: Point
    end: Point
    label: Optional[str] = None  # noqa: UP045

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("a segment needs two distinct points")


class Span(NamedTuple):
    low: int
    high: int


def interface(name: str, hint: object) -> Interface:
    """The interface of a task taking input *name* and returning one output *name*, both of type *hint*."""
    return Interface({name: Parameter(name, hint)}, {name: hint}, "named")


def input_value(value: object, hint: object, *, name: str, transfer: FileTransfer) -> object:
    return interface(name, hint).decode_inputs({name: value}, transfer=transfer)[name]


def output_value(value: object, hint: object, *, name: str, transfer: FileTransfer) -> object:
    return interface(name, hint).encode_outputs((value,), transfer=transfer)[name]


def convert_in(value: object, hint: object) -> object:
    return input_value(value, hint, name="v", transfer=LOCAL)


def convert_out(value: object, hint: object) -> object:
    return output_value(value, hint, name="v", transfer=LOCAL)


ROUND_TRIPS = [
    pytest.param(True, bool, True, id="bool"),
    pytest.param(3, int, 3, id="int"),
    pytest.param(0.5, float, 0.5, id="float"),
    pytest.param("s", str, "s", id="str"),
    pytest.param(None, type(None), None, id="none"),
    pytest.param(None, Optional[int], None, id="optional-none"),  # noqa: UP045
    pytest.param(4, Union[int, str], 4, id="union"),  # noqa: UP007
    pytest.param("4", int | str, "4", id="pipe-union-keeps-str"),
    pytest.param([1, 2], list[int], [1, 2], id="list"),
    pytest.param({"a": [1.5]}, dict[str, list[float]], {"a": [1.5]}, id="nested-containers"),
    pytest.param([1, "a"], tuple[int, str], (1, "a"), id="tuple"),
    pytest.param("red", Color, Color.RED, id="enum"),
    pytest.param(
        "2026-01-02T03:04:05+00:00",
        datetime.datetime,
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        id="datetime",
    ),
    pytest.param("2026-01-02", datetime.date, datetime.date(2026, 1, 2), id="date"),
    pytest.param(1.5, datetime.timedelta, datetime.timedelta(seconds=1.5), id="timedelta"),
    pytest.param("AAE=", bytes, b"\x00\x01", id="bytes"),
    pytest.param(
        {"start": {"x": 1, "y": 0}, "end": {"x": 2, "y": 3}, "label": None},
        Segment,
        Segment(Point(1), Point(2, 3)),
        id="nested-dataclass",
    ),
    pytest.param({"low": 1, "high": 2}, Span, Span(1, 2), id="named-tuple"),
    pytest.param({"any": ["json"]}, Any, {"any": ["json"]}, id="any"),
]


@pytest.mark.parametrize(("document", "hint", "value"), ROUND_TRIPS)
def test_input_conversion(document: object, hint: object, value: object) -> None:
    assert convert_in(document, hint) == value


@pytest.mark.parametrize(("document", "hint", "value"), ROUND_TRIPS)
def test_output_conversion_is_the_inverse(document: object, hint: object, value: object) -> None:
    expected = list(document) if isinstance(document, tuple) else document
    assert convert_out(value, hint) == expected


def test_dataclass_defaults_fill_missing_fields() -> None:
    assert convert_in({"start": {"x": 1}, "end": {"x": 2}}, Segment) == Segment(Point(1, 0), Point(2, 0))


@pytest.mark.parametrize(
    ("document", "hint", "message"),
    [
        pytest.param("x", int, "input 'v': expected int, got 'x' (str)", id="int"),
        pytest.param([1, "x"], list[int], "input 'v[1]': expected int, got 'x' (str)", id="list-item"),
        pytest.param(
            {"k": "x"}, dict[str, int], "input 'v['k']': expected int, got 'x' (str)", id="dict-item"
        ),
        pytest.param(
            {"start": {"x": "1"}, "end": {"x": 2}},
            Segment,
            "input 'v.start.x': expected int, got '1' (str)",
            id="nested-field",
        ),
        pytest.param(
            {"start": {"x": 1}, "end": {"x": 1}},
            Segment,
            "input 'v': Segment refused the value: ValueError: a segment needs two distinct points",
            id="post-init",
        ),
        pytest.param(
            {"low": 1, "high": 2, "mid": 3},
            Span,
            "input 'v': unknown field(s) 'mid' for Span",
            id="named-tuple-unknown",
        ),
        pytest.param("x" * 500, int, "...", id="long-values-are-cut"),
        pytest.param(
            [1, "x"], list[int] | None, "input 'v[1]': expected int, got 'x' (str)", id="optional-list-item"
        ),
        pytest.param(
            {"start": {"x": "1"}, "end": {"x": 2}},
            Optional[Segment],  # noqa: UP045 - typing.Optional is what this case is about
            "input 'v.start.x': expected int, got '1' (str)",
            id="optional-dataclass-field",
        ),
        pytest.param(
            "x",
            list[int] | None,
            "input 'v': expected list[int] | None, got 'x' (str)",
            id="optional-other-shape",
        ),
        pytest.param(
            [1, "x"],
            list[int] | dict[str, int] | None,
            "input 'v': expected list[int] | dict[str, int] | None, got [1, 'x'] (list)",
            id="wider-union-says-every-member",
        ),
    ],
)
def test_input_errors_name_the_path_and_value(document: object, hint: object, message: str) -> None:
    with pytest.raises(kubetask.InputError) as caught:
        convert_in(document, hint)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("value", "hint", "message"),
    [
        pytest.param("3", int, "output 'v': expected int, got '3' (str)", id="int"),
        pytest.param(True, int, "output 'v': expected int, got True (bool)", id="bool-is-not-int"),
        pytest.param(float("nan"), float, "finite: JSON has no NaN or Infinity", id="nan"),
        pytest.param(
            Color.RED, Point, "output 'v': expected Point, got <Color.RED: 'red'> (Color)", id="class"
        ),
        pytest.param(
            datetime.datetime(2026, 1, 1), datetime.date, "output 'v': expected date, got", id="datetime"
        ),
        pytest.param({1: "a"}, dict[str, str], "dict keys must be str, got 1 (int)", id="int-key"),
        pytest.param(
            {1, 2}, Any, "expected a JSON value (dict, list, str, int, float, bool, None)", id="set"
        ),
        pytest.param(
            [1, 2, 3], tuple[int, int], "output 'v': expected tuple[int, int] (2 items)", id="arity"
        ),
        pytest.param("/no/such/file", kubetask.File, "output 'v': '/no/such/file' does not exist", id="file"),
        pytest.param(
            [1, "x"], list[int] | None, "output 'v[1]': expected int, got 'x' (str)", id="optional-list-item"
        ),
        pytest.param(
            "/no/such/file",
            kubetask.File | None,
            "output 'v': '/no/such/file' does not exist",
            id="optional-file-missing",
        ),
    ],
)
def test_output_errors_name_the_path_and_value(value: object, hint: object, message: str) -> None:
    with pytest.raises(kubetask.OutputError, match=None) as caught:
        convert_out(value, hint)
    assert message in str(caught.value)


class RecordingTransfer(FileTransfer):
    def __init__(self) -> None:
        self.fetched: list[tuple[str, bool, str]] = []
        self.stored: list[tuple[str, bool, str]] = []

    def fetch(self, uri: str, *, directory: bool, key: str) -> str:
        self.fetched.append((uri, directory, key))
        return f"/local/{key}"

    def store(self, path: str, *, directory: bool, key: str) -> str:
        self.stored.append((path, directory, key))
        return f"s3://raw/{key}"


def test_files_are_fetched_before_and_stored_after_with_their_paths(tmp_path: Path) -> None:
    transfer = RecordingTransfer()
    value = input_value({"a": "s3://b/a.txt"}, dict[str, kubetask.File], name="docs", transfer=transfer)
    assert value == {"a": kubetask.File("/local/docs['a']", uri="s3://b/a.txt")}
    assert transfer.fetched == [("s3://b/a.txt", False, "docs['a']")]
    (tmp_path / "out.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    stored = output_value(
        [kubetask.File(tmp_path / "out.txt"), tmp_path / "folder"], list[Path], name="o0", transfer=transfer
    )
    assert stored == ["s3://raw/o0[0]", "s3://raw/o0[1]"]
    assert transfer.stored == [
        (str(tmp_path / "out.txt"), False, "o0[0]"),
        (str(tmp_path / "folder"), True, "o0[1]"),
    ]


def test_file_that_came_from_a_uri_is_reported_by_that_uri_without_storing() -> None:
    transfer = RecordingTransfer()
    assert output_value(
        kubetask.File("/tmp/x", uri="s3://b/x"), kubetask.File, name="o0", transfer=transfer
    ) == ("s3://b/x")
    assert transfer.stored == []


def test_directory_where_a_file_is_expected_is_refused(tmp_path: Path) -> None:
    with pytest.raises(kubetask.OutputError, match=r"expected a file, but .* is not one"):
        output_value(str(tmp_path), kubetask.File, name="o0", transfer=LOCAL)


class UnreachableTransfer(FileTransfer):
    def fetch(self, uri: str, *, directory: bool, key: str) -> str:
        raise kubetask.StorageError(f"cannot read {uri!r}: connection refused")


def test_storage_failure_inside_a_union_is_not_mistaken_for_a_type_mismatch() -> None:
    with pytest.raises(kubetask.StorageError, match="connection refused"):
        input_value("s3://b/k", kubetask.File | None, name="f", transfer=UnreachableTransfer())
