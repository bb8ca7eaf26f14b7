"""Every example runs, through ``kubetask run`` (the pod's command) and, where retries matter,
``kubetask-execute`` with the attempt the operator would set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Executor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KUBETASK = Path(sys.executable).with_name("kubetask")


def run_example(target: str, *args: str, cwd: Path) -> tuple[int, Any, str]:
    result = subprocess.run(
        [str(KUBETASK), "run", str(EXAMPLES / target), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, json.loads(result.stdout) if result.stdout else None, result.stderr


@pytest.mark.parametrize(
    ("target", "args", "outputs"),
    [
        pytest.param("hello/hello.py:hello", ["-i", "name=world"], {"o0": "Hello, world!"}, id="hello"),
        pytest.param("arithmetic/arithmetic.py:add", ["-i", "a=2", "-i", "b=3"], {"o0": 5}, id="add"),
        pytest.param(
            "arithmetic/arithmetic.py:divide", ["-i", "a=17", "-i", "b=5"], {"o0": 3, "o1": 2}, id="divide"
        ),
        pytest.param(
            "arithmetic/arithmetic.py:summarize",
            ["-i", "values=[1.5, 2.5, 5]", "-i", "scale=2"],
            {"count": 3, "total": 18.0, "mean": 6.0},
            id="summarize",
        ),
        pytest.param("arithmetic/arithmetic.py:square", ["-i", "base=3"], {"o0": 9.0}, id="variable-binding"),
        pytest.param(
            "dataclasses/orders.py:price_order",
            ["--inputs-file", str(EXAMPLES / "dataclasses/order.json")],
            {
                "o0": {
                    "customer": "Ada",
                    "subtotal": 15.5,
                    "shipping_cost": 12.0,
                    "total": 27.5,
                    "due": "2026-12-24",
                }
            },
            id="dataclasses",
        ),
        pytest.param(
            "files/files.py:word_count",
            ["-i", f"document={EXAMPLES / 'files/poem.txt'}"],
            {"o0": 27},
            id="file-input",
        ),
        pytest.param(
            "custom_resolver/registry.py:greet_v1",
            ["-i", "name=Ada"],
            {"o0": "Hello, Ada."},
            id="custom-resolver",
        ),
        pytest.param(
            "custom_resolver/registry.py:greet_v2",
            ["-i", "name=Ada"],
            {"o0": "Hello, Ada!"},
            id="custom-resolver-v2",
        ),
        pytest.param(
            "custom_resolver/registry.py:whoami", [], {"o0": "whoami/v1"}, id="custom-resolver-task-name"
        ),
        pytest.param(
            "retryable/retryable.py:flaky_fetch",
            ["-i", "succeed_on_attempt=1"],
            {"o0": {"attempt": 1}},
            id="retryable-first-attempt",
        ),
    ],
)
def test_example_succeeds(tmp_path: Path, target: str, args: list[str], outputs: dict[str, Any]) -> None:
    status, printed, stderr = run_example(target, *args, cwd=tmp_path)
    assert status == 0, stderr
    assert printed == outputs


def test_custom_resolver_runs_by_key_through_its_own_resolver(tmp_path: Path) -> None:
    _, _, stderr = run_example("custom_resolver/registry.py:greet_v2", "-i", "name=Ada", cwd=tmp_path)
    assert "kubetask-execute: start key=greet/v2 resolver=registry.resolver attempt=1" in stderr


def test_file_outputs_land_under_the_run_directory(tmp_path: Path) -> None:
    poem = EXAMPLES / "files" / "poem.txt"
    status, printed, stderr = run_example("files/files.py:shout", "-i", f"document={poem}", cwd=tmp_path)
    assert status == 0, stderr
    shouted = Path(printed["o0"])
    assert shouted.is_relative_to(tmp_path / ".kubetask" / "runs")
    assert shouted.read_text() == poem.read_text().upper()
    status, printed, stderr = run_example(
        "files/files.py:split_lines", "-i", f"document={poem}", cwd=tmp_path
    )
    folder = Path(printed["o0"])
    assert sorted(p.name for p in folder.iterdir()) == [f"line-00{n}.txt" for n in range(1, 5)]
    status, printed, stderr = run_example("files/files.py:total_size", "-i", f"folder={folder}", cwd=tmp_path)
    assert printed == {"o0": len(poem.read_text())}, stderr


@pytest.mark.parametrize(
    ("target", "args", "message"),
    [
        pytest.param(
            "failing/failing.py:parse_age",
            ["-i", "text=forty-two"],
            "(USER error, not recoverable, exit 1): failing.InvalidAge: 'forty-two' is not an age",
            id="user-error",
        ),
        pytest.param(
            "failing/failing.py:broken_promise",
            [],
            "kubetask.OutputError: output 'o0': expected int, got 'forty-two' (str)",
            id="bad-output",
        ),
        pytest.param(
            "retryable/retryable.py:flaky_fetch",
            [],
            "(USER error, recoverable, exit 1): kubetask.RecoverableError: service not ready on attempt 1",
            id="recoverable",
        ),
    ],
)
def test_example_fails_as_documented(tmp_path: Path, target: str, args: list[str], message: str) -> None:
    status, printed, stderr = run_example(target, *args, cwd=tmp_path)
    assert status == 1
    assert printed is None
    assert message in stderr


def test_retryable_succeeds_on_the_attempt_the_operator_sets(executor: Executor) -> None:
    argv = executor.command(
        ["task-module", "retryable", "task-name", "flaky_fetch"], inputs=executor.inputs_file({})
    )
    env = {"PYTHONPATH": str(EXAMPLES / "retryable")}
    first = executor.run_argv(argv, env={**env, "KUBETASK_ATTEMPT": "1"})
    assert first.error is not None
    assert (first.error["kind"], first.error["recoverable"]) == ("USER", True)
    second = executor.run_argv(argv, env={**env, "KUBETASK_ATTEMPT": "2"})
    assert second.returncode == 0, second.stderr
    assert second.outputs == {"o0": {"attempt": 2}}
