"""Which TaskRuns of a TaskQueue are admitted, and each waiting one's place: pure, from the API's state.

Admission is derived from the TaskRuns alone (``status.admittedAt`` on a run that has not finished holds a
slot), never from the operator's memory, so a restarted operator or a new leader counts exactly what the API
says and never admits past ``maxRunning``. An admission is decided twice: on the controller's cache (the
incremental ``QueueIndex`` of ``_queue_index``, which gives ``decide()``'s verdicts in O(log n)) to decide
whether to try, and by ``verdict_of`` on a fresh listing (under the queue's lock) before ``admittedAt`` is
written. ``decide()`` states the rules for a whole queue at once; both others are tested against it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from kubetask_api import FINAL_PHASES

DEFAULT_QUEUE = "(default)"
"""The queue of the runs that name none, when KUBETASK_DEFAULT_QUEUE_MAX_RUNNING sets a per-namespace limit
(not a TaskQueue name: those are DNS subdomains)."""


@dataclasses.dataclass(frozen=True)
class Member:
    """A TaskRun naming the queue, as far as admission cares."""

    name: str
    priority: int = 0
    created: str = ""  # RFC 3339 in UTC as the API server writes it: orders as text
    admitted: bool = False
    finished: bool = False


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One run's answer: admit it now, or wait (``position`` 1-based among the waiting) and say why."""

    admit: bool
    position: int
    message: str


def member_of(taskrun: Mapping[str, Any]) -> Member:
    metadata = taskrun.get("metadata") or {}
    spec = taskrun.get("spec") or {}
    status = taskrun.get("status") or {}
    priority = spec.get("priority", 0)
    return Member(
        name=str(metadata.get("name", "")),
        priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else 0,
        created=str(metadata.get("creationTimestamp") or ""),
        admitted=bool(status.get("admittedAt") or status.get("attempts")),  # started before a default limit
        finished=status.get("phase") in FINAL_PHASES or bool(metadata.get("deletionTimestamp")),
    )


def queue_of(taskrun: Mapping[str, Any], *, default_limit: int | None = None) -> str | None:
    """The run's queue: ``spec.queue``, else the namespace's default queue when there is a default limit."""
    queue = (taskrun.get("spec") or {}).get("queue")
    if isinstance(queue, str) and queue:
        return queue
    return DEFAULT_QUEUE if default_limit is not None else None


def _named(queue: str) -> str:
    if queue == DEFAULT_QUEUE:
        return "the namespace's default queue (KUBETASK_DEFAULT_QUEUE_MAX_RUNNING)"
    return f"queue {queue}"


def ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


Rank = tuple[int, str, str]


def rank_of(member: Member) -> Rank:
    """Its place in the order of admission: priority (higher first), then creation, then name."""
    return (-member.priority, member.created, member.name)


def free_slots(max_running: int | None, running: int) -> int:
    return 0 if max_running is None else max(max_running - running, 0)


def verdict_at(queue: str, max_running: int | None, running: int, index: int) -> Verdict:
    """The verdict of the waiting run with ``index`` waiting runs before it, ``running`` holding a slot."""
    free = free_slots(max_running, running)
    if index < free:
        message = f"admitted by {_named(queue)}: {running + index + 1} of {max_running} running"
        return Verdict(admit=True, position=0, message=message)
    position = index - free + 1
    if max_running is None:
        why = f"TaskQueue {queue} does not exist in this namespace; waiting for it to be created"
    else:
        why = f"{running} of {max_running} running"
    return Verdict(admit=False, position=position, message=f"{ordinal(position)} in {_named(queue)}: {why}")


def decide(queue: str, max_running: int | None, members: Iterable[Member]) -> dict[str, Verdict]:
    """The verdict for every waiting member of ``queue`` (limit ``max_running``; None: no such TaskQueue).

    Waiting runs are ordered by priority (higher first), then creation, then name; as many as there are free
    slots are admitted, in that order, the rest wait with their place in line."""
    live = [member for member in members if not member.finished]
    running = sum(1 for member in live if member.admitted)
    waiting = sorted((member for member in live if not member.admitted), key=rank_of)
    return {member.name: verdict_at(queue, max_running, running, i) for i, member in enumerate(waiting)}


def verdict_of(queue: str, max_running: int | None, members: Iterable[Member], name: str) -> Verdict | None:
    """``decide(queue, max_running, members).get(name)`` in one pass without sorting: a fresh listing's
    word on one run (None: it is not waiting in it)."""
    live = [member for member in members if not member.finished]
    own = next((member for member in live if member.name == name), None)
    if own is None or own.admitted:
        return None
    running = sum(1 for member in live if member.admitted)
    rank = rank_of(own)
    ahead = sum(1 for member in live if not member.admitted and rank_of(member) < rank)
    return verdict_at(queue, max_running, running, ahead)


def counts(members: Iterable[Member]) -> tuple[int, int]:
    """(running, queued) of a queue: what its status shows."""
    live = [member for member in members if not member.finished]
    running = sum(1 for member in live if member.admitted)
    return running, len(live) - running
