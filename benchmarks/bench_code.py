"""Cold start of ``kubetask-execute`` with the task shipped as a code archive, beside the same task baked in.

    .venv/bin/python benchmarks/bench_code.py [--runs 20] [--check]

Both sides run the same trivial ``add`` task as whole processes, interleaved, in the same run (measured by
``bench_execute``'s launcher): *baked* has the project folder on ``PYTHONPATH`` with its bytecode compiled,
as an image built with the code would; *shipped* is given ``--code-uri``/``--code-sha256`` for the same
folder packed by ``kubetask.pack_code`` (about 1 MiB of archive: the task module and 64 other modules of
incompressible data) and so reads, hashes, unpacks and imports it from source, into a scratch folder
given as ``$KUBETASK_SCRATCH_DIR`` as in a pod (the unpacked code is left for the pod's volume to go with
it). The runtime's own bytecode is compiled first for both, as ``pip install`` does. Reported: median
(min-max) wall time of each, CPU time (user + system: steady on a loaded machine) and the ratio of medians.
Target: shipped at most 1.5x baked.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

import kubetask
from bench_execute import run_once, summarize

TASK_MODULE = """import kubetask


@kubetask.task
def add(a: int, b: int) -> int:
    return a + b
"""
FILLER_MODULES = 64
FILLER_BYTES = 16 * 1024  # of random data per module, base64-encoded: ~1 MiB of archive in all
MAX_RATIO = 1.5


def write_project(directory: Path) -> None:
    directory.mkdir()
    (directory / "bench_code_tasks.py").write_text(TASK_MODULE)
    generator = random.Random(20261130)  # the same archive every run
    for index in range(FILLER_MODULES):
        data = base64.b64encode(generator.randbytes(FILLER_BYTES)).decode()
        (directory / f"filler_{index:02d}.py").write_text(f'DATA = "{data}"\n')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each side (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    options = parser.parse_args()

    execute = Path(sys.executable).with_name("kubetask-execute")
    with tempfile.TemporaryDirectory(prefix="bench-code-") as scratch:
        directory = Path(scratch)
        project = directory / "project"
        write_project(project)
        archive = kubetask.pack_code(str(project))
        stored = directory / archive.file_name
        stored.write_bytes(archive.data)
        compileall.compile_dir(project, quiet=1)  # the baked side, as an image build would
        compileall.compile_dir(Path(kubetask.__file__).parent, quiet=1)
        (directory / "inputs.json").write_text('{"a": 1, "b": 2}')
        base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
        base_env["KUBETASK_TERMINATION_MESSAGE_PATH"] = str(directory / "termination-log")
        base_env["KUBETASK_SCRATCH_DIR"] = str(directory / "unpacked")

        def command(side: str, **code: str) -> list[str]:
            argv = kubetask.build_execute_command(
                inputs=str(directory / "inputs.json"),
                output_prefix=str(directory / side),
                loader_args=["task-module", "bench_code_tasks", "task-name", "add"],
                **code,
            )
            return [str(execute), *argv[1:]]

        sides = {
            "baked: task on PYTHONPATH, bytecode compiled": (
                command("baked"),
                {**base_env, "PYTHONPATH": str(project)},
            ),
            f"shipped: --code-uri ({len(archive.data) / 1024:.0f} KiB archive)": (
                command("shipped", code_uri=str(stored), code_sha256=archive.sha256),
                base_env,
            ),
        }
        walls: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        for argv, env in sides.values():  # warm the page cache once, untimed
            run_once(argv, cwd=directory, env=env)
        for _ in range(options.runs):
            for name, (argv, env) in sides.items():  # interleaved, so load changes hit both sides alike
                wall, _peak, cpu = run_once(argv, cwd=directory, env=env)
                walls[name].append(wall * 1000)
                cpus[name].append(cpu * 1000)
        for side in ("baked", "shipped"):
            outputs = (directory / side / "outputs.json").read_text().strip()
            if outputs != '{"o0":3}':
                raise RuntimeError(f"the {side} run produced {outputs!r}, expected o0 = 3")

    print(
        f"kubetask-execute cold start with shipped code, {options.runs} interleaved runs each, "
        f"Python {sys.version.split()[0]}; archive {len(archive.data)} bytes, {len(archive.files)} files, "
        f"{archive.size} bytes unpacked"
    )
    print(f"{'':50s} {'wall ms median (min-max)':>28s} {'CPU ms median':>14s}")
    for name in sides:
        print(f"{name:50s} {summarize(walls[name]):>28s} {statistics.median(cpus[name]):14.2f}")
    baked, shipped = list(sides)
    ratio = statistics.median(walls[shipped]) / statistics.median(walls[baked])
    cpu_ratio = statistics.median(cpus[shipped]) / statistics.median(cpus[baked])
    per_run = sorted(s / b for s, b in zip(walls[shipped], walls[baked], strict=True))
    print(
        f"ratio shipped / baked (medians): {ratio:.2f}x "
        f"(per interleaved pair: {per_run[0]:.2f}-{per_run[-1]:.2f}x; CPU time {cpu_ratio:.2f}x); "
        f"target <= {MAX_RATIO}x"
    )
    met = ratio <= MAX_RATIO
    print("target met" if met else "TARGET MISSED")
    return 0 if met or not options.check else 1


if __name__ == "__main__":
    sys.exit(main())
