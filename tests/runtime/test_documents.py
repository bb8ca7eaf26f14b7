"""Classifying failures (USER/SYSTEM, recoverable, exit status) and bounding the error document."""

from __future__ import annotations

import pytest

import kubetask
from kubetask._documents import (
    MAX_MESSAGE_CHARS,
    STAGE_CALL,
    STAGE_INPUTS,
    STAGE_LOAD,
    STAGE_OUTPUTS,
    STAGE_START,
    bound,
    classify,
    error_document,
    qualified_type,
)

E = kubetask.ExitCode


@pytest.mark.parametrize(
    ("error", "stage", "expected"),
    [
        pytest.param(ValueError("x"), STAGE_CALL, ("USER", False, E.USER_ERROR), id="task-raises"),
        pytest.param(
            kubetask.RecoverableError("x"), STAGE_CALL, ("USER", True, E.USER_ERROR), id="task-retry"
        ),
        pytest.param(
            kubetask.StorageError("x"), STAGE_CALL, ("USER", False, E.USER_ERROR), id="task-storage"
        ),
        pytest.param(ImportError("x"), STAGE_LOAD, ("USER", False, E.USER_ERROR), id="resolver-raises"),
        pytest.param(kubetask.TaskLoadError("x"), STAGE_LOAD, ("USER", False, E.USER_ERROR), id="load"),
        pytest.param(kubetask.InputError("x"), STAGE_INPUTS, ("USER", False, E.USER_ERROR), id="inputs"),
        pytest.param(kubetask.OutputError("x"), STAGE_OUTPUTS, ("USER", False, E.USER_ERROR), id="outputs"),
        pytest.param(
            kubetask.StorageError("x"), STAGE_INPUTS, ("SYSTEM", True, E.SYSTEM_ERROR), id="storage"
        ),
        pytest.param(
            kubetask.StorageError("x"), STAGE_OUTPUTS, ("SYSTEM", True, E.SYSTEM_ERROR), id="upload"
        ),
        pytest.param(
            kubetask.MissingStorageBackendError("x"),
            STAGE_INPUTS,
            ("SYSTEM", False, E.SYSTEM_ERROR),
            id="missing-backend",
        ),
        pytest.param(KeyError("x"), STAGE_OUTPUTS, ("SYSTEM", True, E.SYSTEM_ERROR), id="runtime-bug"),
        pytest.param(kubetask.UsageError("x"), STAGE_START, ("SYSTEM", False, E.USAGE_ERROR), id="usage"),
        pytest.param(
            kubetask.StorageLocationError("x"),
            STAGE_INPUTS,
            ("USER", False, E.USER_ERROR),
            id="missing-document",
        ),
        pytest.param(
            kubetask.StorageLocationError("x"),
            STAGE_OUTPUTS,
            ("USER", False, E.USER_ERROR),
            id="unwritable-prefix",
        ),
        # Raised by the task itself, no signal received: a failure of the task, not a stop.
        pytest.param(
            kubetask.Terminated("x"), STAGE_CALL, ("USER", False, E.USER_ERROR), id="task-terminated"
        ),
        pytest.param(KeyboardInterrupt(), STAGE_CALL, ("USER", False, E.USER_ERROR), id="task-interrupt"),
        pytest.param(KeyboardInterrupt(), STAGE_LOAD, ("USER", False, E.USER_ERROR), id="module-interrupt"),
    ],
)
def test_classification(error: BaseException, stage: str, expected: tuple[str, bool, int]) -> None:
    classification = classify(error, stage=stage, signalled=False)
    assert (classification.kind, classification.recoverable, classification.exit_code) == expected


@pytest.mark.parametrize("stage", [STAGE_LOAD, STAGE_INPUTS, STAGE_CALL, STAGE_OUTPUTS])
@pytest.mark.parametrize(
    "error",
    [
        pytest.param(kubetask.Terminated("x"), id="terminated"),
        pytest.param(ValueError("cleanup failed"), id="task-failed-while-stopping"),
        pytest.param(kubetask.InputError("x"), id="bad-input-while-stopping"),
    ],
)
def test_a_received_signal_is_a_stop_whatever_followed(error: BaseException, stage: str) -> None:
    classification = classify(error, stage=stage, signalled=True)
    assert (classification.kind, classification.recoverable, classification.exit_code) == (
        "SYSTEM",
        True,
        E.TERMINATED,
    )


def test_qualified_type_drops_builtins_and_uses_public_names() -> None:
    assert qualified_type(ValueError()) == "ValueError"
    assert qualified_type(kubetask.TaskLoadError()) == "kubetask.TaskLoadError"

    class Oops(Exception):
        pass

    assert (
        qualified_type(Oops())
        == f"{__name__}.test_qualified_type_drops_builtins_and_uses_public_names.<locals>.Oops"
    )


def test_error_document_keeps_chained_causes() -> None:
    try:
        try:
            {}["k"]
        except KeyError as cause:
            raise RuntimeError("lookup failed") from cause
    except RuntimeError as error:
        document = error_document(error, classify(error, stage=STAGE_CALL, signalled=False))
    assert document["kind"] == "USER"
    assert document["type"] == "RuntimeError"
    assert document["message"] == "lookup failed"
    traceback = str(document["traceback"])
    assert "KeyError: 'k'" in traceback
    assert "The above exception was the direct cause" in traceback


def test_bound_keeps_head_and_tail() -> None:
    text = "H" * 100 + "m" * 10_000 + "T" * 100
    cut = bound(text, 1000)
    assert cut.startswith("H" * 100)
    assert cut.endswith("T" * 100)
    assert "[9200 characters omitted]" in cut
    assert len(cut) < 1100
    assert bound("short", MAX_MESSAGE_CHARS) == "short"
