"""Each ``kubetask`` client command beside kubectl doing the same, on the same ``kubetask dev`` cluster in the
same run.

    .venv/bin/python benchmarks/bench_cli.py [--runs 7] [--check]

Starts one local cluster (operator included, ``examples/hello`` on its PYTHONPATH, and one image that never
pulls, so TaskRuns made with it stay Pending for cancel, delete and rerun to act on). Then, for every
command, runs the ``kubetask`` console script and its kubectl equivalent alternately, each as a fresh
process (what a user meets: interpreter start, imports, kubeconfig, request), and prints the median wall
time (min-max) of each and their ratio. The issue's target: every command within 4x kubectl.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kubetask_local.testing import kubectl_binary, start_local_cluster, wait_for

REPOSITORY = Path(__file__).resolve().parent.parent
HELLO = REPOSITORY / "examples" / "hello"
KUBETASK = str(Path(sys.executable).with_name("kubetask"))
KUBECTL = str(kubectl_binary())
TARGET_RATIO = 4.0
STUCK_IMAGE = "bench-never-pulls:latest"

Command = Callable[[int], list[str]]


def _manifest(name: str, image: str, *, generate: bool = False) -> str:
    return json.dumps(
        {
            "apiVersion": "kubetask.dev/v1alpha1",
            "kind": "TaskRun",
            "metadata": {"generateName": f"{name}-"} if generate else {"name": name},
            "spec": {"image": image, "task": {"module": "hello", "name": "hello"}, "inputs": {"name": "b"}},
        }
    )


class Bench:
    def __init__(self, kubeconfig: Path, directory: Path) -> None:
        self.env = {
            "KUBECONFIG": str(kubeconfig),
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "HOME": str(directory),  # kubectl's discovery cache goes here, not into the working directory
        }
        self.directory = directory

    def run(self, argv: Sequence[str], *, stdin: str | None = None) -> tuple[float, float]:
        """(wall seconds, CPU seconds) of one command."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.directory,
            timeout=120,
            check=False,
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode != 0:
            raise SystemExit(
                f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return seconds, cpu

    def kubectl_json(self, *args: str) -> dict[str, object]:
        result = subprocess.run(
            [KUBECTL, *args, "-o", "json"],
            capture_output=True,
            text=True,
            env=self.env,
            check=True,
            timeout=60,
        )
        document: dict[str, object] = json.loads(result.stdout)
        return document

    def status(self, name: str) -> dict[str, Any]:
        status = self.kubectl_json("get", "taskrun", name).get("status")
        return status if isinstance(status, dict) else {}

    def phase(self, name: str) -> str:
        return str(self.status(name).get("phase") or "")

    def create(self, name: str, image: str) -> None:
        subprocess.run(
            [KUBECTL, "create", "-f", "-"],
            input=_manifest(name, image),
            capture_output=True,
            text=True,
            env=self.env,
            check=True,
            timeout=60,
        )


def _median_range(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f}s ({min(values):.3f}-{max(values):.3f})"


HEADER = (
    "kubetask vs kubectl on the same `kubetask dev` cluster, {runs} runs each, alternating; wall time median "
    "(min-max), and the median CPU time (user+system) of each, which a machine shared with other work "
    "disturbs far less"
)


def _report(name: str, mine: list[tuple[float, float]], kubectl: list[tuple[float, float]]) -> float:
    """Print one command's row; its wall-time ratio."""
    wall_mine, wall_kubectl = [wall for wall, _ in mine], [wall for wall, _ in kubectl]
    cpu_mine = statistics.median(cpu for _, cpu in mine)
    cpu_kubectl = statistics.median(cpu for _, cpu in kubectl)
    ratio = statistics.median(wall_mine) / statistics.median(wall_kubectl)
    print(
        f"{name:<10} {_median_range(wall_mine):<24} {_median_range(wall_kubectl):<24} {ratio:4.1f}x"
        f"   {cpu_mine * 1000:4.0f}ms/{cpu_kubectl * 1000:3.0f}ms = {cpu_mine / cpu_kubectl:3.1f}x",
        flush=True,
    )
    return ratio


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (default 7)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 unless every ratio <= {TARGET_RATIO}")
    args = parser.parse_args(argv)
    runs = args.runs
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as temporary:
        directory = Path(temporary)
        cluster = start_local_cluster(
            directory / "cluster", pythonpath=[HELLO], args=["--fail-image", STUCK_IMAGE]
        )
        try:
            bench = Bench(cluster.kubeconfig, directory)
            bench.create("done", "kubetask-examples:latest")
            wait_for(lambda: bench.phase("done") == "Succeeded", 120, "the benchmark's TaskRun to succeed")
            pod = str(bench.status("done")["podName"])
            for index in range(runs):  # TaskRuns that stay Pending, for cancel, delete and rerun
                for who in ("kt", "k"):
                    bench.create(f"cancel-{who}-{index}", STUCK_IMAGE)
                    bench.create(f"delete-{who}-{index}", STUCK_IMAGE)
            (directory / "submit.json").write_text(_manifest("created", STUCK_IMAGE, generate=True))
            rows: list[tuple[str, Command, Command]] = [
                ("get", lambda _: [KUBETASK, "get", "done"], lambda _: [KUBECTL, "get", "taskrun", "done"]),
                ("list", lambda _: [KUBETASK, "list"], lambda _: [KUBECTL, "get", "taskruns"]),
                (
                    "describe",
                    lambda _: [KUBETASK, "describe", "done"],
                    lambda _: [KUBECTL, "describe", "taskrun", "done"],
                ),
                ("logs", lambda _: [KUBETASK, "logs", "done"], lambda _: [KUBECTL, "logs", pod]),
                (
                    "wait",
                    lambda _: [KUBETASK, "wait", "done", "--quiet"],
                    lambda _: [KUBECTL, "wait", "--for=jsonpath={.status.phase}=Succeeded", "taskrun/done"],
                ),
                (
                    "cancel",
                    lambda i: [KUBETASK, "cancel", f"cancel-kt-{i}"],
                    lambda i: [
                        KUBECTL,
                        "patch",
                        "taskrun",
                        f"cancel-k-{i}",
                        "--type=merge",
                        "-p",
                        '{"spec": {"cancelled": true}}',
                    ],
                ),
                (
                    "delete",
                    lambda i: [KUBETASK, "delete", f"delete-kt-{i}"],
                    lambda i: [KUBECTL, "delete", "taskrun", f"delete-k-{i}", "--wait=false"],
                ),
                (
                    "rerun",
                    lambda i: [KUBETASK, "rerun", f"cancel-kt-{i}", "--new-name", f"rerun-kt-{i}"],
                    lambda _: [KUBECTL, "create", "-f", "submit.json"],
                ),
                (
                    "submit",
                    lambda _: [
                        KUBETASK,
                        "submit",
                        str(HELLO / "hello.py") + ":hello",
                        "-i",
                        "name=b",
                        "--image",
                        STUCK_IMAGE,
                    ],
                    lambda _: [KUBECTL, "create", "-f", "submit.json"],
                ),
            ]
            bench.run([KUBETASK, "get", "done"])  # warm the file cache, as a user's second command is
            bench.run([KUBECTL, "get", "taskrun", "done"])
            print(HEADER.format(runs=runs))
            print(f"{'command':<10} {'kubetask':<24} {'kubectl':<24} ratio   CPU kubetask/kubectl")
            worst = 0.0
            for name, ours, theirs in rows:
                mine: list[tuple[float, float]] = []
                kubectl: list[tuple[float, float]] = []
                for index in range(runs):
                    mine.append(bench.run(ours(index)))
                    kubectl.append(bench.run(theirs(index)))
                worst = max(worst, _report(name, mine, kubectl))
            print(f"worst wall-time ratio {worst:.1f}x (target <= {TARGET_RATIO:g}x)")
        finally:
            assert cluster.process is not None
            cluster.process.stop()
    return 1 if args.check and worst > TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
