"""Memory limits of the local node's containers: one ``/proc`` scan per interval for all of them.

Each container with ``resources.limits.memory`` runs as its own process group; the monitor sums the resident
memory of every group it watches in a single pass over ``/proc`` (Linux) and calls the group's callback when
it exceeds its limit (the container then gets SIGKILL and is reported ``OOMKilled``, exit code 137, as after
the kernel's cgroup OOM killer). One shared pass keeps the cost flat however many pods run.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Collection
from pathlib import Path

logger = logging.getLogger("kubetask_local.node")

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_by_group(groups: Collection[int], *, proc: Path = Path("/proc")) -> dict[int, int]:
    """Resident bytes of every process group in ``groups`` (empty when /proc is unavailable)."""
    totals = dict.fromkeys(groups, 0)
    try:
        entries = list(proc.iterdir())
    except OSError:
        return {}
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            group = int(stat[stat.rfind(")") + 2 :].split()[2])  # after the command: state, ppid, pgrp
            if group in totals:
                totals[group] += int((entry / "statm").read_text().split()[1]) * _PAGE_SIZE
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
    return totals


class MemoryMonitor:
    """Watches process groups against memory limits; its scanning task runs only while one is watched."""

    def __init__(self, *, interval: float = 0.1) -> None:
        self.interval = interval
        self._watches: dict[int, tuple[int, Callable[[], None]]] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, group: int, *, limit: int, exceeded: Callable[[], None]) -> None:
        self._watches[group] = (limit, exceeded)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._scan(), name="kubetask-node-memory")

    def unwatch(self, group: int) -> None:
        self._watches.pop(group, None)

    async def _scan(self) -> None:
        while self._watches:
            usage = await asyncio.to_thread(rss_by_group, set(self._watches))
            for group, used in usage.items():
                watched = self._watches.get(group)
                if watched is not None and used > watched[0]:
                    self.unwatch(group)
                    logger.info(
                        "process group %d uses %d bytes, over its limit of %d", group, used, watched[0]
                    )
                    watched[1]()
            await asyncio.sleep(self.interval)
