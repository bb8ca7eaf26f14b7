"""The execute path stays small: what it imports is part of its contract (cold start is the headline;
timings live in benchmarks/bench_execute.py)."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Executor

HEAVY = {
    "re",
    "typing",
    "json",
    "inspect",
    "argparse",
    "dataclasses",
    "pathlib",
    "tempfile",
    "traceback",
    "fsspec",
    "shutil",
    "asyncio",
    "logging",
    "ast",
    "tokenize",
}


def imported_modules(stderr: str) -> set[str]:
    return {
        line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")
    } - {"package"}


def test_a_trivial_run_imports_nothing_heavy(executor: Executor) -> None:
    argv = executor.command(
        ["task-module", "typed_tasks_light", "task-name", "add"],
        inputs=executor.inputs_file({"a": 1, "b": 2}),
    )
    light = executor.directory / "typed_tasks_light.py"
    light.write_text("import kubetask\n\n@kubetask.task\ndef add(a: int, b: int) -> int:\n    return a + b\n")
    result = executor.run_argv([sys.executable, "-X", "importtime", "-m", "kubetask._execute", *argv[1:]])
    assert result.outputs == {"o0": 3}, result.stderr
    # json (and re, which it imports) are the runtime's codec: free for real task modules, which import
    # them through dataclasses or typing anyway (benchmarks/bench_execute.py measures it).
    assert not imported_modules(result.stderr) & (HEAVY - {"json", "re"})


def test_import_kubetask_is_light() -> None:
    code = "import sys, kubetask; print(sorted(set(sys.modules) & set(sys.argv[1:])))"
    result = subprocess.run(
        [sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"
