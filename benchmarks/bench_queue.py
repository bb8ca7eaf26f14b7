"""What a TaskQueue's admission costs the operator in-process, with 10, 1,000 and 10,000 runs waiting.

    .venv/bin/python benchmarks/bench_queue.py [--sizes 10 1000 10000] [--repeat 5] [--max-running 4]

About 12 minutes on a loaded 2-core machine (the scan side at 10,000 is the slow part).

Two sides do the controller's queue work for the same runs, interleaved (load hits both alike):

- scan + sorted(): what the controller did before the index: every event and every run's look rebuilds the
  queue's members from all the runs it holds (``member_of`` over each TaskRun) and ``decide()`` sorts the
  waiting ones; a freed slot wakes the admitted run (and, in a line of at most 100, every waiting run).
- index: ``QueueIndex`` (``_queue_index``), what the controller does now: each change is one O(log n) update,
  a run's place is its rank, a wake names the admitted runs and the first 100 places whose message changed
  (each of those looks once; counted at every admission here, with no batching over a second).

Figures (medians over ``--repeat`` fresh queues):

- per event: a run joining the line, looking for its place (its first reconcile) and being cancelled (its
  place freed), per event of the three; and a waiting run's own periodic look; in microseconds;
- admissions/s: with ``--max-running`` runs holding every slot, one finishes, the next is admitted (the
  wake, its own look, its admission written, the TaskQueue's counts, the refreshed places), repeated;
- admissions/s with the fresh listing's check: the same plus the check every admission makes on the
  namespace's TaskRuns as a listing gives them (the HTTP request itself not included): ``decide()`` on the
  listing before, ``verdict_of`` (one pass, no sort) now. This check is O(n) on both sides by design.

In-process only: the local cluster's figures for queued runs are those of ``bench_map.py`` (each item passes
the same code). The speed-up is the scan's time over the index's for the same work.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from kubetask_operator._queue_index import QueueIndex
from kubetask_operator._queue_plan import Verdict, counts, decide, member_of, queue_of, verdict_of

NAMESPACE = "bench"
QUEUE = "gpu"
HEAD = 100  # the controller's _QUEUE_REFRESH_HEAD


def _stamp(second: int) -> str:
    return f"2026-01-01T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"


def _taskrun(name: str, created: int, *, priority: int = 0, admitted: bool = False) -> dict[str, Any]:
    status: dict[str, Any] = (
        {"phase": "Running", "admittedAt": _stamp(created)}
        if admitted
        else {
            "phase": "Queued",
            "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Queued", "message": "..."}],
        }
    )
    return {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": name, "namespace": NAMESPACE, "creationTimestamp": _stamp(created), "uid": name},
        "spec": {"image": "python:3.12", "task": {"module": "m", "name": "t"}, "queue": QUEUE,
                 "priority": priority},
        "status": status,
    }  # fmt: skip


@dataclasses.dataclass
class Runs:
    """The TaskRuns the operator holds, as the watch gave them (by name), and who holds a slot."""

    bodies: dict[str, dict[str, Any]]
    running: list[str]
    next_serial: int
    finished: dict[str, Any] | None = None

    @classmethod
    def fresh(cls, waiting: int, max_running: int) -> Runs:
        bodies = {f"run{i}": _taskrun(f"run{i}", i, admitted=True) for i in range(max_running)}
        for i in range(waiting):
            name = f"w{i:06d}"
            bodies[name] = _taskrun(name, 1000 + i, priority=5 if i % 97 == 0 else 0)
        return cls(bodies, [f"run{i}" for i in range(max_running)], waiting)

    def finish(self) -> str:
        name = self.running.pop(0)
        body = self.bodies.pop(name)
        body["status"] = {**body["status"], "phase": "Succeeded"}
        self.finished = body  # its last watch event
        return name

    def admit(self, name: str) -> None:
        self.bodies[name]["status"] = {"phase": "Pending", "admittedAt": _stamp(0)}
        self.running.append(name)

    def join(self) -> str:
        self.next_serial += 1
        name = f"late{self.next_serial}"
        self.bodies[name] = _taskrun(name, 100_000 + self.next_serial, priority=self.next_serial % 3)
        return name


class ScanSide:
    """The controller before the index: members scanned from every run, decide() sorting them."""

    def __init__(self, runs: Runs, max_running: int, *, listing: bool) -> None:
        self.runs = runs
        self.max_running = max_running
        self.listing = listing

    def members(self) -> list[Any]:  # _queue_members: every run held, filtered to the queue
        return [member_of(body) for body in self.runs.bodies.values() if queue_of(body) == QUEUE]

    def look(self, name: str) -> Verdict | None:  # a run's reconcile: its verdict from the cache
        return decide(QUEUE, self.max_running, self.members()).get(name)

    def admit_next(self) -> None:
        self.runs.finish()
        verdicts = decide(QUEUE, self.max_running, self.members())  # _wake_queue
        every = len(verdicts) <= HEAD
        for name, verdict in verdicts.items():
            if verdict.admit:
                own = self.look(name)
                if self.listing:  # the fresh listing's check: decide() on it
                    listed = [member_of(body) for body in self.runs.bodies.values()]
                    own = decide(QUEUE, self.max_running, listed).get(name)
                assert own is not None
                assert own.admit
                self.runs.admit(name)
                counts(self.members())  # _report_queue
            elif every:
                self.look(name)  # woken to say its new place

    def join_look_leave(self) -> None:
        name = self.runs.join()
        self.look(name)
        del self.runs.bodies[name]  # cancelled: deleted, its place freed
        decide(QUEUE, self.max_running, self.members())  # _wake_queue


class IndexSide:
    """The controller now: the index updated per change, a run's verdict its rank."""

    def __init__(self, runs: Runs, max_running: int, *, listing: bool) -> None:
        self.runs = runs
        self.max_running = max_running
        self.listing = listing
        self.index = QueueIndex()
        for name in runs.bodies:
            self.update(name)
        self.index.line(NAMESPACE, QUEUE).wake(max_running, head=HEAD)

    def update(self, name: str, body: dict[str, Any] | None = None) -> list[str]:  # _index_queue
        body = body if body is not None else self.runs.bodies.get(name)
        member = member_of(body) if body is not None else None
        woken: list[str] = []
        for _ in self.index.update((NAMESPACE, name), QUEUE, member):
            admit, refresh = self.index.line(NAMESPACE, QUEUE).wake(self.max_running, head=HEAD)
            woken += admit + refresh
        return woken

    def look(self, name: str) -> Verdict | None:
        self.update(name)
        return self.index.line(NAMESPACE, QUEUE).verdict(QUEUE, self.max_running, name)

    def admit_next(self) -> None:
        finished = self.runs.finish()
        woken = self.update(finished, self.runs.finished)
        line = self.index.line(NAMESPACE, QUEUE)
        for name in woken:
            own = self.look(name)
            if own is None or not own.admit:
                continue  # told its new place
            if self.listing:  # the fresh listing's check: one pass, no sort
                listed = [member_of(body) for body in self.runs.bodies.values()]
                own = verdict_of(QUEUE, self.max_running, listed, name)
            assert own is not None
            assert own.admit
            self.runs.admit(name)
            for refreshed in self.update(name):
                self.look(refreshed)
            line.counts()

    def join_look_leave(self) -> None:
        name = self.runs.join()
        self.look(name)
        del self.runs.bodies[name]  # cancelled: deleted, its place freed
        self.update(name)


def _timed(function: Callable[[], object], times: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(times):
        function()
    return (time.perf_counter() - started) / times


def _timed_admissions(
    side: type[ScanSide | IndexSide], waiting: int, limit: int, *, listing: bool, admissions: int
) -> float:
    """Seconds per admission: ``admissions`` in a row from a fresh queue, over fresh queues until at least 100
    were timed (a short line drains in a few: one round would time a few milliseconds)."""
    total, done = 0.0, 0
    while done < 100:
        queue = side(Runs.fresh(waiting, limit), limit, listing=listing)
        total += _timed(queue.admit_next, admissions) * admissions
        done += admissions
    return total / done


def _agree(waiting: int, max_running: int) -> None:
    """Both sides admit the same runs in the same order and give the same verdicts (they do the same job)."""
    scan = ScanSide(Runs.fresh(waiting, max_running), max_running, listing=True)
    index = IndexSide(Runs.fresh(waiting, max_running), max_running, listing=True)
    for _ in range(min(waiting, 20)):
        scan.admit_next()
        index.admit_next()
        assert scan.runs.running == index.runs.running
    for name in list(scan.runs.bodies)[-5:]:
        assert scan.look(name) == index.look(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 10_000])
    parser.add_argument(
        "--repeat", type=int, default=5, help="fresh queues per figure (default: %(default)s)"
    )
    parser.add_argument("--max-running", type=int, default=4, help="the TaskQueue's maxRunning")
    arguments = parser.parse_args()
    limit = arguments.max_running

    print(
        f"TaskQueue maxRunning {limit}, {arguments.repeat} fresh queues per figure (medians), "
        f"Python {sys.version.split()[0]}; speed-up = scan's time / the index's"
    )
    header = f"{'waiting':>8s} {'figure':38s} {'scan + sorted()':>16s} {'index':>12s} {'speed-up':>10s}"
    print(header)
    print("-" * len(header))
    for waiting in arguments.sizes:
        _agree(waiting, limit)
        events = max(5, min(200, 200_000 // max(waiting, 1)))  # enough to time, little for the slow side
        admissions = min(waiting, events)  # each admits the next waiting run: a line of n drains in n
        figures: dict[str, dict[str, list[float]]] = {}
        for _ in range(arguments.repeat):
            for side_name, side in (("scan", ScanSide), ("index", IndexSide)):
                rows = figures.setdefault(side_name, {})
                runs = side(Runs.fresh(waiting, limit), limit, listing=False)
                rows.setdefault("join", []).append(_timed(runs.join_look_leave, events) / 3)
                waiter = f"w{waiting // 2:06d}"
                rows.setdefault("look", []).append(_timed(lambda r=runs, w=waiter: r.look(w), events))
                for key, listing in (("admit", False), ("admit+listing", True)):
                    rows.setdefault(key, []).append(
                        _timed_admissions(side, waiting, limit, listing=listing, admissions=admissions)
                    )
        for key, label, rate in (
            ("join", "per event: join, look, cancel (us)", False),
            ("look", "per event: a waiting run looks (us)", False),
            ("admit", "admissions/s", True),
            ("admit+listing", "admissions/s with the listing check", True),
        ):
            scan, index = (statistics.median(figures[side][key]) for side in ("scan", "index"))
            shown = (1 / scan, 1 / index) if rate else (scan * 1e6, index * 1e6)
            print(f"{waiting:>8d} {label:38s} {shown[0]:16,.1f} {shown[1]:12,.1f} {scan / index:9,.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
