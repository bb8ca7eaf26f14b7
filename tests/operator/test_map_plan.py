"""The TaskMap controller's pure decisions: which items start, when the map ends, how its status counts."""

from __future__ import annotations

import pytest

from kubetask_api import compress_indexes, expand_indexes
from kubetask_operator._map_plan import ItemTally, MapLimits, decide_map, is_cached
from kubetask_operator._maps import InvalidItemsError, item_manifest, parse_items_document, result_line


def tally_of(phases: dict[int, str]) -> ItemTally:
    tally = ItemTally()
    for index, phase in phases.items():
        tally.set(index, phase)
    return tally


S, F, C, R, P = "Succeeded", "Failed", "Cancelled", "Running", "Pending"


@pytest.mark.parametrize(
    ("limits", "phases", "create", "phase", "reason"),
    [
        pytest.param(MapLimits(total=5, parallelism=2), {}, (0, 1), R, "Running", id="start-fills-the-slots"),
        pytest.param(
            MapLimits(total=5, parallelism=10), {}, (0, 1, 2, 3, 4), R, "Running", id="fewer-items-than-slots"
        ),
        pytest.param(
            MapLimits(total=5, parallelism=2), {0: R, 1: P}, (), R, "Running", id="full-creates-nothing"
        ),
        pytest.param(
            MapLimits(total=5, parallelism=2),
            {0: S, 1: R},
            (2,),
            R,
            "Running",
            id="a-finished-item-frees-a-slot",
        ),
        pytest.param(
            MapLimits(total=5, parallelism=2),
            {0: S, 1: R, 3: R},
            (),
            R,
            "Running",
            id="restart-counts-out-of-order-items",
        ),
        pytest.param(
            MapLimits(total=5, parallelism=3),
            {0: S, 2: S, 3: R},
            (1, 4),
            R,
            "Running",
            id="gaps-filled-lowest-first",
        ),
        pytest.param(
            MapLimits(total=3, parallelism=2), {0: S, 1: S, 2: S}, (), S, "ItemsSucceeded", id="all-succeeded"
        ),
        pytest.param(MapLimits(total=0), {}, (), S, "ItemsSucceeded", id="no-items-succeeds-at-once"),
        pytest.param(
            MapLimits(total=3, max_failed=1),
            {0: S, 1: F, 2: S},
            (),
            S,
            "ItemsSucceeded",
            id="failures-within-the-limit",
        ),
        pytest.param(
            MapLimits(total=5, parallelism=2, max_failed=0),
            {0: F, 1: R},
            (),
            R,
            "FailingItems",
            id="past-the-limit-waits-for-running",
        ),
        pytest.param(
            MapLimits(total=5, parallelism=2, max_failed=0),
            {0: F, 1: S},
            (),
            F,
            "FailedItemsExceeded",
            id="past-the-limit-fails",
        ),
        pytest.param(
            MapLimits(total=5, parallelism=2, max_failed=0),
            {0: C, 1: S},
            (),
            F,
            "FailedItemsExceeded",
            id="an-item-cancelled-alone-counts-as-failed",
        ),
        pytest.param(
            MapLimits(total=5, parallelism=2, cancelled=True),
            {0: S, 1: R},
            (),
            R,
            "Cancelling",
            id="cancelled-waits-for-items",
        ),
        pytest.param(
            MapLimits(total=5, parallelism=2, cancelled=True),
            {0: S, 1: C},
            (),
            C,
            "Cancelled",
            id="cancelled-ends",
        ),
    ],
)
def test_decisions(
    limits: MapLimits, phases: dict[int, str], create: tuple[int, ...], phase: str, reason: str
) -> None:
    decision = decide_map(limits, tally_of(phases))
    assert decision.create == create
    assert decision.phase == phase
    assert decision.reason == reason


def test_a_cancelled_map_cancels_each_unfinished_item_once() -> None:
    tally = tally_of({0: S, 1: R, 2: P})
    limits = MapLimits(total=6, parallelism=3, cancelled=True)
    assert decide_map(limits, tally).cancel == (1, 2)
    tally.cancel_requested.update({1, 2})
    assert decide_map(limits, tally).cancel == ()


def test_counts_add_up_to_the_total_with_items_not_created_as_pending() -> None:
    decision = decide_map(
        MapLimits(total=10, parallelism=3), tally_of({0: S, 1: F, 2: R, 3: "Retrying", 4: C})
    )
    assert dict(decision.counts) == {
        "total": 10,
        "pending": 5,
        "running": 2,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 1,
        "cached": 0,
    }
    assert decision.failed_items == "1,4"


CACHED_CONDITION = {"type": "Succeeded", "status": "True", "reason": "Cached", "message": "cache hit"}


@pytest.mark.parametrize(
    ("status", "cached"),
    [
        pytest.param({"phase": S, "conditions": [CACHED_CONDITION]}, True, id="succeeded-reason-cached"),
        pytest.param(
            {"phase": S, "conditions": [{**CACHED_CONDITION, "reason": "Succeeded"}]}, False, id="ran-itself"
        ),
        pytest.param({"phase": R, "conditions": [CACHED_CONDITION]}, False, id="not-succeeded"),
        pytest.param(
            {"phase": S, "conditions": [{**CACHED_CONDITION, "type": "Ready"}]}, False, id="other-condition"
        ),
        pytest.param({"phase": S}, False, id="no-condition"),
    ],
)
def test_an_item_counts_as_cached_when_its_taskrun_succeeded_with_reason_cached(
    status: dict[str, object], cached: bool
) -> None:
    assert is_cached(status) is cached


def test_cached_items_are_counted_among_the_succeeded_ones() -> None:
    tally = tally_of({0: S, 1: R, 2: F})
    tally.set(3, S, cached=True)
    tally.set(4, S, cached=True)
    counts = decide_map(MapLimits(total=6, parallelism=6, max_failed=1), tally).counts
    assert (counts["succeeded"], counts["cached"], counts["pending"]) == (3, 2, 1)
    assert tally.set(3, S, cached=True) is False, "the same report again is no change"
    assert tally.set(3, S, version=5) is True, "a newer report of the item ran itself"
    assert tally.set(1, S, version=7, cached=True) is True
    assert tally.set(1, R, version=6, cached=False) is False, "an older report changes nothing"
    tally.remove(4)
    assert decide_map(MapLimits(total=6, parallelism=6, max_failed=1), tally).counts["cached"] == 1


def test_the_message_names_the_failed_items_of_a_map_that_succeeds_within_the_limit() -> None:
    decision = decide_map(MapLimits(total=6, max_failed=3), tally_of({0: S, 1: S, 2: F, 3: F, 4: F, 5: S}))
    assert decision.phase == S
    assert decision.message == "3 items of 6 succeeded; failed: 2-4 (within maxFailedItems 3)"


def test_parallelism_is_never_exceeded_as_items_finish_one_by_one() -> None:
    limits = MapLimits(total=50, parallelism=4)
    tally = ItemTally()
    peak = 0
    for _ in range(200):
        decision = decide_map(limits, tally)
        for index in decision.create:
            tally.set(index, P)
        peak = max(peak, len(tally.unfinished))
        if decision.finished:
            break
        tally.set(min(tally.unfinished), S)
    assert decision.phase == S
    assert peak == 4


@pytest.mark.parametrize(
    ("version", "phase", "kept"),
    [
        pytest.param(9, S, R, id="an-older-report-is-ignored"),
        pytest.param(11, S, S, id="a-newer-report-wins"),
        pytest.param(None, S, S, id="no-version-always-applies"),
    ],
)
def test_the_tally_keeps_the_newest_report(version: int | None, phase: str, kept: str) -> None:
    tally = ItemTally()
    tally.set(0, R, version=10)
    tally.set(0, phase, version=version)
    assert tally.phase(0) == kept


def test_a_deleted_item_is_missing_again() -> None:
    tally = tally_of({0: S, 1: S, 2: S})
    assert tally.missing(4, 10) == [3]
    tally.remove(1)
    assert tally.missing(4, 10) == [1, 3]


@pytest.mark.parametrize(
    ("indexes", "text"),
    [
        pytest.param([], "", id="none"),
        pytest.param([3], "3", id="one"),
        pytest.param([9, 3, 7, 8, 8], "3,7-9", id="unordered-with-duplicates"),
        pytest.param([0, 1, 2, 4, 6, 7], "0-2,4,6-7", id="runs-and-singles"),
    ],
)
def test_indexes_compress_as_indexed_jobs_write_them(indexes: list[int], text: str) -> None:
    assert compress_indexes(indexes) == text
    assert expand_indexes(text) == sorted(set(indexes))


@pytest.mark.parametrize(
    "text", [pytest.param("3,x", id="not-a-number"), pytest.param("5-2", id="backwards")]
)
def test_bad_index_lists_are_refused_naming_the_part(text: str) -> None:
    with pytest.raises(ValueError, match="index list"):
        expand_indexes(text)


# ---------------------------------------------------------------- items and results


def _taskmap(**spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "m", "namespace": "ns", "uid": "u-1"},
        "spec": {
            "image": "img",
            "task": {"module": "t", "name": "f"},
            "items": [{}],
            "parallelism": 3,
            **spec,
        },
    }


def test_an_item_takes_the_template_and_its_inputs_win_over_the_shared_ones() -> None:
    manifest = item_manifest(
        _taskmap(inputs={"a": 1, "b": 2}, timeout="30s", maxFailedItems=2, cancelled=False), 7, {"b": 3}
    )
    assert manifest["metadata"]["name"] == "m-7"
    assert manifest["metadata"]["labels"]["kubetask.dev/map"] == "m"
    assert manifest["metadata"]["labels"]["kubetask.dev/item"] == "7"
    assert manifest["metadata"]["ownerReferences"][0]["controller"] is True
    assert manifest["spec"] == {
        "image": "img",
        "task": {"module": "t", "name": "f"},
        "timeout": "30s",
        "inputs": {"a": 1, "b": 3},
    }


def test_each_item_writes_under_its_own_folder_of_the_output_prefix() -> None:
    manifest = item_manifest(_taskmap(outputPrefix="s3://b/run/"), 4, {})
    assert manifest["spec"]["outputPrefix"] == "s3://b/run/4"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('{"a": 1}\n[1, 2]\n', "line 2: expected a JSON object", id="not-an-object"),
        pytest.param('{"a": 1}\n{oops\n', "line 2 is not JSON", id="not-json"),
    ],
)
def test_a_bad_items_document_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidItemsError, match=message):
        parse_items_document(text, uri="s3://b/items.jsonl")


def test_an_items_document_skips_blank_lines() -> None:
    assert parse_items_document('{"a": 1}\n\n{"a": 2}\n', uri="x") == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("taskrun", "line"),
    [
        pytest.param(None, {"item": 0, "phase": "NotStarted"}, id="never-started"),
        pytest.param(
            {"status": {"phase": S, "outputs": {"o0": 1}}},
            {"item": 0, "phase": S, "outputs": {"o0": 1}},
            id="inline",
        ),
        pytest.param(
            {"status": {"phase": S, "outputsUri": "s3://b/o.json"}},
            {"item": 0, "phase": S, "outputsUri": "s3://b/o.json"},
            id="in-storage",
        ),
        pytest.param(
            {
                "status": {
                    "phase": F,
                    "conditions": [{"type": "Succeeded", "reason": "UserError", "message": "boom"}],
                }
            },
            {"item": 0, "phase": F, "reason": "UserError", "message": "boom"},
            id="failed",
        ),
    ],
)
def test_result_lines(taskrun: dict[str, object] | None, line: dict[str, object]) -> None:
    assert result_line(0, taskrun) == line
