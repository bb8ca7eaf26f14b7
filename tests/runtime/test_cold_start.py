"""The execute path stays small: what it imports is part of its contract (cold start is the headline;
timings live in benchmarks/bench_execute.py, which aims at 2x a bare ``python -c``).

Measured against a bare interpreter started the same way, so what a Python version imports at start-up
anyway does not count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Executor

# Each costs a trivial task's cold start a measurable share of a bare start (benchmarks/bench_execute.py):
# enum ~4 ms (signal, re and json import it), re ~2 ms more, json ~1.5 ms more, typing and inspect more
# still; the shared libraries (math, binascii, select...) ~0.2-0.4 ms each to load.
HEAVY = {
    "argparse",
    "ast",
    "asyncio",
    "binascii",
    "collections",
    "contextlib",
    "dataclasses",
    "datetime",
    "enum",
    "fsspec",
    "functools",
    "gzip",
    "hashlib",
    "importlib",
    "importlib.util",
    "inspect",
    "json",
    "logging",
    "math",
    "pathlib",
    "re",
    "shutil",
    "signal",
    "socket",
    "subprocess",
    "tarfile",
    "tempfile",
    "threading",
    "tokenize",
    "traceback",
    "typing",
    "urllib",
    "warnings",
    "zlib",
}
# kubetask's own modules a task of scalars does not need: the codecs of other kinds of types, code
# shipping, the operator's and the client's helpers, the IntEnum of exit codes.
NOT_NEEDED = {
    "kubetask._code",
    "kubetask._codec._containers",
    "kubetask._codec._files",
    "kubetask._codec._records",
    "kubetask._exit_code",
    "kubetask._local",
    "kubetask._settings",
    "kubetask._summary",
}
# Run with the path of a file as argv[1], where sys.modules is written once the code between ran.
BEFORE = "import sys\nlisting = sys.argv.pop(1)\n"
AFTER = "\nopen(listing, 'w').write('\\n'.join(sorted(sys.modules)))"
# What the console script of kubetask-execute does (uv's and pip's, minus pip's own `import re`).
EXECUTE = "from kubetask._execute import main\ncode = main()"


def modules_after(executor: Executor, code: str, *args: str) -> set[str]:
    """The modules a fresh interpreter (as kubetask-execute runs) has imported after running *code*."""
    listing = executor.directory / "modules.txt"
    listing.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-c", BEFORE + code + AFTER, str(listing), *args],
        cwd=executor.directory,
        env=executor.environment(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    return set(listing.read_text().split())


@pytest.fixture
def bare_modules(executor: Executor) -> set[str]:
    return modules_after(executor, "")


def test_a_trivial_run_imports_nothing_heavy(executor: Executor, bare_modules: set[str]) -> None:
    (executor.directory / "light_tasks.py").write_text(
        "import kubetask\n\n@kubetask.task\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    )
    argv = executor.command(
        ["task-module", "light_tasks", "task-name", "add"], inputs=executor.inputs_file({"a": 1, "b": 2})
    )
    imported = modules_after(executor, EXECUTE, *argv[1:]) - bare_modules
    assert (executor.output_prefix / "outputs.json").read_text() == '{"o0":3}\n'
    assert "light_tasks" in imported
    assert sorted(imported & (HEAVY | NOT_NEEDED)) == []


def test_import_kubetask_is_light(executor: Executor, bare_modules: set[str]) -> None:
    imported = modules_after(executor, "import kubetask")
    assert sorted((imported - bare_modules) & (HEAVY | NOT_NEEDED)) == []


def test_public_names_loaded_on_demand_still_work() -> None:
    """What the facade loads lazily is there when asked for (the IntEnum of exit codes among them)."""
    code = "import kubetask; print(int(kubetask.ExitCode.TERMINATED), kubetask.ExitCode(3).name)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["143", "SYSTEM_ERROR"]


def test_the_installed_command_adds_nothing_heavy(executor: Executor, bare_modules: set[str]) -> None:
    # kubetask-execute is a plain script (runtime/scripts/), not a [project.scripts] wrapper: pip writes
    # those with `import re`, which would put back what the runtime leaves out.
    script = Path(sys.executable).with_name("kubetask-execute")
    (executor.directory / "light_tasks.py").write_text(
        "import kubetask\n\n@kubetask.task\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    )
    argv = executor.command(
        ["task-module", "light_tasks", "task-name", "add"], inputs=executor.inputs_file({"a": 1, "b": 2})
    )
    finished = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), *argv[1:]],
        cwd=executor.directory,
        env=executor.environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stderr.splitlines()
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    assert "kubetask._execute" in imported
    assert sorted((imported - bare_modules) & HEAVY) == []
