"""What the operator holds about one TaskRun, in one record, and the rules for taking in what the watch says.

Everything here is a cache of the API, rebuilt from the watches' initial listing after a restart. Each status
the operator writes (or finds when it first sees the TaskRun) is remembered by digest, which decides what a
TaskRun event is, without ever ordering ``resourceVersion``s (Kubernetes documents them as opaque):

- its status is the one last written: current;
- one written earlier: an event from before the last write (every write has the TaskRun's resourceVersion as
  precondition, so nothing else can have changed it since): stale, dropped;
- any other: someone else wrote the status. The operator owns it: it plans from the status it last wrote and
  writes that back (``RunState.view`` and ``status_to_write``), with a ``StatusOverwritten`` Event.

A read after a write conflict is current by definition, so there any status but the last one written is
someone else's. (A listing is not: it may have been served just before the operator's last write.)
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from kubetask_operator._errors import InvalidSpecError
from kubetask_operator._nesting import MAX_NESTING, TOO_DEEP, path_too_deep
from kubetask_operator._observe import PodObservation
from kubetask_operator._reconcile import Event, parse
from kubetask_operator._spec import TaskRunSpec

_REMEMBERED_STATUSES = 16  # statuses written lately: a stale event may carry any of them


def status_digest(status: Mapping[str, Any] | None) -> str:
    text = json.dumps(status or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def resource_version(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("resourceVersion") or "")


def uid_of(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("uid") or "")


@dataclasses.dataclass
class RunState:
    """One unfinished TaskRun (or, with ``body`` None, pods whose TaskRun has not been seen yet)."""

    body: dict[str, Any] | None = None
    uid: str = ""
    pods: dict[str, PodObservation | None] = dataclasses.field(default_factory=dict)
    """Pods of the TaskRun by name; None: seen deleted, or a lookup found nothing."""
    pods_touched: float = dataclasses.field(default_factory=time.monotonic)
    created: set[str] = dataclasses.field(default_factory=set)
    """Pods this process created that the watch has not shown yet."""
    unwritten: dict[str, Any] | None = None
    """A just-created attempt's status, held back a moment to be written with its pod's first news."""
    unwritten_events: tuple[Event, ...] = ()
    flush_at: datetime.datetime | None = None
    written: dict[str, Any] | None = None
    """The status the operator last wrote (or found at first sight): the truth when someone else wrote."""
    overwritten: bool = False
    """The TaskRun carries a status the operator did not write: plan from ``written``, write it back."""
    known: collections.deque[str] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=_REMEMBERED_STATUSES)
    )
    writing: str = ""
    """The digest of the status being written: its watch event may arrive before the write's answer."""
    failures: int = 0
    parsed: tuple[tuple[str, object], TaskRunSpec | InvalidSpecError] | None = None

    def take(self, body: Mapping[str, Any], *, current: bool) -> bool:
        """Take in the TaskRun from a watch event or listing (``current``: from a read after a conflict);
        False when the event is older than the operator's last write (dropped)."""
        status = body.get("status")
        if isinstance(status, Mapping) and path_too_deep(status, MAX_NESTING + 10) is not None:
            # Someone else wrote a status nested past anything the operator writes: its deep fields are
            # replaced (so no deep copy or digest recurses through them) and, being foreign, overwritten.
            status = {
                field: TOO_DEEP if path_too_deep(value, MAX_NESTING) is not None else value
                for field, value in status.items()
            }
            body = {**body, "status": status}
        digest = status_digest(status)
        if not self.known:  # first sight: the status found is the one to carry on from
            self.known.append(digest)
            self.written = dict(body.get("status") or {})
        latest = digest in (self.known[-1], self.writing)
        if not current and not latest and digest in self.known:
            return False
        self.body = dict(body)
        self.uid = uid_of(body)
        self.overwritten = not latest
        return True

    def wrote(self, body: Mapping[str, Any]) -> None:
        """The operator's status write succeeded, answered with ``body``."""
        self.writing = ""
        self.body = dict(body)
        self.written = dict(body.get("status") or {})
        self.known.append(status_digest(self.written))
        self.overwritten = False

    def view(self) -> dict[str, Any]:
        """The TaskRun as the operator sees it: with the status it holds back or owns, not a foreign one."""
        assert self.body is not None
        if self.unwritten is not None:
            return {**self.body, "status": self.unwritten}
        if self.overwritten and self.written is not None:
            return {**self.body, "status": self.written}
        return self.body

    def status_to_write(self) -> dict[str, Any] | None:
        """A status decided earlier, not on the TaskRun yet: held back, or to restore over a foreign one."""
        if self.unwritten is not None:
            return self.unwritten
        return self.written if self.overwritten else None

    def spec(self) -> TaskRunSpec | InvalidSpecError:
        """The spec parsed once per (uid, generation): only ``cancelled`` may change, and it bumps it."""
        assert self.body is not None
        generation = (self.body.get("metadata") or {}).get("generation")
        identity = (self.uid, generation if generation is not None else resource_version(self.body))
        if self.parsed is None or self.parsed[0] != identity:
            self.parsed = (identity, parse(self.body.get("spec")))
        return self.parsed[1]

    def clear_held_back(self) -> tuple[Event, ...]:
        events = self.unwritten_events
        self.unwritten, self.unwritten_events, self.flush_at = None, (), None
        return events


@dataclasses.dataclass
class FinishedRun:
    """What is left of a finished TaskRun: its identity, its final status's digest and its TTL."""

    uid: str
    digest: str
    expire_at: datetime.datetime | None = None
