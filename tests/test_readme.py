"""The README's runnable samples run as written, so a sample can no longer fail for a reader.

A block is runnable when the line before it is ``<!-- runnable -->`` (invisible on the rendered page). Each of
its commands runs with bash in a fresh folder holding a copy of ``examples/``, with this environment's
``bin`` first on ``PATH`` (the README tells readers to activate the venv). Two kinds of block:

- commands alone (an indented or fenced block): each line must exit 0;
- a transcript (lines starting ``$ ``): each command must exit 0 and print exactly the lines that follow it.

Set-up steps the test suite has already done are skipped, nothing else: in a command joined by ``&&``, the
parts that create the venv or ``pip install`` are dropped, and ``.venv/bin/`` names this environment's
``bin``. Blocks that need a real cluster or a second shell are simply not marked runnable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = "<!-- runnable -->"
SETUP = re.compile(r"^(python3? -m venv |\S*pip install )")


@dataclass(frozen=True)
class Step:
    command: str
    expected_stdout: str | None  # None: only the exit status is checked


@dataclass(frozen=True)
class Block:
    line: int
    steps: tuple[Step, ...]


def _block_after(lines: list[str], start: int) -> list[str]:
    """The code block starting at or after ``start`` (skipping blank lines): fenced or indented."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    if lines[index].startswith("```"):
        end = index + 1
        while not lines[end].startswith("```"):
            end += 1
        return lines[index + 1 : end]
    body = []
    while index < len(lines) and (lines[index].startswith("    ") or not lines[index].strip()):
        body.append(lines[index][4:])
        index += 1
    return [line for line in body if line.strip()] if body else []


def _steps(body: list[str]) -> tuple[Step, ...]:
    if not any(line.startswith("$ ") for line in body):
        return tuple(Step(line.split("  #", 1)[0].strip(), None) for line in body if line.strip())
    steps: list[Step] = []
    command: str | None = None
    output: list[str] = []
    for line in [*body, "$ "]:
        if line.startswith("$ "):
            if command is not None:
                steps.append(Step(command, "\n".join(output)))
            command, output = line[2:].strip(), []
        else:
            output.append(line)
    return tuple(steps)


def runnable_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    return [
        Block(line=number + 2, steps=_steps(_block_after(lines, number + 1)))
        for number, line in enumerate(lines)
        if line.strip() == MARKER
    ]


def as_run_here(command: str) -> str:
    """``command`` less the set-up the suite has done, with ``.venv/bin/`` pointing at this environment."""
    parts = [part for part in command.split(" && ") if not SETUP.match(part.strip())]
    return " && ".join(parts).replace(".venv/bin/", f"{Path(sys.executable).parent}/")


def test_the_readme_marks_its_runnable_samples() -> None:
    blocks = runnable_blocks(README.read_text())
    commands = [step.command for block in blocks for step in block.steps]
    assert any("kubetask dev --apply" in command for command in commands), "the Quickstart's first command"
    assert any(command.startswith("kubetask run ") for command in commands)
    assert all(block.steps for block in blocks), "a runnable marker not followed by a code block"


def test_the_set_up_steps_are_the_only_ones_skipped() -> None:
    quickstart = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[local]' && .venv/bin/kubetask dev"
    assert as_run_here(quickstart) == f"{Path(sys.executable).parent}/kubetask dev"
    assert as_run_here("kubetask run a.py:t && echo done") == "kubetask run a.py:t && echo done"


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize(
    "block",
    [pytest.param(block, id=f"README-line-{block.line}") for block in runnable_blocks(README.read_text())],
)
def test_a_runnable_sample_runs_as_written(block: Block, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("KUBECONFIG", "PYTHONPATH"))
    }
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    for step in block.steps:
        completed = subprocess.run(
            ["bash", "-c", as_run_here(step.command)],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert completed.returncode == 0, f"{step.command}\n{completed.stdout}\n{completed.stderr}"
        if step.expected_stdout is not None:
            assert completed.stdout.strip() == step.expected_stdout.strip(), step.command
