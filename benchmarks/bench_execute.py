"""Cold start of ``kubetask-execute`` against a bare Python process importing the same function.

    .venv/bin/python benchmarks/bench_execute.py [--runs 30] [--check]

Both sides run as whole processes, interleaved, in the same run: ``kubetask-execute`` on a trivial
``add(a: int, b: int) -> int`` task with its inputs in a file (reads inputs, converts, calls, writes
outputs.json and the termination message), and ``python -c "from plain_add import add"`` importing the
same function from a module that does not use kubetask. Bytecode is compiled first for both, as ``pip
install`` does in an image. Reported: median (min-max) wall time and peak RSS (``wait4`` rusage) of
each, CPU time (user + system: steady on a loaded machine), and the ratio of medians. Targets: at
most 2x the bare run, at most 25 MiB peak RSS.

A realistic task module (one that imports dataclasses and typing, as most do) is measured too, with and
without ``import json`` on top of it: the difference is what importing the standard library's JSON costs a
real task's cold start, reported as a share of that task's ``kubetask-execute`` run (limit 10%). The
runtime itself reads and writes JSON through json's C accelerator without importing :mod:`json`, which
imports :mod:`re` and :mod:`enum`: a task that does not import them itself (the trivial one) is spared.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import kubetask

TASK_MODULE = """import kubetask


@kubetask.task
def add(a: int, b: int) -> int:
    return a + b
"""
REALISTIC_MODULE = """from __future__ import annotations

import dataclasses
from typing import Optional

import kubetask


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: Optional[str] = None


@kubetask.task
def centroid(points: list[Point]) -> Point:
    return Point(sum(p.x for p in points) / len(points), sum(p.y for p in points) / len(points))
"""
REALISTIC_INPUTS = '{"points": [{"x": 1, "y": 2}, {"x": 3, "y": 4, "label": "b"}]}'
MAX_JSON_SHARE = 0.10
PLAIN_MODULE = """def add(a: int, b: int) -> int:
    return a + b
"""
# The console script pip writes (distlib's template) imports re; uv's does not. Both are measured.
PIP_SCRIPT = """import re
import sys
from kubetask._execute import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""
REALISTIC_IMPORT = "python -c 'import realistic_tasks'"
REALISTIC_IMPORT_JSON = "python -c 'import realistic_tasks, json'"
REALISTIC_EXECUTE = "kubetask-execute realistic (dataclass, typing)"
# The same script with the log tee on and off (off: no pipes, no thread, no log.txt): what the archive
# costs, all else equal.
TEE_SCRIPT = """import sys
from kubetask import _capture, _execute
tee = sys.argv.pop(1) == "on"
_execute.OutputCapture = lambda *, archive: _capture.OutputCapture(archive=tee)
sys.exit(_execute.main())
"""
TEE_ON = "kubetask-execute add, script, log tee on"
NO_TEE = "kubetask-execute add, script, log tee off"
MAX_RATIO = 2.0
MAX_RSS_MIB = 25.0


# Each process is started and measured by this small launcher (python -I -S, a few MiB), not by the
# benchmark itself: a child's peak RSS (ru_maxrss) includes the memory of whoever forked it, so measuring
# from this larger process would report its size instead. The launcher's own floor is printed.
LAUNCHER = """
import os, sys, time
devnull = os.open(os.devnull, os.O_WRONLY)
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=[
    (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status),
      usage.ru_utime + usage.ru_stime)
"""


def run_once(argv: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one whole process."""
    launched = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    wall, max_rss_kib, exit_code, cpu = launched.stdout.split()
    if exit_code != "0":
        raise RuntimeError(f"{argv} exited with {exit_code}")
    return float(wall), int(max_rss_kib) / 1024, float(cpu)  # ru_maxrss is KiB on Linux


def summarize(samples: list[float]) -> str:
    return f"{statistics.median(samples):7.2f} ({min(samples):.2f}-{max(samples):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each side (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    options = parser.parse_args()

    execute = Path(sys.executable).with_name("kubetask-execute")
    with tempfile.TemporaryDirectory(prefix="bench-execute-") as scratch:
        directory = Path(scratch)
        (directory / "bench_tasks.py").write_text(TASK_MODULE)
        (directory / "plain_add.py").write_text(PLAIN_MODULE)
        (directory / "inputs.json").write_text('{"a": 1, "b": 2}')
        (directory / "realistic_tasks.py").write_text(REALISTIC_MODULE)
        (directory / "realistic-inputs.json").write_text(REALISTIC_INPUTS)
        pip_script = directory / "kubetask-execute-pip"
        pip_script.write_text(PIP_SCRIPT)
        tee_script = directory / "kubetask-execute-tee"
        tee_script.write_text(TEE_SCRIPT)
        compileall.compile_dir(directory, quiet=1)
        compileall.compile_dir(Path(kubetask.__file__).parent, quiet=1)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = str(directory)
        env["KUBETASK_TERMINATION_MESSAGE_PATH"] = str(directory / "termination-log")
        command = kubetask.build_execute_command(
            inputs=str(directory / "inputs.json"),
            output_prefix=str(directory / "out"),
            loader_args=["task-module", "bench_tasks", "task-name", "add"],
        )
        realistic = kubetask.build_execute_command(
            inputs=str(directory / "realistic-inputs.json"),
            output_prefix=str(directory / "realistic-out"),
            loader_args=["task-module", "realistic_tasks", "task-name", "centroid"],
        )
        sides = {
            "bare python -c 'from plain_add import add'": [sys.executable, "-c", "from plain_add import add"],
            "launcher floor (/bin/true)": ["/bin/true"],
            "python -c 'import kubetask'": [sys.executable, "-c", "import kubetask"],
            "kubetask-execute via pip's wrapper (+re)": [
                sys.executable,
                str(pip_script),
                *command[1:],
            ],
            REALISTIC_IMPORT: [sys.executable, "-c", "import realistic_tasks"],
            REALISTIC_IMPORT_JSON: [sys.executable, "-c", "import realistic_tasks, json"],
            REALISTIC_EXECUTE: [str(execute), *realistic[1:]],
            TEE_ON: [sys.executable, str(tee_script), "on", *command[1:]],
            NO_TEE: [sys.executable, str(tee_script), "off", *command[1:]],
            "kubetask-execute add (file inputs)": [str(execute), *command[1:]],
        }
        walls: dict[str, list[float]] = {name: [] for name in sides}
        peaks: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        for argv in sides.values():  # warm the page cache once, untimed
            run_once(argv, cwd=directory, env=env)
        for _ in range(options.runs):
            for name, argv in sides.items():  # interleaved, so load changes hit every side alike
                wall, peak, cpu = run_once(argv, cwd=directory, env=env)
                walls[name].append(wall * 1000)
                peaks[name].append(peak)
                cpus[name].append(cpu * 1000)
        outputs = (directory / "out" / "outputs.json").read_text().strip()
        if outputs != '{"o0":3}':
            raise RuntimeError(f"kubetask-execute produced {outputs!r}, expected o0 = 3")
        centroid = (directory / "realistic-out" / "outputs.json").read_text().strip()
        if centroid != '{"o0":{"x":2.0,"y":3.0,"label":null}}':
            raise RuntimeError(f"the realistic task produced {centroid!r}, expected the centroid (2, 3)")

    print(
        f"kubetask-execute cold start, {options.runs} interleaved runs each, Python {sys.version.split()[0]}"
    )
    print(f"{'':45s} {'wall ms median (min-max)':>28s} {'CPU ms median':>14s} {'peak RSS MiB median':>20s}")
    for name in sides:
        print(
            f"{name:45s} {summarize(walls[name]):>28s} {statistics.median(cpus[name]):14.2f} "
            f"{statistics.median(peaks[name]):20.1f}"
        )
    bare, execute_name = next(iter(sides)), list(sides)[-1]
    ratio = statistics.median(walls[execute_name]) / statistics.median(walls[bare])
    cpu_ratio = statistics.median(cpus[execute_name]) / statistics.median(cpus[bare])
    per_run = sorted(e / b for e, b in zip(walls[execute_name], walls[bare], strict=True))
    rss = statistics.median(peaks[execute_name])
    print(
        f"ratio kubetask-execute / bare (medians): {ratio:.2f}x "
        f"(per interleaved pair: {per_run[0]:.2f}-{per_run[-1]:.2f}x; CPU time {cpu_ratio:.2f}x); "
        f"target <= {MAX_RATIO:.0f}x"
    )
    print(f"peak RSS kubetask-execute: {rss:.1f} MiB; target <= {MAX_RSS_MIB:.0f} MiB")

    # Wall: difference of medians and of minimums (the least disturbed runs); CPU time (user + system)
    # barely depends on what else the machine runs, so on a loaded machine it is the figure to trust.
    def delta(side: str, baseline: str) -> str:
        wall = statistics.median(walls[side]) - statistics.median(walls[baseline])
        least = min(walls[side]) - min(walls[baseline])
        cpu = statistics.median(cpus[side]) - statistics.median(cpus[baseline])
        return f"wall {wall:+.2f} ms (minimums {least:+.2f} ms), CPU {cpu:+.2f} ms"

    json_cpu = statistics.median(cpus[REALISTIC_IMPORT_JSON]) - statistics.median(cpus[REALISTIC_IMPORT])
    json_share = json_cpu / statistics.median(cpus[REALISTIC_EXECUTE])
    print(
        f"import json on top of a realistic task module: {delta(REALISTIC_IMPORT_JSON, REALISTIC_IMPORT)}"
        f" = {json_share:.1%} of its kubetask-execute CPU time; limit {MAX_JSON_SHARE:.0%}"
    )
    realistic = statistics.median(cpus[REALISTIC_EXECUTE]) / statistics.median(cpus[REALISTIC_IMPORT])
    print(f"kubetask-execute realistic / python importing the same module (CPU medians): {realistic:.2f}x")
    print(f"the log tee and archive on the add task: {delta(TEE_ON, NO_TEE)}")
    met = ratio <= MAX_RATIO and rss <= MAX_RSS_MIB and json_share <= MAX_JSON_SHARE
    print("targets met" if met else "TARGET MISSED")
    return 0 if met or not options.check else 1


if __name__ == "__main__":
    sys.exit(main())
