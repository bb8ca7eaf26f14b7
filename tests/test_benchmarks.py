"""Every benchmark the README quotes still runs, at the smallest size (a smoke test, not a measurement).

Two of them once stopped working unnoticed when `kubetask dev` moved to HTTPS; the figures they print are
only checked to appear, since timing on a shared machine says nothing here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


@pytest.mark.parametrize(
    ("script", "arguments", "figure"),
    [
        pytest.param("bench_execute.py", ["--runs", "2"], "ratio kubetask-execute / bare", id="execute"),
        pytest.param("bench_code.py", ["--runs", "2"], "ratio", id="code"),
        pytest.param("bench_codec.py", ["--records", "200", "--runs", "1"], "ratio decode", id="codec"),
        pytest.param("bench_queue.py", ["--sizes", "10", "--repeat", "1"], "admissions/s", id="queue"),
        pytest.param("bench_dev.py", ["--runs", "1"], "ready", id="dev"),
        pytest.param("bench_cli.py", ["--runs", "1"], "kubectl", id="cli"),
        pytest.param(
            "bench_operator.py",
            ["--taskruns", "20", "--rounds", "1", "--repeat", "1"],
            "ratio:",
            id="operator",
        ),
        pytest.param(
            "bench_map.py", ["--items", "20", "--parallelism", "5", "--repeat", "1"], "p99", id="map"
        ),
    ],
)
def test_a_benchmark_runs_and_prints_its_figures(script: str, arguments: list[str], figure: str) -> None:
    finished = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert figure in finished.stdout
