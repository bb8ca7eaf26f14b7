"""The runtime's JSON settings: strict, compact, and every malformed document a ValueError naming where."""

from __future__ import annotations

import json

import pytest

from kubetask._jsoncodec import dumps, loads

DOCUMENTS = [
    pytest.param({}, id="empty-object"),
    pytest.param({"a": 1, "b": [1.5, -2, True, False, None], "c": {"d": 'é\n"\\'}}, id="nested"),
    pytest.param([1e300, -0.0, 12345678901234567890], id="big-numbers"),
    pytest.param("\U0001f600 \u2028", id="astral-and-separators"),
    pytest.param(None, id="null"),
]


@pytest.mark.parametrize("value", DOCUMENTS)
def test_dumps_round_trips_through_json(value: object) -> None:
    assert json.loads(dumps(value)) == value
    assert loads(json.dumps(value, indent=2)) == value


def test_dumps_is_compact_ascii() -> None:
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"\\u00e9"]}'


def test_tuples_encode_as_arrays() -> None:
    assert dumps((1, (2,))) == "[1,[2]]"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(float("nan"), "cannot encode nan as JSON: JSON has no NaN or Infinity", id="nan"),
        pytest.param({"x": [float("inf")]}, r"cannot encode inf at \['x'\]\[0\]", id="nested-inf"),
        pytest.param({"s": {1, 2}}, r"cannot encode \{1, 2\} at \['s'\] \(set\) as JSON", id="set"),
    ],
)
def test_dumps_refuses_what_json_cannot_carry(value: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        dumps(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('{"a": 1', "Expecting ',' delimiter: line 1 column 8", id="unterminated"),
        pytest.param('{"a": 1} x', "Extra data: line 1 column 10", id="trailing"),
        pytest.param("", "Expecting value: line 1 column 1", id="empty"),
        pytest.param('{"a": NaN}', "JSON has no NaN", id="nan"),
        pytest.param('{"a": -Infinity}', "JSON has no -Infinity", id="infinity"),
        # The hand-made codec this replaced drove the C scanner itself and turned these into SystemError.
        pytest.param(
            '{"x": 1,', "Expecting property name enclosed in double quotes: line 1 column 9", id="comma"
        ),
        pytest.param('{"x": 1, ', "Expecting property name enclosed in double quotes", id="comma-space"),
        pytest.param("[1,", "Expecting value: line 1 column 4", id="array-comma"),
        pytest.param('{"x": [1, {"y": ', "Expecting value", id="nested-open"),
    ],
)
def test_loads_reports_bad_documents_like_json(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        loads(text)


def test_loads_accepts_utf8_bytes_and_surrounding_whitespace() -> None:
    assert loads(b'\n {"n": "\xc3\xa9"} \n') == {"n": "é"}
