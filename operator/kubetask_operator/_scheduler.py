"""Time-based wake-ups (backoff, pendingTimeout, timeout, image-pull grace, TTL) without kopf timers.

kopf timers and daemons put a finalizer on every object, which blocks deleting a TaskRun while the operator
is down. These wake-ups live only in memory instead, and that is safe: at startup the watch lists every
TaskRun, each is planned again, and each plan says when to look next.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Hashable

from kubetask_operator._times import utcnow

logger = logging.getLogger("kubetask_operator.scheduler")


class Scheduler:
    """Calls ``callback(key)`` once at the moment last scheduled for ``key`` (a later call replaces it)."""

    def __init__(
        self,
        callback: Callable[[Hashable], Awaitable[None]],
        *,
        idle_interval: float = 30.0,
        on_idle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._callback = callback
        self._heap: list[tuple[datetime.datetime, int, Hashable]] = []
        self._due: dict[Hashable, tuple[datetime.datetime, int]] = {}
        self._counter = itertools.count()
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle_interval = idle_interval
        self._on_idle = on_idle
        self.failures = 0

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, key: Hashable, when: datetime.datetime) -> None:
        current = self._due.get(key)
        if current is not None and current[0] == when:
            return
        entry = (when, next(self._counter))
        self._due[key] = entry
        heapq.heappush(self._heap, (*entry, key))
        if self._heap[0][1] == entry[1]:
            self._changed.set()

    def cancel(self, key: Hashable) -> None:
        self._due.pop(key, None)  # its heap entry is skipped when it comes up

    def when(self, key: Hashable) -> datetime.datetime | None:
        entry = self._due.get(key)
        return entry[0] if entry is not None else None

    async def run(self) -> None:
        """Fire due wake-ups until cancelled; nothing short of cancellation ends this loop."""
        while True:
            try:
                timeout = self._fire_due()
            except Exception:  # a bug here must not stop every backoff, timeout and TTL for good
                self.failures += 1
                logger.exception("the scheduler failed to fire wake-ups; it carries on")
                timeout = 1.0
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=timeout)
            if self._on_idle is not None:
                await self._guarded(self._on_idle(), "housekeeping")

    def _fire_due(self) -> float:
        """Start the callbacks of every due wake-up; the seconds until the next one (at most the idle
        interval)."""
        now = utcnow()
        while self._heap and self._heap[0][0] <= now:
            when, number, key = heapq.heappop(self._heap)
            if self._due.get(key) != (when, number):
                continue  # replaced or cancelled
            del self._due[key]
            task = asyncio.create_task(self._fire(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if len(self._heap) > 2 * len(self._due) + 1024:  # drop replaced entries so memory stays flat
            self._heap = [(w, n, k) for w, n, k in self._heap if self._due.get(k) == (w, n)]
            heapq.heapify(self._heap)
        timeout = self._idle_interval
        if self._heap:
            timeout = min(timeout, max((self._heap[0][0] - now).total_seconds(), 0.0) + 0.01)
        return timeout

    async def _guarded(self, work: Awaitable[None], what: str) -> None:
        # The loop must outlive any one callback: when it ends, every backoff, timeout and TTL stops.
        try:
            await work
        except Exception:
            self.failures += 1
            if self.failures == 1:
                logger.exception("%s failed; the scheduler carries on", what)
            else:  # one traceback is enough; a failure that repeats every loop must not flood the log
                logger.warning(
                    "%s failed (%d failures so far); the scheduler carries on", what, self.failures
                )

    async def _fire(self, key: Hashable) -> None:
        await self._guarded(self._callback(key), f"wake-up of {key!r}")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
