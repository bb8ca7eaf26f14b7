"""Leader election decisions as client-go makes them: when to create, renew, take over or wait for a Lease."""

from __future__ import annotations

import datetime

import pytest

from kubetask_operator._lease import (
    Action,
    LeaseRecord,
    Observed,
    decide,
    observe,
    released,
    renewal_overdue,
    standby_delay,
)

ME = "operator-a_1234"
OTHER = "operator-b_5678"
WALL = datetime.datetime(2026, 11, 24, 15, 0, 0, 123456, tzinfo=datetime.UTC)
EARLIER = WALL - datetime.timedelta(minutes=5)


def _record(holder: str, *, duration: int = 15, transitions: int = 3) -> LeaseRecord:
    return LeaseRecord(holder, duration, EARLIER, EARLIER, transitions)


#: What a decision writes: (holder, leaseTransitions, acquireTime); None when it waits.
Written = tuple[str, int, datetime.datetime] | None


@pytest.mark.parametrize(
    ("observed", "now", "action", "written"),
    [
        pytest.param(None, 0.0, Action.CREATE, (ME, 0, WALL), id="no-lease-create-it"),
        pytest.param(Observed(_record(ME), 0.0), 100.0, Action.RENEW, (ME, 3, EARLIER), id="ours-renew-it"),
        pytest.param(
            Observed(_record(ME, duration=1), 0.0),
            0.5,
            Action.RENEW,
            (ME, 3, EARLIER),
            id="ours-renew-keeps-acquire-time-and-transitions",
        ),
        pytest.param(Observed(_record(OTHER), 100.0), 114.9, Action.WAIT, None, id="other-not-expired-wait"),
        pytest.param(
            Observed(_record(OTHER), 100.0), 115.0, Action.ACQUIRE, (ME, 4, WALL), id="other-expired-take-it"
        ),
        pytest.param(
            Observed(_record(""), 100.0), 100.0, Action.ACQUIRE, (ME, 4, WALL), id="released-take-it-at-once"
        ),
        pytest.param(
            Observed(_record(OTHER, duration=60), 100.0),
            130.0,
            Action.WAIT,
            None,
            id="the-holders-duration-counts-not-ours",
        ),
    ],
)
def test_what_a_process_does_with_the_lease_it_read(
    observed: Observed | None, now: float, action: Action, written: Written
) -> None:
    decision = decide(identity=ME, observed=observed, now=now, wall_now=WALL, lease_duration_seconds=15)
    assert decision.action is action
    if written is None:
        assert decision.record is None
        assert decision.holder == OTHER
        assert decision.expires_in > 0
        return
    assert decision.record is not None
    record = decision.record
    assert (record.holder, record.transitions, record.acquire_time) == written
    assert record.renew_time == WALL
    assert record.lease_duration_seconds == 15


def test_a_standby_counts_expiry_from_when_it_saw_the_record_change() -> None:
    """The holder's renewTime is never compared with this clock: only a change restarts the count."""
    first = observe(None, _record(OTHER), now=100.0)
    same = observe(first, _record(OTHER), now=110.0)
    assert same.at == 100.0
    renewed = LeaseRecord(OTHER, 15, EARLIER, WALL, 3)
    changed = observe(same, renewed, now=112.0)
    assert changed.at == 112.0
    waiting = decide(identity=ME, observed=changed, now=120.0, wall_now=WALL, lease_duration_seconds=15)
    assert (waiting.action, waiting.expires_in) == (Action.WAIT, 7.0)


def test_a_lease_in_the_far_past_by_the_holders_clock_is_still_waited_for() -> None:
    """A skewed holder clock (renewTime a year ago) does not let a standby take a live Lease."""
    skewed = LeaseRecord(OTHER, 15, WALL.replace(year=2025), WALL.replace(year=2025), 0)
    decision = decide(
        identity=ME,
        observed=observe(None, skewed, now=5.0),
        now=6.0,
        wall_now=WALL,
        lease_duration_seconds=15,
    )
    assert decision.action is Action.WAIT


def test_a_released_lease_names_nobody_and_keeps_the_transitions() -> None:
    record = released(_record(ME, transitions=7), WALL)
    assert (record.holder, record.lease_duration_seconds, record.transitions) == ("", 1, 7)
    assert record.spec() == {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": "2026-11-24T15:00:00.123456Z",
        "renewTime": "2026-11-24T15:00:00.123456Z",
        "leaseTransitions": 7,
    }


@pytest.mark.parametrize(
    ("lease", "expected"),
    [
        pytest.param(
            {
                "spec": {
                    "holderIdentity": OTHER,
                    "leaseDurationSeconds": 15,
                    "acquireTime": "2026-11-24T14:55:00.123456Z",
                    "renewTime": "2026-11-24T14:55:00.123456Z",
                    "leaseTransitions": 3,
                }
            },
            _record(OTHER),
            id="full",
        ),
        pytest.param({"spec": {}}, LeaseRecord("", 1, None, None, 0), id="empty-spec-is-released"),
        pytest.param(
            {"spec": {"holderIdentity": OTHER, "leaseDurationSeconds": "15", "leaseTransitions": -1}},
            LeaseRecord(OTHER, 1, None, None, 0),
            id="nonsense-fields-are-not-trusted",
        ),
    ],
)
def test_the_record_in_a_lease_object(lease: dict[str, object], expected: LeaseRecord) -> None:
    assert LeaseRecord.of(lease) == expected


def test_the_spec_written_round_trips() -> None:
    record = LeaseRecord(ME, 15, WALL, WALL, 2)
    assert LeaseRecord.of({"spec": record.spec()}) == record


@pytest.mark.parametrize(
    ("last_renewed", "now", "overdue"),
    [
        pytest.param(100.0, 109.9, False, id="within-deadline"),
        pytest.param(100.0, 110.0, True, id="at-deadline"),
        pytest.param(100.0, 200.0, True, id="long-past"),
    ],
)
def test_a_leader_gives_up_at_the_renew_deadline(last_renewed: float, now: float, overdue: bool) -> None:
    assert renewal_overdue(last_renewed=last_renewed, now=now, renew_deadline=10.0) is overdue


@pytest.mark.parametrize(
    ("fraction", "delay"),
    [pytest.param(0.0, 2.0, id="least"), pytest.param(1.0, 4.4, id="most")],
)
def test_standbys_spread_their_tries(fraction: float, delay: float) -> None:
    assert standby_delay(2.0, fraction) == pytest.approx(delay)
