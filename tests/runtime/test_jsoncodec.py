"""The runtime's JSON settings: strict, compact, and every malformed document a ValueError naming where.

The runtime calls json's C accelerator directly when it can (importing json costs the pod's cold start):
every result and every error must be exactly json's, with the accelerator and without it."""

from __future__ import annotations

import json
import re

import pytest

from kubetask import _jsoncodec
from kubetask._jsoncodec import dumps, loads


@pytest.fixture(params=[pytest.param(True, id="accelerated"), pytest.param(False, id="json-only")])
def accelerated(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every test of this module twice: through the C accelerator, and through json alone."""
    assert _jsoncodec._ACCELERATED is not None, "CPython has json's accelerator: the fast way must be built"
    if not request.param:
        monkeypatch.setattr(_jsoncodec, "_ACCELERATED", None)
    return bool(request.param)


pytestmark = pytest.mark.usefixtures("accelerated")


def _reject_constant(name: str) -> object:
    raise ValueError(f"JSON has no {name}")


def json_loads(text: str) -> object:
    """What the standard library makes of *text* with the runtime's settings."""
    return json.JSONDecoder(parse_constant=_reject_constant).decode(text)


VALID_TEXTS = [
    pytest.param('{"a": 1, "b": [1.5, -2, true, false, null], "c": {"d": "\\u00e9\\n"}}', id="nested"),
    pytest.param("  \t\r\n[1e400, -0.0, 12345678901234567890, 1E-3]\n\n", id="whitespace-numbers"),
    pytest.param('"\\ud83d\\ude00 \\u2028"', id="surrogate-pair"),
    pytest.param('{"a": 1, "a": 2}', id="duplicate-key"),
    pytest.param("0", id="bare-number"),
    pytest.param("null", id="null"),
    pytest.param("[" * 50 + "]" * 50, id="nested-50"),
]
MALFORMED_TEXTS = [
    pytest.param(text, id=name)
    for name, text in [
        ("comma", '{"x": 1,'),
        ("comma-brace", '{"x": 1, }'),
        ("unterminated-string", '"abc'),
        ("missing-colon", '{"a" 1}'),
        ("control-character", '"a\tb"'),
        ("bad-escape", '"\\x"'),
        ("single-quotes", "{'a': 1}"),
        ("nan", "NaN"),
        ("nested-infinity", '{"a": [Infinity]}'),
        ("trailing", "[1] [2]"),
        ("only-whitespace", " \n "),
        ("empty", ""),
        ("bom", "\ufeff{}"),
        ("leading-vertical-tab", "\v{}"),
        ("trailing-form-feed", "{}\f"),
        ("array-comma", "[1,"),
        ("lone-minus", "-"),
    ]
]


@pytest.mark.parametrize("text", VALID_TEXTS)
def test_loads_gives_what_json_gives(text: str) -> None:
    expected = json_loads(text)
    assert loads(text) == expected
    assert repr(loads(text.encode())) == repr(expected)  # -0.0 stays -0.0, ints stay ints


@pytest.mark.parametrize("text", MALFORMED_TEXTS)
def test_loads_refuses_what_json_refuses_with_its_message(text: str) -> None:
    try:
        json_loads(text)
    except ValueError as error:
        expected = error
    else:
        pytest.fail(f"json accepts {text!r}: not a malformed document")
    with pytest.raises(type(expected), match=f"^{re.escape(str(expected))}$"):
        loads(text)


def test_loads_refuses_invalid_utf8() -> None:
    with pytest.raises(UnicodeDecodeError):
        loads(b'{"a": "\xff"}')


def test_loads_reports_documents_deeper_than_the_stack_as_recursion() -> None:
    with pytest.raises(RecursionError):
        loads("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"a": [1, 2.5, -0.0, 1e300, True, None, "\u00e9\U0001f600\x00"]}, id="mixed"),
        pytest.param({1: "int key", 2.5: "float key", False: "bool key", None: "none key"}, id="keys"),
        pytest.param([[[[]]], {}], id="empty-containers"),
        pytest.param("text", id="bare-string"),
        pytest.param(2**70, id="big-int"),
    ],
)
def test_dumps_gives_what_json_gives(value: object) -> None:
    assert dumps(value) == json.dumps(value, separators=(",", ":"), allow_nan=False)


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
