"""Memory limits of the local node's containers: one ``/proc`` scan per interval for all of them.

Each container runs under its own shim, which keeps every process the container starts in its subtree; the
monitor sums the resident memory of each watched shim's descendants in a single pass over ``/proc`` (Linux)
and calls the container's callback when it exceeds its limit (the container is then killed and reported
``OOMKilled``, exit code 137, as after the kernel's cgroup OOM killer). One shared pass keeps the cost
flat however many pods run.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Collection
from pathlib import Path

logger = logging.getLogger("kubetask_local.node")

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_of_descendants(roots: Collection[int], *, proc: Path = Path("/proc")) -> dict[int, int]:
    """Resident bytes of every descendant of each root in ``roots``, the root itself not counted (it is the
    container's shim, whose memory a runtime's shim does not charge to the container's cgroup either); empty
    when /proc is unavailable."""
    try:
        entries = list(proc.iterdir())
    except OSError:
        return {}
    children: dict[int, list[int]] = {}
    resident: dict[int, int] = {}
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rfind(")") + 2 :].split()[1])  # after the command: state, ppid
            resident[int(entry.name)] = int((entry / "statm").read_text().split()[1]) * _PAGE_SIZE
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
        children.setdefault(parent, []).append(int(entry.name))
    totals: dict[int, int] = {}
    for root in roots:
        total, pending = 0, list(children.get(root, []))
        while pending:
            pid = pending.pop()
            total += resident.get(pid, 0)
            pending.extend(children.get(pid, []))
        totals[root] = total
    return totals


class MemoryMonitor:
    """Watches containers (by their shim's pid) against memory limits; its scanning task runs only while
    one is watched."""

    def __init__(self, *, interval: float = 0.1) -> None:
        self.interval = interval
        self._watches: dict[int, tuple[int, Callable[[], None]]] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, shim: int, *, limit: int, exceeded: Callable[[], None]) -> None:
        self._watches[shim] = (limit, exceeded)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._scan(), name="kubetask-node-memory")

    def unwatch(self, shim: int) -> None:
        self._watches.pop(shim, None)

    async def _scan(self) -> None:
        while self._watches:
            usage = await asyncio.to_thread(rss_of_descendants, set(self._watches))
            for group, used in usage.items():
                watched = self._watches.get(group)
                if watched is not None and used > watched[0]:
                    self.unwatch(group)
                    logger.info(
                        "container under shim %d uses %d bytes, over its limit of %d", group, used, watched[0]
                    )
                    watched[1]()
            await asyncio.sleep(self.interval)
