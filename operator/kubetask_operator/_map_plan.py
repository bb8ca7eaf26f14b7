"""What a TaskMap should do next, decided without I/O from its spec and the phases of its items.

``ItemTally`` keeps the items' phases as the watch reports them, with running counts so that a map of
10,000 items costs O(1) per event rather than a scan; ``decide_map`` turns a tally and the map's spec into
the items to create, the items to cancel and the map's status. Both are pure and table-tested; the I/O around
them is ``_maps.py``.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from kubetask_api import (
    CANCELLED,
    FAILED,
    FINAL_PHASES,
    PENDING,
    REASON_CACHED,
    REASON_ITEMS_SUCCEEDED,
    REASON_MAP_CANCELLED,
    REASON_TOO_MANY_FAILED,
    RETRYING,
    RUNNING,
    SUCCEEDED,
    compress_indexes,
    succeeded_condition,
)

DEFAULT_PARALLELISM = 10  # the CRD's default, for maps written before it had one
REASON_RUNNING = "Running"
REASON_CANCELLING = "Cancelling"
REASON_FAILING = "FailingItems"


@dataclasses.dataclass(frozen=True)
class MapLimits:
    """The parts of a TaskMap's spec that steer its items."""

    total: int
    parallelism: int = DEFAULT_PARALLELISM
    max_failed: int = 0
    cancelled: bool = False

    @classmethod
    def of(cls, spec: Mapping[str, Any], *, total: int) -> MapLimits:
        parallelism = spec.get("parallelism")
        max_failed = spec.get("maxFailedItems")
        return cls(
            total=total,
            parallelism=parallelism
            if isinstance(parallelism, int) and parallelism > 0
            else DEFAULT_PARALLELISM,
            max_failed=max_failed if isinstance(max_failed, int) and max_failed >= 0 else 0,
            cancelled=spec.get("cancelled") is True,
        )


class ItemTally:
    """The phase of every item whose TaskRun exists, by index, with the counts the decisions need.

    Each item also keeps the resourceVersion it was last seen at, so an older report (a watch event
    delivered after a fresher listing) never overwrites a newer one.
    """

    def __init__(self) -> None:
        self._phases: dict[int, str] = {}
        self._versions: dict[int, int] = {}
        self._counts: collections.Counter[str] = collections.Counter()
        self._unfinished: set[int] = set()
        self._failed: set[int] = set()
        self._cached: set[int] = set()  # Succeeded items that took a cached run's outputs (no pod)
        self._frontier = 0  # every index below exists
        self.cancel_requested: set[int] = set()

    def __len__(self) -> int:
        return len(self._phases)

    def __contains__(self, index: object) -> bool:
        return index in self._phases

    def phase(self, index: int) -> str | None:
        return self._phases.get(index)

    def set(self, index: int, phase: str, *, version: int | None = None, cached: bool = False) -> bool:
        """Record ``phase`` for item ``index`` (``cached``: it Succeeded with a cached run's outputs); False
        when it is older than what is known, or no change."""
        known = self._versions.get(index)
        if version is not None and known is not None and version < known:
            return False
        if version is not None:
            self._versions[index] = version
        previous = self._phases.get(index)
        cached = cached and phase == SUCCEEDED
        if previous == phase and cached == (index in self._cached):
            return False
        if cached:
            self._cached.add(index)
        else:
            self._cached.discard(index)
        if previous == phase:
            return True
        if previous is not None:
            self._counts[_bucket(previous)] -= 1
        self._phases[index] = phase
        self._counts[_bucket(phase)] += 1
        if phase in FINAL_PHASES:
            self._unfinished.discard(index)
            self.cancel_requested.discard(index)
        else:
            self._unfinished.add(index)
        if phase in (FAILED, CANCELLED):
            self._failed.add(index)
        else:
            self._failed.discard(index)
        return True

    def remove(self, index: int) -> bool:
        """Forget item ``index`` (its TaskRun was deleted); False when it was not known."""
        previous = self._phases.pop(index, None)
        self._versions.pop(index, None)
        if previous is None:
            return False
        self._counts[_bucket(previous)] -= 1
        self._unfinished.discard(index)
        self._failed.discard(index)
        self._cached.discard(index)
        self.cancel_requested.discard(index)
        self._frontier = min(self._frontier, index)
        return True

    def missing(self, total: int, limit: int) -> list[int]:
        """Up to ``limit`` indexes below ``total`` with no TaskRun, lowest first."""
        while self._frontier in self._phases:
            self._frontier += 1
        found: list[int] = []
        index = self._frontier
        while len(found) < limit and index < total:
            if index not in self._phases:
                found.append(index)
            index += 1
        return found

    @property
    def unfinished(self) -> frozenset[int]:
        return frozenset(self._unfinished)

    @property
    def failed(self) -> frozenset[int]:
        """Items that ended Failed or Cancelled."""
        return frozenset(self._failed)

    def count(self, bucket: str) -> int:
        """Items in ``bucket``: ``pending`` (created, not started), ``running``, ``succeeded``, ``failed``,
        ``cancelled``; or ``cached``: the succeeded ones that reused a cached run's outputs."""
        if bucket == "cached":
            return len(self._cached)
        return self._counts[bucket]


def is_cached(status: Mapping[str, Any]) -> bool:
    """Whether a TaskRun's status says it Succeeded by taking a cached run's outputs (reason Cached)."""
    if status.get("phase") != SUCCEEDED:
        return False
    return succeeded_condition(status).get("reason") == REASON_CACHED


def _bucket(phase: str) -> str:
    if phase in (RUNNING, RETRYING):
        return "running"
    if phase == SUCCEEDED:
        return "succeeded"
    if phase == FAILED:
        return "failed"
    if phase == CANCELLED:
        return "cancelled"
    return "pending"


@dataclasses.dataclass(frozen=True)
class MapDecision:
    """What to do now: items to create and to cancel, and the map's status."""

    create: tuple[int, ...]
    cancel: tuple[int, ...]
    phase: str
    reason: str
    message: str
    counts: Mapping[str, int]
    failed_items: str

    @property
    def finished(self) -> bool:
        return self.phase in FINAL_PHASES


def counts_of(tally: ItemTally, total: int) -> dict[str, int]:
    """The status counts; ``pending`` includes the items not created yet, so they add up to ``total``;
    ``cached`` is the part of ``succeeded`` that reused cached outputs (those items made no pod)."""
    counts = {bucket: tally.count(bucket) for bucket in ("running", "succeeded", "failed", "cancelled")}
    return {
        "total": total,
        "pending": total - sum(counts.values()),
        **counts,
        "cached": tally.count("cached"),
    }


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def decide_map(limits: MapLimits, tally: ItemTally) -> MapDecision:
    """The next step of a map.

    - Cancelled: no new item; every unfinished item is cancelled (once); Cancelled when none is left.
    - More than ``max_failed`` items failed (an item cancelled on its own counts as failed): no new item,
      running ones finish; then Failed.
    - Otherwise: create the lowest missing indexes while fewer than ``parallelism`` items are unfinished;
      Succeeded when every item ended (at most ``max_failed`` of them failed).
    """
    total = limits.total
    unfinished = tally.unfinished
    failed = tally.failed
    counts = counts_of(tally, total)
    failed_items = compress_indexes(failed)
    done = counts["succeeded"] + counts["failed"] + counts["cancelled"]

    def decision(
        phase: str, reason: str, message: str, *, create: Iterable[int] = (), cancel: Iterable[int] = ()
    ) -> MapDecision:
        return MapDecision(
            create=tuple(create),
            cancel=tuple(cancel),
            phase=phase,
            reason=reason,
            message=message,
            counts=counts,
            failed_items=failed_items,
        )

    if limits.cancelled:
        if unfinished:
            to_cancel = sorted(unfinished - tally.cancel_requested)
            return decision(
                RUNNING,
                REASON_CANCELLING,
                f"cancelled: waiting for {_plural(len(unfinished), 'unfinished item')} to stop",
                cancel=to_cancel,
            )
        return decision(
            CANCELLED, REASON_MAP_CANCELLED, f"cancelled after {done} of {_plural(total, 'item')} ended"
        )
    if len(failed) > limits.max_failed:
        over = (
            f"{_plural(len(failed), 'item')} failed ({failed_items}), more than maxFailedItems "
            f"{limits.max_failed}"
        )
        if unfinished:
            return decision(
                RUNNING,
                REASON_FAILING,
                f"{over}: no new item starts; waiting for {_plural(len(unfinished), 'running item')}",
            )
        return decision(FAILED, REASON_TOO_MANY_FAILED, f"{over}; {done} of {_plural(total, 'item')} ended")
    if done >= total and not unfinished:
        message = f"{_plural(counts['succeeded'], 'item')} of {total} succeeded"
        if failed:
            message += f"; failed: {failed_items} (within maxFailedItems {limits.max_failed})"
        return decision(SUCCEEDED, REASON_ITEMS_SUCCEEDED, message)
    slots = limits.parallelism - len(unfinished)
    create = tally.missing(total, slots) if slots > 0 else []
    return decision(
        RUNNING,
        REASON_RUNNING,
        f"{done}/{total} done, {counts['running']} running, {len(failed)} failed",
        create=create,
    )


__all__ = ["PENDING", "ItemTally", "MapDecision", "MapLimits", "counts_of", "decide_map", "is_cached"]
