"""What the operator costs: N TaskRuns to Succeeded on the local cluster, beside the API's own capacity.

    .venv/bin/python benchmarks/bench_operator.py [--taskruns 1000] [--rounds 3] [--repeat 3]

Each repeat starts a fresh local cluster (``kubetask dev``) whose node completes pods at once (fast
mode), then:

- operator: ``--rounds`` times, N TaskRuns are created at once (64 concurrent POSTs) and awaited until all are
  Succeeded; from watch streams opened before the first POST: TaskRuns/s from the first creation to the last
  Succeeded, p50/p99 latency from a TaskRun's creation to its pod's creation and to its Succeeded status, and
  the operator process's RSS (sampled every 0.1 s) after each round, so it shows whether memory stays flat
  while finished TaskRuns pile up (they are not deleted between rounds);
- capacity: a second cluster without the operator, the same N TaskRuns created, and a plain client doing the
  same work with the fewest calls: it creates each TaskRun's pod and, when one watch shows that pod
  Succeeded, writes the TaskRun's final status once (same concurrency as the operator's client): the API's
  own TaskRuns/s for that work.

The figures are medians over the repeats; the ratio operator/capacity shows what the operator costs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import yaml

from kubetask_local.testing import Cluster, start_local_cluster
from kubetask_operator._naming import pod_name
from kubetask_operator._pods import TaskRunRef, build_pod
from kubetask_operator._settings import Settings
from kubetask_operator._spec import parse_spec

NAMESPACE = "bench"
CONCURRENCY = 64
SUMMARY = json.dumps({"outcome": "Succeeded", "outputs": {"o0": 3}}, separators=(",", ":"))
TASKRUNS = "/apis/kubetask.dev/v1alpha1/namespaces/bench/taskruns"


def cluster_session(cluster: Cluster, **options: Any) -> aiohttp.ClientSession:
    """A session speaking to the local cluster as kubectl does: its CA and its bearer token (HTTPS)."""
    document = yaml.safe_load(cluster.kubeconfig.read_text())
    ca_data = document["clusters"][0]["cluster"].get("certificate-authority-data")
    context = ssl.create_default_context(cadata=base64.b64decode(ca_data).decode()) if ca_data else None
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=context if context is not None else False, **options),
        headers={"Authorization": f"Bearer {cluster.api_token}"},
    )


def _taskrun(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": {
            "image": "bench:1",
            "task": {"module": "arithmetic", "name": "add"},
            "inputs": {"a": 1, "b": 2},
        },
    }


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, json=body) as response:
        if response.status >= 300:
            raise RuntimeError(f"POST {url} answered {response.status}: {await response.text()}")
        result: dict[str, Any] = await response.json()
        return result


async def _create_all(
    session: aiohttp.ClientSession, api: str, names: list[str], *, keep: str = "time"
) -> dict[str, Any]:
    """Create the TaskRuns CONCURRENCY at a time; each one's creation time (when its POST returned) or uid."""
    created: dict[str, Any] = {}
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(name: str) -> None:
        async with limit:
            answer = await _post(session, api + TASKRUNS, _taskrun(name))
            created[name] = time.monotonic() if keep == "time" else answer["metadata"]["uid"]

    await asyncio.gather(*(one(name) for name in names))
    return created


async def _watch_events(
    session: aiohttp.ClientSession, url: str, on_object: Any, ready: asyncio.Event
) -> None:
    async with session.get(
        url,
        params={"watch": "1", "allowWatchBookmarks": "false"},
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    ) as response:
        ready.set()
        async for line in response.content:
            if line.strip():
                await on_object(json.loads(line).get("object") or {})


async def _watch(
    session: aiohttp.ClientSession,
    url: str,
    seen: dict[str, float],
    *,
    want_phase: str | None,
    ready: asyncio.Event,
) -> None:
    """Record when each object first appears (or first shows ``status.phase == want_phase``)."""
    async with session.get(
        url,
        params={"watch": "1", "allowWatchBookmarks": "false"},
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    ) as response:
        ready.set()
        async for line in response.content:
            if not line.strip():
                continue
            event = json.loads(line)
            obj = event.get("object") or {}
            name = (obj.get("metadata") or {}).get("name")
            labels = (obj.get("metadata") or {}).get("labels") or {}
            key = labels.get("kubetask.dev/taskrun", name) if want_phase is None else name
            if key is None or key in seen:
                continue
            if want_phase is None or (obj.get("status") or {}).get("phase") == want_phase:
                seen[key] = time.monotonic()


class RssSampler:
    """The peak and current RSS of one process, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def current(self) -> int:
        return int(self._process.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.current())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _operator_round(cluster: Cluster, names: list[str], timeout: float) -> dict[str, float]:
    api = cluster.api_url
    pods: dict[str, float] = {}
    succeeded: dict[str, float] = {}
    async with cluster_session(cluster) as session:
        ready_pods, ready_runs = asyncio.Event(), asyncio.Event()
        watchers = [
            asyncio.create_task(
                _watch(
                    session,
                    f"{api}/api/v1/namespaces/{NAMESPACE}/pods",
                    pods,
                    want_phase=None,
                    ready=ready_pods,
                )
            ),
            asyncio.create_task(
                _watch(session, api + TASKRUNS, succeeded, want_phase="Succeeded", ready=ready_runs)
            ),
        ]
        await asyncio.wait_for(asyncio.gather(ready_pods.wait(), ready_runs.wait()), 10)
        started = time.monotonic()
        created = await _create_all(session, api, names)
        deadline = time.monotonic() + timeout
        while len([n for n in names if n in succeeded]) < len(names):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {len(succeeded)} of {len(names)} TaskRuns Succeeded in {timeout:g}s"
                )
            await asyncio.sleep(0.05)
        finished = max(succeeded[n] for n in names)
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    return {
        "rate": len(names) / (finished - started),
        "pod_p50": _percentile([pods[n] - created[n] for n in names], 0.5),
        "pod_p99": _percentile([pods[n] - created[n] for n in names], 0.99),
        "done_p50": _percentile([succeeded[n] - created[n] for n in names], 0.5),
        "done_p99": _percentile([succeeded[n] - created[n] for n in names], 0.99),
    }


async def _capacity_round(cluster: Cluster, names: list[str]) -> float:
    """A plain client doing the same work with the fewest calls: create each TaskRun's pod, and when the pod
    has succeeded (one watch on the pods), write the TaskRun's final status once."""
    api = cluster.api_url
    settings = Settings()
    done = {name: asyncio.Event() for name in names}
    async with cluster_session(cluster) as session:

        async def on_pod(obj: dict[str, Any]) -> None:
            name = ((obj.get("metadata") or {}).get("labels") or {}).get("kubetask.dev/taskrun")
            if name in done and (obj.get("status") or {}).get("phase") == "Succeeded":
                done[name].set()

        ready = asyncio.Event()
        watcher = asyncio.create_task(
            _watch_events(session, f"{api}/api/v1/namespaces/{NAMESPACE}/pods", on_pod, ready)
        )
        await asyncio.wait_for(ready.wait(), 10)
        started = time.monotonic()
        uids = await _create_all(session, api, names, keep="uid")
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(name: str) -> None:
            ref = TaskRunRef(name=name, namespace=NAMESPACE, uid=str(uids[name]))
            pod = build_pod(parse_spec(_taskrun(name)["spec"]), ref, settings, 1)
            pod["metadata"]["labels"].pop("app.kubernetes.io/managed-by")
            status = {
                "status": {"phase": "Succeeded", "podName": pod_name(name, ref.uid, 1), "outputs": {"o0": 3}}
            }
            async with limit:
                await _post(session, f"{api}/api/v1/namespaces/{NAMESPACE}/pods", pod)
            await done[name].wait()
            async with (
                limit,
                session.patch(
                    f"{api}{TASKRUNS}/{name}/status",
                    json=status,
                    headers={"Content-Type": "application/merge-patch+json"},
                ) as answer,
            ):
                if answer.status >= 300:
                    raise RuntimeError(f"status write answered {answer.status}")

        await asyncio.gather(*(one(name) for name in names))
        rate = len(names) / (time.monotonic() - started)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        return rate


def _fresh_cluster(directory: Path, *, operator: bool) -> Cluster:
    cluster = start_local_cluster(directory, operator=operator)
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    cluster.set_fast_mode(exit_code=0, termination_message=SUMMARY)
    return cluster


def _stop(cluster: Cluster) -> None:
    if cluster.process is not None:
        cluster.process.stop()


def _operator_pid(cluster: Cluster, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cluster.admin("GET", "operator")
        if state.get("running") and state.get("pid"):
            time.sleep(1.0)  # let kopf finish its startup (login, discovery, watches)
            return int(state["pid"])
        time.sleep(0.1)
    raise RuntimeError("the operator did not start")


def run_once(workdir: Path, *, taskruns: int, rounds: int, timeout: float) -> dict[str, Any]:
    cluster = _fresh_cluster(workdir / "operator", operator=True)
    try:
        operator_pid = _operator_pid(cluster)
        sampler = RssSampler(operator_pid)
        idle_rss = sampler.current()
        assert cluster.process is not None
        processes = [psutil.Process(operator_pid), psutil.Process(cluster.process.popen.pid)]
        cpu_before = [sum(p.cpu_times()[:2]) for p in processes]
        results, rss_after = [], []
        for number in range(rounds):
            names = [f"r{number}-{i:05d}" for i in range(taskruns)]
            results.append(asyncio.run(_operator_round(cluster, names, timeout)))
            time.sleep(12.0)  # let kopf's idle workers exit and the operator drop finished runs' memories
            rss_after.append(sampler.current())
        sampler.stop()
        peak = sampler.peak
        cpu = [sum(p.cpu_times()[:2]) - before for p, before in zip(processes, cpu_before, strict=True)]
    finally:
        _stop(cluster)
    baseline = _fresh_cluster(workdir / "capacity", operator=False)
    try:
        capacity = asyncio.run(_capacity_round(baseline, [f"c-{i:05d}" for i in range(taskruns)]))
    finally:
        _stop(baseline)
    first = results[0]
    return {
        **first,
        "capacity": capacity,
        "idle_rss": idle_rss,
        "peak_rss": peak,
        "rss_after": rss_after,
        "operator_cpu": cpu[0] / (rounds * taskruns) * 1000,
        "cluster_cpu": cpu[1] / (rounds * taskruns) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taskruns", type=int, default=1000, help="TaskRuns per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds on one cluster, finished runs kept (3)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh clusters to take medians over (3)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a round may take (600)")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="kubetask-bench-") as directory:
        for number in range(args.repeat):
            run = run_once(
                Path(directory) / str(number),
                taskruns=args.taskruns,
                rounds=args.rounds,
                timeout=args.timeout,
            )
            mib = [f"{rss / 2**20:.0f}" for rss in run["rss_after"]]
            print(
                f"run {number + 1}: operator {run['rate']:.1f} TaskRuns/s, capacity {run['capacity']:.1f}/s, "
                f"RSS idle {run['idle_rss'] / 2**20:.0f} MiB, after each round {' / '.join(mib)} MiB, "
                f"peak {run['peak_rss'] / 2**20:.0f} MiB",
                flush=True,
            )
            runs.append(run)

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    rate, capacity = median("rate"), median("capacity")
    steady = 1 if args.rounds > 2 else 0  # round 1 also grows the allocator's high-water mark: skip it
    growth = statistics.median((run["rss_after"][-1] - run["rss_after"][steady]) / 2**20 for run in runs)
    print(f"\n{args.taskruns} TaskRuns created at once, node in fast mode, medians of {args.repeat} runs:")
    print(f"  operator:  {rate:8.1f} TaskRuns/s to Succeeded")
    print(f"  capacity:  {capacity:8.1f} TaskRuns/s (plain client: pod, then status once it succeeded)")
    print(f"  ratio:     {rate / capacity:8.2f} (aim: >= 0.5)")
    print(
        f"  CPU per TaskRun: operator {median('operator_cpu'):.1f} ms, "
        f"local cluster (API server + node) {median('cluster_cpu'):.1f} ms"
    )
    print(f"  creation -> pod:       p50 {median('pod_p50'):.2f}s  p99 {median('pod_p99'):.2f}s")
    print(f"  creation -> Succeeded: p50 {median('done_p50'):.2f}s  p99 {median('done_p99'):.2f}s")
    print(
        f"  operator RSS: idle {median('idle_rss') / 2**20:.0f} MiB, "
        f"peak {median('peak_rss') / 2**20:.0f} MiB, "
        f"growth from round {steady + 1} to round {args.rounds} {growth:+.1f} MiB with finished TaskRuns kept"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
