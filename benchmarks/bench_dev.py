"""Start-up and shut-down of ``kubetask dev``, measured from outside as a user meets them.

    .venv/bin/python benchmarks/bench_dev.py [--runs 5] [--check]

Each run starts the ``kubetask`` console script (``kubetask dev --kubeconfig ...``, operator included, with
``examples/hello`` on PYTHONPATH) and times, from the spawn, the moment the kubeconfig appears (the documented
readiness signal: API server, node and CRD are up), the first read of the Node (Ready), and the
moment a TaskRun posted right at readiness has Succeeded (so the operator started, made a pod and the node ran
it); then SIGTERM and the time until the process has exited. Reported: median (min-max) of each. Target (the
issue's): ready within 3 seconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubetask_local.testing import local_api_request

TARGET_READY_SECONDS = 3.0
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "hello"
TASKRUN = {
    "apiVersion": "kubetask.dev/v1alpha1",
    "kind": "TaskRun",
    "metadata": {"name": "bench-hello"},
    "spec": {
        "image": "kubetask-examples:latest",
        "task": {"module": "hello", "name": "hello"},
        "inputs": {"name": "bench"},
    },
}


def _http(kubeconfig: Path, method: str, path: str, body: Any = None) -> Any:
    """One request to the cluster as kubectl makes it (its CA and token: kubetask dev serves HTTPS)."""
    status, answer = local_api_request(kubeconfig, method, path, body, timeout=10)
    if status >= 400:
        raise RuntimeError(f"{method} {path}: {status} {answer}")
    return answer


def _until(check: Callable[[], bool], *, started: float, limit: float, what: str) -> float:
    """Seconds since ``started`` at which ``check()`` first holds (polled every 10 ms)."""
    deadline = started + limit
    while time.perf_counter() < deadline:
        if check():
            return time.perf_counter() - started
        time.sleep(0.01)
    raise RuntimeError(f"no {what} within {limit} s")


def _node_ready(kubeconfig: Path) -> bool:
    node = _http(kubeconfig, "GET", "/api/v1/nodes/kubetask-local")
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _taskrun_succeeded(kubeconfig: Path) -> bool:
    run = _http(kubeconfig, "GET", "/apis/kubetask.dev/v1alpha1/namespaces/default/taskruns/bench-hello")
    phase = (run.get("status") or {}).get("phase")
    if phase == "Failed":
        raise RuntimeError(f"the TaskRun failed: {run['status']}")
    return phase == "Succeeded"


def run_once(directory: Path) -> dict[str, float]:
    kubeconfig = directory / "kubeconfig"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLES), os.environ.get("PYTHONPATH")])),
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("kubetask")), "dev", "--kubeconfig", str(kubeconfig)],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = _until(kubeconfig.exists, started=started, limit=30, what="kubeconfig")
        node = _until(lambda: _node_ready(kubeconfig), started=started, limit=30, what="Ready node")
        _http(kubeconfig, "POST", "/apis/kubetask.dev/v1alpha1/namespaces/default/taskruns", TASKRUN)
        taskrun = _until(
            lambda: _taskrun_succeeded(kubeconfig), started=started, limit=60, what="TaskRun success"
        )
        stopping = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        stopped = time.perf_counter() - stopping
        if code != 0:
            raise RuntimeError(f"kubetask dev exited {code} on SIGTERM")
        return {"ready": ready, "node": node, "taskrun": taskrun, "stop": stopped}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    options = parser.parse_args()
    samples: dict[str, list[float]] = {"ready": [], "node": [], "taskrun": [], "stop": []}
    for _ in range(options.runs):
        with tempfile.TemporaryDirectory(prefix="bench-dev-") as scratch:
            for name, seconds in run_once(Path(scratch)).items():
                samples[name].append(seconds)
    labels = {
        "ready": "spawn -> kubeconfig written (ready)",
        "node": "spawn -> first read of the node: Ready",
        "taskrun": "spawn -> first TaskRun Succeeded (operator up)",
        "stop": "SIGTERM -> process exited",
    }
    print(
        f"kubetask dev start-up, {options.runs} runs, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print(f"{'':48s} {'seconds median (min-max)':>26s}")
    for name, label in labels.items():
        values = samples[name]
        print(f"{label:48s} {statistics.median(values):10.2f} ({min(values):.2f}-{max(values):.2f})")
    ready = statistics.median(samples["ready"])
    verdict = "met" if ready <= TARGET_READY_SECONDS else "MISSED"
    print(f"target: ready within {TARGET_READY_SECONDS:.0f} s: {verdict} ({ready:.2f} s median)")
    return 1 if options.check and ready > TARGET_READY_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
