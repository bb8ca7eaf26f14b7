"""What a TaskMap costs: a map of N items to all Succeeded on the local cluster, beside the API's capacity.

    .venv/bin/python benchmarks/bench_map.py [--items 10000] [--parallelism 100] [--repeat 3]

Each repeat starts a fresh local cluster (``kubetask dev``) whose node completes pods at once (fast mode),
then:

- map: one TaskMap of N items with ``--parallelism``; from watch streams opened before it is created:
  items/s from its creation to the last item Succeeded; the time from a slot freeing to the next item's
  pod (with at most P unfinished, the (P+k)-th pod can only start once k items have finished: the k-th
  Succeeded in time order frees the slot of the (P+k)-th pod in creation order), p50/p99, split into the
  map controller's part (slot freed -> the next item's TaskRun) and the TaskRun controller's (an item's
  TaskRun -> its pod); the operator process's peak RSS (sampled every 0.1 s) while the map runs and once
  it ended with its N items kept;
- capacity: a second cluster without the operator, and a plain client doing the same work with the fewest
  calls and the same limit: at most P items in flight, each creates its TaskRun and its pod, waits for the
  pod to succeed (one watch) and writes the TaskRun's final status once: the API's own items/s for that work.

The figures are medians over the repeats; the ratio map/capacity shows what the controller costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_operator import (
    CONCURRENCY,
    NAMESPACE,
    TASKRUNS,
    RssSampler,
    _fresh_cluster,
    _operator_pid,
    _percentile,
    _post,
    _stop,
    _taskrun,
    _watch,
    _watch_events,
    cluster_session,
)
from kubetask_local.testing import Cluster
from kubetask_operator._naming import pod_name
from kubetask_operator._pods import TaskRunRef, build_pod
from kubetask_operator._settings import Settings
from kubetask_operator._spec import parse_spec

TASKMAPS = f"/apis/kubetask.dev/v1alpha1/namespaces/{NAMESPACE}/taskmaps"
MAP_NAME = "bench"


def _taskmap(items: int, parallelism: int) -> dict[str, Any]:
    template = _taskrun("unused")["spec"]
    return {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskMap",
        "metadata": {"name": MAP_NAME},
        "spec": {
            "image": template["image"],
            "task": template["task"],
            "inputs": {"a": 1},
            "items": [{"b": index} for index in range(items)],
            "parallelism": parallelism,
        },
    }


def _slot_latencies(pods: dict[str, float], succeeded: dict[str, float], parallelism: int) -> list[float]:
    """From the k-th item to finish to the (P+k)-th pod created."""
    started = sorted(pods.values())
    finished = sorted(succeeded.values())
    return [started[parallelism + k] - finished[k] for k in range(len(started) - parallelism)]


async def _map_round(cluster: Cluster, items: int, parallelism: int, timeout: float) -> dict[str, float]:
    api = cluster.api_url
    pods: dict[str, float] = {}
    created: dict[str, float] = {}
    succeeded: dict[str, float] = {}
    async with cluster_session(cluster) as session:

        async def on_taskrun(obj: dict[str, Any]) -> None:
            # One watch of the TaskRuns, as before the breakdown: when each appears, when it Succeeded.
            name = str((obj.get("metadata") or {}).get("name"))
            now = time.monotonic()
            created.setdefault(name, now)
            if (obj.get("status") or {}).get("phase") == "Succeeded":
                succeeded.setdefault(name, now)

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
            asyncio.create_task(_watch_events(session, api + TASKRUNS, on_taskrun, ready_runs)),
        ]
        await asyncio.wait_for(asyncio.gather(ready_pods.wait(), ready_runs.wait()), 10)
        started = time.monotonic()
        await _post(session, api + TASKMAPS, _taskmap(items, parallelism))
        deadline = time.monotonic() + timeout
        while len(succeeded) < items:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(succeeded)} of {items} items Succeeded in {timeout:g}s")
            await asyncio.sleep(0.1)
        finished = max(succeeded.values())
        while True:  # the map's own end (its outputs collected, its status final)
            async with session.get(f"{api}{TASKMAPS}/{MAP_NAME}") as answer:
                phase = ((await answer.json()).get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the map is still {phase} after its items all Succeeded")
            await asyncio.sleep(0.2)
        map_done = time.monotonic()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    latencies = _slot_latencies(pods, succeeded, parallelism)
    # Where the time goes: the map controller (slot freed -> the next item's TaskRun) and the TaskRun
    # controller (an item's TaskRun -> its pod).
    to_taskrun = _slot_latencies(created, succeeded, parallelism)
    to_pod = [pods[name] - created[name] for name in pods if name in created]
    return {
        "taskrun_p50": _percentile(to_taskrun, 0.5),
        "taskrun_p99": _percentile(to_taskrun, 0.99),
        "pod_p50": _percentile(to_pod, 0.5),
        "pod_p99": _percentile(to_pod, 0.99),
        "rate": items / (finished - started),
        "map_end": map_done - finished,
        "slot_p50": _percentile(latencies, 0.5),
        "slot_p99": _percentile(latencies, 0.99),
        "phase_ok": 1.0 if phase == "Succeeded" else 0.0,
    }


async def _capacity_round(cluster: Cluster, items: int, parallelism: int) -> tuple[float, float]:
    """At most ``parallelism`` items in flight, each: TaskRun, pod, wait for the pod, final status once.
    Returns the items/s and the p99 time from a slot freeing (a status written) to the next pod."""
    api = cluster.api_url
    settings = Settings()
    names = [f"{MAP_NAME}-{index}" for index in range(items)]
    done = {name: asyncio.Event() for name in names}
    pods: dict[str, float] = {}
    finished: dict[str, float] = {}
    async with cluster_session(cluster, limit=CONCURRENCY) as session:

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
        slots = asyncio.Semaphore(parallelism)

        async def one(name: str) -> None:
            async with slots:
                created = await _post(session, api + TASKRUNS, _taskrun(name))
                ref = TaskRunRef(name=name, namespace=NAMESPACE, uid=str(created["metadata"]["uid"]))
                pod = build_pod(parse_spec(_taskrun(name)["spec"]), ref, settings, 1)
                pod["metadata"]["labels"].pop("app.kubernetes.io/managed-by")
                await _post(session, f"{api}/api/v1/namespaces/{NAMESPACE}/pods", pod)
                pods[name] = time.monotonic()
                await done[name].wait()
                status = {
                    "status": {
                        "phase": "Succeeded",
                        "podName": pod_name(name, ref.uid, 1),
                        "outputs": {"o0": 3},
                    }
                }
                async with session.patch(
                    f"{api}{TASKRUNS}/{name}/status",
                    json=status,
                    headers={"Content-Type": "application/merge-patch+json"},
                ) as answer:
                    if answer.status >= 300:
                        raise RuntimeError(f"status write answered {answer.status}")
                finished[name] = time.monotonic()

        await asyncio.gather(*(one(name) for name in names))
        rate = items / (time.monotonic() - started)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        return rate, _percentile(_slot_latencies(pods, finished, parallelism), 0.99)


def run_once(workdir: Path, *, items: int, parallelism: int, timeout: float) -> dict[str, Any]:
    cluster = _fresh_cluster(workdir / "operator", operator=True)
    try:
        sampler = RssSampler(_operator_pid(cluster))
        idle_rss = sampler.current()
        result = asyncio.run(_map_round(cluster, items, parallelism, timeout))
        time.sleep(12.0)  # let kopf's idle workers exit, as in bench_operator
        kept_rss = sampler.current()
        sampler.stop()
        peak = sampler.peak
    finally:
        _stop(cluster)
    baseline = _fresh_cluster(workdir / "capacity", operator=False)
    try:
        capacity, capacity_slot_p99 = asyncio.run(_capacity_round(baseline, items, parallelism))
    finally:
        _stop(baseline)
    return {
        **result,
        "capacity": capacity,
        "capacity_slot_p99": capacity_slot_p99,
        "idle_rss": idle_rss,
        "kept_rss": kept_rss,
        "peak_rss": peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000, help="items of the map (default 10000)")
    parser.add_argument("--parallelism", type=int, default=100, help="the map's parallelism (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh clusters to take medians over (3)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a map may take (1800)")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="kubetask-bench-map-") as directory:
        for number in range(args.repeat):
            run = run_once(
                Path(directory) / str(number),
                items=args.items,
                parallelism=args.parallelism,
                timeout=args.timeout,
            )
            print(
                f"run {number + 1}: map {run['rate']:.1f} items/s, capacity {run['capacity']:.1f}/s, "
                f"slot -> next pod p50 {run['slot_p50']:.2f}s p99 {run['slot_p99']:.2f}s "
                f"(-> TaskRun p99 {run['taskrun_p99']:.2f}s, TaskRun -> pod p99 {run['pod_p99']:.2f}s), "
                f"RSS idle {run['idle_rss'] / 2**20:.0f} MiB, peak {run['peak_rss'] / 2**20:.0f} MiB, "
                f"with the items kept {run['kept_rss'] / 2**20:.0f} MiB",
                flush=True,
            )
            runs.append(run)

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    rate, capacity = median("rate"), median("capacity")
    print(
        f"\nTaskMap of {args.items} items, parallelism {args.parallelism}, node in fast mode, "
        f"medians of {args.repeat} runs:"
    )
    print(f"  map:       {rate:8.1f} items/s to all Succeeded")
    print(f"  capacity:  {capacity:8.1f} items/s (plain client, same limit: TaskRun, pod, status once done)")
    print(f"  ratio:     {rate / capacity:8.2f}")
    print(
        f"  slot freed -> next item's pod: p50 {median('slot_p50'):.2f}s  p99 {median('slot_p99'):.2f}s "
        f"(plain client: p99 {median('capacity_slot_p99'):.2f}s)"
    )
    print(
        f"    of which slot freed -> next item's TaskRun: p50 {median('taskrun_p50'):.2f}s "
        f"p99 {median('taskrun_p99'):.2f}s; an item's TaskRun -> its pod: p50 {median('pod_p50'):.2f}s "
        f"p99 {median('pod_p99'):.2f}s"
    )
    print(f"  last item Succeeded -> map Succeeded (outputs collected): {median('map_end'):.2f}s")
    print(
        f"  operator RSS: idle {median('idle_rss') / 2**20:.0f} MiB, "
        f"peak {median('peak_rss') / 2**20:.0f} MiB, "
        f"after the map with its {args.items} items kept {median('kept_rss') / 2**20:.0f} MiB (aim < 150)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
