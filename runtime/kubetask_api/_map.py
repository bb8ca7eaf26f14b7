"""The TaskMap contract: names of the resource, the labels on its items, and the compressed index lists
its status uses (``"3,7-9"``, as Indexed Jobs write ``status.failedIndexes``)."""

from __future__ import annotations

from collections.abc import Iterable

from kubetask_api._resource import GROUP

MAP_KIND = "TaskMap"
MAP_LIST_KIND = "TaskMapList"
MAP_PLURAL = "taskmaps"
MAP_SINGULAR = "taskmap"
MAP_SHORT_NAMES = ("ktm",)
MAP_CRD_NAME = f"{MAP_PLURAL}.{GROUP}"

# Every item of a map is a TaskRun named "<map>-<index>" carrying these two labels.
LABEL_MAP = "kubetask.dev/map"
LABEL_ITEM = "kubetask.dev/item"

# A map's phases are a TaskRun's without Retrying (an item retries inside its own TaskRun).
MAP_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Cancelled")

# Reasons in a map's Succeeded condition.
REASON_ITEMS_SUCCEEDED = "ItemsSucceeded"
REASON_TOO_MANY_FAILED = "FailedItemsExceeded"
REASON_MAP_CANCELLED = "Cancelled"
REASON_INVALID_ITEMS = "InvalidItems"

# Outputs are written inline in status.outputs only for maps this small; larger ones go to storage
# (status.outputsUri) and, without storage, are not collected (status says so; nothing is truncated).
INLINE_OUTPUTS_MAX_ITEMS = 100
INLINE_OUTPUTS_MAX_BYTES = 64 * 1024


def item_name(map_name: str, index: int) -> str:
    """The TaskRun name of item ``index`` of map ``map_name``."""
    return f"{map_name}-{index}"


def compress_indexes(indexes: Iterable[int]) -> str:
    """``[3, 7, 8, 9]`` -> ``"3,7-9"``: sorted, duplicates dropped, runs of consecutive indexes as ranges."""
    parts: list[str] = []
    ordered = sorted(set(indexes))
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = ordered[start], ordered[end]
        parts.append(str(first) if first == last else f"{first}-{last}")
        start = end + 1
    return ",".join(parts)


def expand_indexes(text: str) -> list[int]:
    """``"3,7-9"`` -> ``[3, 7, 8, 9]``; ValueError naming the bad part."""
    indexes: list[int] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"index list {text!r}: expected N or N-M, got {part!r}")
        low, high = int(first), int(last) if last else int(first)
        if high < low:
            raise ValueError(f"index list {text!r}: range {part!r} runs backwards")
        indexes.extend(range(low, high + 1))
    return indexes
