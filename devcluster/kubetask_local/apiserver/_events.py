"""Events are one resource served as core ``v1`` and ``events.k8s.io/v1``: stored in the core form, each
request sees its own version (``regarding``/``note`` there, ``involvedObject``/``message`` here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver._resources import ResourceType

# events.k8s.io/v1 field -> core v1 field
_RENAMED = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
)


def is_events_v1(resource: ResourceType) -> bool:
    return resource.group == "events.k8s.io" and resource.plural == "events"


def to_core(event: Mapping[str, Any]) -> dict[str, Any]:
    result = {key: value for key, value in event.items() if key not in dict(_RENAMED)}
    for new, core in _RENAMED:
        if new in event:
            result[core] = event[new]
    result["apiVersion"], result["kind"] = "v1", "Event"
    return result


def from_core(event: Mapping[str, Any]) -> dict[str, Any]:
    cores = {core for _, core in _RENAMED}
    result = {key: value for key, value in event.items() if key not in cores}
    for new, core in _RENAMED:
        if core in event:
            result[new] = event[core]
    result["apiVersion"], result["kind"] = "events.k8s.io/v1", "Event"
    return result


def core_field_selector(selector: str) -> str:
    """An events.k8s.io field selector in the core fields the objects are stored with."""
    for new, core in _RENAMED:
        selector = re.sub(rf"(^|,)\s*{new}(?=[.=!\s])", rf"\g<1>{core}", selector)
    return selector
