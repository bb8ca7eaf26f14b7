"""The termination message: built to fit Kubernetes' 4096 bytes, parsed back by the operator."""

from __future__ import annotations

import dataclasses
import json

import pytest

import kubetask
from kubetask._termination import MAX_TERMINATION_MESSAGE_BYTES, failure_message, success_message


def test_success_carries_the_outputs_inline_when_they_fit() -> None:
    text = success_message(outputs={"o0": 3}, outputs_uri="s3://b/run/outputs.json")
    assert text == '{"outcome":"Succeeded","outputs":{"o0":3},"outputsUri":"s3://b/run/outputs.json"}'
    summary = kubetask.parse_termination_message(text)
    assert summary == kubetask.TerminationSummary(
        outcome="Succeeded", outputs={"o0": 3}, outputs_uri="s3://b/run/outputs.json"
    )
    assert summary.succeeded


def test_success_too_big_for_the_message_keeps_only_the_uri_and_says_truncated() -> None:
    text = success_message(outputs={"o0": "x" * 5000}, outputs_uri="/runs/1/outputs.json")
    assert json.loads(text) == {
        "outcome": "Succeeded",
        "outputsUri": "/runs/1/outputs.json",
        "truncated": True,
    }
    summary = kubetask.parse_termination_message(text)
    assert summary is not None
    assert summary.outputs is None
    assert summary.truncated


def test_failure_carries_the_error_and_its_document_uri() -> None:
    text = failure_message(
        kind="USER", recoverable=False, error_type="ValueError", message="bad", error_uri="/r/error.json"
    )
    summary = kubetask.parse_termination_message(text)
    assert summary == kubetask.TerminationSummary(
        outcome="Failed",
        error=kubetask.ErrorInfo(kind="USER", recoverable=False, type="ValueError", message="bad"),
        error_uri="/r/error.json",
    )
    assert not summary.succeeded


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("m" * 10_000, id="ascii"),
        pytest.param('é\n"' * 4000, id="escapes-and-non-ascii"),
        pytest.param("\U0001f600" * 3000, id="astral"),
    ],
)
def test_long_failure_message_is_cut_to_fit_and_marked_truncated(message: str) -> None:
    text = failure_message(
        kind="SYSTEM", recoverable=True, error_type="OSError", message=message, error_uri="s3://b/error.json"
    )
    assert len(text.encode()) <= MAX_TERMINATION_MESSAGE_BYTES
    assert len(text.encode()) > MAX_TERMINATION_MESSAGE_BYTES - 20  # cut, not emptied
    document = json.loads(text)
    assert document["truncated"] is True
    assert document["errorUri"] == "s3://b/error.json"
    assert document["error"]["message"].endswith("...")
    assert message.startswith(document["error"]["message"][:-3])


def test_absurd_uri_is_dropped_rather_than_overflowing() -> None:
    text = failure_message(kind="USER", recoverable=False, error_type="E", message="m", error_uri="u" * 5000)
    assert len(text.encode()) <= MAX_TERMINATION_MESSAGE_BYTES
    assert json.loads(text)["error"]["type"] == "E"


def test_summary_is_frozen() -> None:
    summary = kubetask.TerminationSummary(outcome="Succeeded")
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.outcome = "Failed"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Traceback (most recent call last):\n  File ...", id="log-tail"),
        pytest.param("", id="empty"),
        pytest.param("[1, 2]", id="not-an-object"),
        pytest.param('{"outcome": "Running"}', id="unknown-outcome"),
        pytest.param('{"outcome": "Failed"}', id="failed-without-error"),
        pytest.param(
            '{"outcome": "Failed", "error": {"kind": "OTHER", "recoverable": true, "type": "E",'
            ' "message": ""}}',
            id="unknown-kind",
        ),
        pytest.param('{"outcome": "Succeeded", "outputs": [1]}', id="outputs-not-object"),
        pytest.param('{"outcome": "Succeeded", "truncated": "yes"}', id="truncated-not-bool"),
        # A task can write its own termination message: one nested past the recursion limit (2000 levels
        # fit in 4096 bytes, past the default limit) raised RecursionError in the operator's status path.
        # Deeper than any limit a library in this process may have raised it to.
        pytest.param(
            '{"outcome": "Succeeded", "outputs": {"o0": ' + "[" * 200_000 + "]" * 200_000 + "}}",
            id="too-deep",
        ),
    ],
)
def test_text_that_is_not_a_summary_parses_to_none(text: str) -> None:
    assert kubetask.parse_termination_message(text) is None
