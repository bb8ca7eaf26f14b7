"""Leader election decisions on a ``coordination.k8s.io/v1`` Lease, made as client-go's leaderelection makes
them, as pure functions of the Lease read, what this process saw of it before, and the time.

A standby judges expiry by its own clock: a Lease held by another expires ``leaseDurationSeconds`` after this
process *first saw* its current record, never by the holder's ``renewTime``, so clock skew between nodes
cannot make a live leader's Lease look expired.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Mapping
from typing import Any

from kubetask_operator._times import parse_time

#: client-go's JitterFactor: a standby's tries are spread over [retry, 2.2 x retry].
JITTER_FACTOR = 1.2


@dataclasses.dataclass(frozen=True)
class LeaseRecord:
    """The Lease's spec: who holds it, for how long, since when, and how often it changed hands."""

    holder: str
    lease_duration_seconds: int
    acquire_time: datetime.datetime | None = None
    renew_time: datetime.datetime | None = None
    transitions: int = 0

    @classmethod
    def of(cls, lease: Mapping[str, Any]) -> LeaseRecord:
        """The record in a Lease object as the API returns it (missing fields as a released Lease)."""
        spec = lease.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        transitions = spec.get("leaseTransitions")
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=duration if isinstance(duration, int) and duration > 0 else 1,
            acquire_time=parse_time(spec.get("acquireTime")),
            renew_time=parse_time(spec.get("renewTime")),
            transitions=transitions if isinstance(transitions, int) and transitions >= 0 else 0,
        )

    def spec(self) -> dict[str, Any]:
        """The Lease spec to write (times as MicroTime, which the API requires for these fields)."""
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": _micro_time(self.acquire_time),
            "renewTime": _micro_time(self.renew_time),
            "leaseTransitions": self.transitions,
        }


def _micro_time(moment: datetime.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclasses.dataclass(frozen=True)
class Observed:
    """A Lease record and when (this process's monotonic clock) it was first seen."""

    record: LeaseRecord
    at: float


def observe(previous: Observed | None, record: LeaseRecord, now: float) -> Observed:
    """What is known after reading ``record`` at ``now``: the clock restarts only when the record changes."""
    if previous is not None and previous.record == record:
        return previous
    return Observed(record=record, at=now)


class Action(enum.Enum):
    CREATE = "create"
    """No Lease yet: create it, held by us."""
    ACQUIRE = "acquire"
    """Released or expired: take it over (a transition)."""
    RENEW = "renew"
    """Ours: write a fresh renewTime."""
    WAIT = "wait"
    """Held by another, not expired: stay standby."""


@dataclasses.dataclass(frozen=True)
class Decision:
    action: Action
    record: LeaseRecord | None
    """What to write (None when waiting)."""
    holder: str = ""
    """Who holds the Lease when waiting."""
    expires_in: float = 0.0
    """When waiting: seconds until the holder's Lease expires unless it is renewed."""


def decide(
    *,
    identity: str,
    observed: Observed | None,
    now: float,
    wall_now: datetime.datetime,
    lease_duration_seconds: int,
) -> Decision:
    """What to do with the Lease this process just read (``observed``; None when there is none)."""
    if observed is None:
        created = LeaseRecord(identity, lease_duration_seconds, wall_now, wall_now, 0)
        return Decision(Action.CREATE, created)
    current = observed.record
    if current.holder == identity:
        renewed = dataclasses.replace(
            current, lease_duration_seconds=lease_duration_seconds, renew_time=wall_now
        )
        return Decision(Action.RENEW, renewed)
    expires_in = observed.at + current.lease_duration_seconds - now
    if current.holder and expires_in > 0:
        return Decision(Action.WAIT, None, holder=current.holder, expires_in=expires_in)
    taken = LeaseRecord(identity, lease_duration_seconds, wall_now, wall_now, current.transitions + 1)
    return Decision(Action.ACQUIRE, taken)


def released(record: LeaseRecord, wall_now: datetime.datetime) -> LeaseRecord:
    """The record a leader writes when it stops cleanly (as client-go's ReleaseOnCancel): nobody holds it,
    so a standby takes over at its next try instead of waiting for the Lease to expire."""
    return LeaseRecord("", 1, wall_now, wall_now, record.transitions)


def renewal_overdue(*, last_renewed: float, now: float, renew_deadline: float) -> bool:
    """The leader has not renewed within ``renew_deadline``: it must stop before a standby may take over."""
    return now - last_renewed >= renew_deadline


def standby_delay(retry_period: float, random_fraction: float) -> float:
    """Seconds before a standby's next try (client-go's JitterUntil), so standbys do not try in step."""
    return retry_period * (1.0 + JITTER_FACTOR * random_fraction)
