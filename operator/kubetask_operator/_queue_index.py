"""Every TaskQueue's line of waiting runs, kept in admission order as the watch reports each change.

``decide()`` recomputes a queue from all of its runs: a sort of the n waiting ones at every event, and a run
that looks for its place pays that again, so a line of n runs costs O(n log n) per event and O(n^2 log n)
for all of them to learn their place (and to be admitted one by one). ``QueueIndex`` keeps, per (namespace,
queue), the waiting runs in a sorted list by ``rank_of`` and the count of admitted unfinished ones, changed
run by run in O(log n): a run's verdict is its rank (O(log n)), and a wake names only the runs now admitted
and the head of the line whose place changed since the last wake.

It is a cache of the API like the rest of the controller's state and admits nothing by itself: an admission
it suggests is decided again by ``verdict_of`` on a fresh listing under the queue's lock (``_queue_plan``), so
a stale or incomplete index (an operator that just started) can delay an admission, never exceed the limit.
Pure: no I/O, no clock. Its verdicts equal ``decide()``'s on the same runs (tested with it as the oracle).
"""

from __future__ import annotations

from sortedcontainers import SortedList

from kubetask_operator._queue_plan import Member, Rank, Verdict, free_slots, rank_of, verdict_at

LineKey = tuple[str, str]  # (namespace, queue)
RunKey = tuple[str, str]  # (namespace, TaskRun name)


class QueueLine:
    """One queue's unfinished runs: the waiting ones in admission order, and how many hold a slot."""

    __slots__ = ("_changed_from", "_members", "_waiting", "running")

    def __init__(self) -> None:
        self._members: dict[str, Member] = {}
        self._waiting: SortedList[Rank] = SortedList()
        self.running = 0
        self._changed_from: int | None = None
        """The first place in line (0-based, admitted ones included) whose verdict may have changed since
        the last ``wake()``: a run joining or leaving shifts those behind it; a slot taken or freed, or a
        new limit, changes every message ("4 of 4 running")."""

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def put(self, member: Member) -> bool:
        """Take in a run's latest state (a finished one leaves the line); True when the line changed."""
        old = self._members.get(member.name)
        if old == member:
            return False
        if old is not None:
            self._remove(old)
        if not member.finished:
            self._add(member)
        return old is not None or not member.finished

    def discard(self, name: str) -> bool:
        """The run is gone (deleted, or no longer known): True when it was in line."""
        old = self._members.get(name)
        if old is None:
            return False
        self._remove(old)
        return True

    def mark_changed(self) -> None:
        """Every place may say something new (the TaskQueue's limit changed)."""
        self._changed_from = 0

    def counts(self) -> tuple[int, int]:
        """(running, queued): what the TaskQueue's status shows."""
        return self.running, len(self._waiting)

    def verdict(self, queue: str, max_running: int | None, name: str) -> Verdict | None:
        """``decide(queue, max_running, members)[name]`` for the run ``name``; None unless it waits here."""
        member = self._members.get(name)
        if member is None or member.admitted:
            return None
        return verdict_at(queue, max_running, self.running, self._waiting.index(rank_of(member)))

    def wake(self, max_running: int | None, *, head: int) -> tuple[list[str], list[str]]:
        """(to admit, to refresh): the waiting runs there are slots for, and the others among the first
        ``head`` places whose message changed since the last wake (those further back look for themselves
        later). O((admitted + head) log n) however long the line."""
        free = min(free_slots(max_running, self.running), len(self._waiting))
        admit = [rank[2] for rank in self._waiting.islice(0, free)]
        refresh: list[str] = []
        if self._changed_from is not None:
            start = max(self._changed_from, free)
            stop = min(len(self._waiting), free + head)
            if start < stop:
                refresh = [rank[2] for rank in self._waiting.islice(start, stop)]
        self._changed_from = None
        return admit, refresh

    def _add(self, member: Member) -> None:
        self._members[member.name] = member
        if member.admitted:
            self.running += 1
            self._changed(0)
            return
        rank = rank_of(member)
        self._waiting.add(rank)
        self._changed(self._waiting.index(rank))

    def _remove(self, member: Member) -> None:
        del self._members[member.name]
        if member.admitted:
            self.running -= 1
            self._changed(0)
            return
        rank = rank_of(member)
        index = self._waiting.index(rank)
        del self._waiting[index]
        self._changed(index)

    def _changed(self, index: int) -> None:
        self._changed_from = index if self._changed_from is None else min(self._changed_from, index)


class QueueIndex:
    """The lines of every queue the operator knows of, and which line each run stands in."""

    __slots__ = ("_line_of", "_lines")

    def __init__(self) -> None:
        self._lines: dict[LineKey, QueueLine] = {}
        self._line_of: dict[RunKey, LineKey] = {}

    def update(self, key: RunKey, queue: str | None, member: Member | None) -> list[LineKey]:
        """Take in the run ``key``'s latest state: ``member`` in ``queue``, or None when the run is gone
        or names no queue. Returns the lines that changed (to wake). O(log n)."""
        changed: list[LineKey] = []
        target = (key[0], queue) if queue is not None and member is not None and not member.finished else None
        previous = self._line_of.get(key)
        if previous is not None and previous != target:
            line = self._lines[previous]
            line.discard(key[1])
            del self._line_of[key]
            if not line:  # nobody left to wake: an empty line is dropped, as memory must stay bounded
                del self._lines[previous]
            changed.append(previous)
        if target is not None and member is not None:
            line = self._lines.setdefault(target, QueueLine())
            if line.put(member):
                changed.append(target)
            self._line_of[key] = target
        return changed

    def line(self, namespace: str, queue: str) -> QueueLine:
        """The queue's line (an empty one, not kept, when no run stands in it)."""
        return self._lines.get((namespace, queue)) or QueueLine()

    def __len__(self) -> int:
        return len(self._line_of)
