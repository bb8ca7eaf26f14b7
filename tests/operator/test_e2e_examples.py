"""Every ``examples/*/taskrun.yaml`` applied as a user would, each reaching the final state it documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import TaskRuns, condition

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# name -> (phase, expected outputs or, for failures, the reason)
EXPECTED: dict[str, tuple[str, Any]] = {
    "hello-world": ("Succeeded", {"o0": "Hello, world!"}),
    "add-2-3": ("Succeeded", {"o0": 5}),
    "summarize-values": ("Succeeded", {"count": 3, "total": 18.0, "mean": 6.0}),
    "square-7": ("Succeeded", {"o0": 49.0}),
    "price-order": ("Succeeded", None),
    "parse-bad-age": ("Failed", "UserError"),
    "flaky-fetch": ("Succeeded", {"o0": {"attempt": 2}}),
    "greet-ada": ("Succeeded", {"o0": "Hello, Ada!"}),
    "count-words": ("Succeeded", {"o0": 13}),
}


def _example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*/taskrun.yaml"))


def test_every_example_taskrun_is_covered() -> None:
    names = {
        doc["metadata"]["name"] for path in _example_files() for doc in yaml.safe_load_all(path.read_text())
    }
    assert names == set(EXPECTED)


@pytest.mark.parametrize("path", _example_files(), ids=lambda path: path.parent.name)
def test_example_taskruns_reach_their_documented_end(taskruns: TaskRuns, path: Path) -> None:
    if not taskruns.cluster.is_local:
        pytest.skip("the examples' image (kubetask-examples:latest) exists only for the local node")
    taskruns.cluster.kubectl("apply", "-n", taskruns.namespace, "-f", str(path))
    for document in yaml.safe_load_all(path.read_text()):
        name = document["metadata"]["name"]
        phase, expected = EXPECTED[name]
        status = taskruns.wait_finished(name, timeout=60)
        assert status["phase"] == phase, status
        if phase == "Failed":
            assert condition(status)["reason"] == expected
            assert len(status["attempts"]) == 1
        elif expected is not None:
            assert status["outputs"] == expected
        else:
            assert status["outputs"]
