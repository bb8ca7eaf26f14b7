"""The queue index against ``decide()`` as the oracle: after every event of random sequences (runs joining,
admitted, finishing, deleted, limits changing, across queues and namespaces) each run's verdict, the counts,
the runs a wake admits, and the head of each line told its new place all agree with recomputing from
scratch. Seeded, so a failure names its seed and replays. No cluster."""

from __future__ import annotations

import dataclasses
import random

import pytest

from kubetask_operator._queue_index import QueueIndex, QueueLine
from kubetask_operator._queue_plan import Member, Verdict, counts, decide, verdict_of

from ._factories import stamp

HEAD = 3  # small, so runs beyond the head of a line (not told at once) occur in every sequence
LINES = [("team", "gpu"), ("team", "cpu"), ("other", "gpu")]


@dataclasses.dataclass
class Model:
    """The truth the index must agree with: every run's queue and state, every line's limit."""

    runs: dict[tuple[str, str], tuple[str, Member]] = dataclasses.field(default_factory=dict)
    limits: dict[tuple[str, str], int | None] = dataclasses.field(default_factory=dict)
    told: dict[tuple[str, str], Verdict] = dataclasses.field(default_factory=dict)

    def members(self, namespace: str, queue: str) -> list[Member]:
        return [m for (ns, _), (q, m) in self.runs.items() if (ns, q) == (namespace, queue)]


def _event(rng: random.Random, model: Model, index: QueueIndex, serial: int) -> list[tuple[str, str]]:
    """One random change, made to the model and given to the index; the lines the index says changed."""
    roll = rng.random()
    keys = sorted(model.runs)
    waiting = [k for k in keys if not model.runs[k][1].admitted]
    admitted = [k for k in keys if model.runs[k][1].admitted]
    if roll < 0.4 or not keys:
        namespace, queue = rng.choice(LINES)
        key = (namespace, f"r{serial}")
        member = Member(
            name=key[1],
            priority=rng.choice([0, 0, 0, 1, 5]),
            created=stamp(rng.randrange(20)),  # ties on creation: the name decides
            admitted=rng.random() < 0.1,  # started before a default limit
        )
        model.runs[key] = (queue, member)
        return index.update(key, queue, member)
    if roll < 0.6 and waiting:
        key = rng.choice(waiting)
        queue, member = model.runs[key]
        model.runs[key] = (queue, dataclasses.replace(member, admitted=True))
        return index.update(key, queue, model.runs[key][1])
    if roll < 0.8 and admitted:
        key = rng.choice(admitted)
        queue, member = model.runs.pop(key)
        return index.update(key, queue, dataclasses.replace(member, finished=True))
    if roll < 0.9:
        key = rng.choice(keys)
        model.runs.pop(key)
        return index.update(key, None, None)  # deleted (a waiting run cancelled, or any run deleted)
    line = rng.choice(LINES)
    model.limits[line] = rng.choice([None, 0, 1, 2, 4])
    index.line(*line).mark_changed()
    return [line]


@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed-{seed}") for seed in range(40)])
def test_the_index_agrees_with_decide_after_every_event(seed: int) -> None:
    rng = random.Random(seed)
    model = Model(limits=dict.fromkeys(LINES, 2))
    index = QueueIndex()
    for serial in range(250):
        changed = set(_event(rng, model, index, serial))
        for namespace, queue in LINES:
            limit = model.limits[(namespace, queue)]
            members = model.members(namespace, queue)
            expected = decide(queue, limit, members)
            line = index.line(namespace, queue)
            assert line.counts() == counts(members), (seed, serial)
            for member in members:
                verdict = line.verdict(queue, limit, member.name)
                assert verdict == expected.get(member.name), (seed, serial, member)
                assert verdict_of(queue, limit, members, member.name) == verdict
            if (namespace, queue) not in changed:
                continue
            admit, refresh = line.wake(limit, head=HEAD)
            assert admit == [name for name, verdict in expected.items() if verdict.admit], (seed, serial)
            for name in admit + refresh:
                model.told[(namespace, name)] = expected[name]
            # Every run among the first places was told its current verdict: nothing changed unnoticed.
            head = [name for name, _ in zip(expected, range(len(admit) + HEAD), strict=False)]
            for name in head:
                assert model.told.get((namespace, name)) == expected[name], (seed, serial, name)
    assert len(index) == len(model.runs)


def _line(waiting: int, running: int) -> QueueLine:
    line = QueueLine()
    for i in range(running):
        line.put(Member(name=f"run{i}", created=stamp(i), admitted=True))
    for i in range(waiting):
        line.put(Member(name=f"w{i:05d}", created=stamp(1000 + i)))
    line.wake(4, head=100)  # everyone told
    return line


def test_a_run_joining_the_back_of_a_long_line_wakes_nobody_else() -> None:
    line = _line(1000, 4)
    line.put(Member(name="late", created=stamp(9999)))
    assert line.wake(4, head=100) == ([], [])  # its own reconcile tells it; beyond the head anyway
    line.put(Member(name="urgent", priority=5, created=stamp(9999)))
    admit, refresh = line.wake(4, head=100)
    assert admit == []
    assert refresh[0] == "urgent"
    assert len(refresh) == 100  # everyone behind it moved back: the head is told, the rest look later


def test_a_freed_slot_admits_the_first_and_refreshes_only_the_head() -> None:
    line = _line(10_000, 4)
    line.put(Member(name="run0", created=stamp(0), admitted=True, finished=True))
    admit, refresh = line.wake(4, head=100)
    assert admit == ["w00000"]
    assert refresh == [f"w{i:05d}" for i in range(1, 101)]
    assert line.verdict("gpu", 4, "w00003") == Verdict(False, 3, "3rd in queue gpu: 3 of 4 running")
    assert line.verdict("gpu", 4, "run1") is None  # admitted: no verdict, as decide() gives none
    assert line.counts() == (3, 10_000)


def test_an_unchanged_state_is_no_change() -> None:
    index = QueueIndex()
    member = Member(name="a", created=stamp())
    assert index.update(("team", "a"), "gpu", member) == [("team", "gpu")]
    assert index.update(("team", "a"), "gpu", member) == []  # a status write that moved nothing in line
    assert index.update(("team", "a"), None, None) == [("team", "gpu")]
    assert len(index) == 0
    assert index.line("team", "gpu").counts() == (0, 0)
