"""Canary: what ``_kopf_adapter`` uses beyond kopf's public API is still where it expects it.

A kopf upgrade that moves or renames any of it fails here, by name, instead of the operator silently losing
its memory housekeeping or dying on the first deeply nested TaskRun.
"""

from __future__ import annotations

import asyncio
import inspect

import kopf
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import fetching as kopf_fetching

from kubetask_operator import _kopf_adapter
from kubetask_operator._kopf_adapter import (
    ResourceMemories,
    forget_memory,
    install_tolerant_json,
    new_memories,
)


def test_kopf_operator_takes_the_memories_the_adapter_makes() -> None:
    assert "memories" in inspect.signature(kopf.operator).parameters
    assert isinstance(new_memories(), ResourceMemories)


def test_forget_memory_drops_kopfs_memory_of_one_object_by_uid() -> None:
    async def scenario() -> list[int]:
        memories = new_memories()
        await memories.recall({"metadata": {"uid": "a"}})
        await memories.recall({"metadata": {"uid": "b"}})
        before = len(list(memories.iter_all_memories()))
        await forget_memory(memories, "a")
        await forget_memory(memories, "never-seen")
        remaining = list(memories.iter_all_memories())
        again = await memories.recall({"metadata": {"uid": "b"}})
        return [before, len(remaining), int(again is remaining[0])]

    assert asyncio.run(scenario()) == [2, 1, 1]


def test_kopf_decodes_watch_streams_with_the_json_module_global_of_its_api_module() -> None:
    names = kopf_api.stream.__code__.co_names
    assert "json" in names
    assert "loads" in names
    install_tolerant_json()
    assert kopf_api.json.loads is _kopf_adapter.tolerant_loads
    assert kopf_api.json.dumps is not None  # the rest of the json module is still there


def test_kopf_lists_through_its_api_modules_get_with_the_signature_the_adapter_replaces() -> None:
    assert kopf_fetching.api is kopf_api
    assert "get" in kopf_fetching.fetch_objs.__code__.co_names
    original = inspect.signature(_kopf_adapter.KOPF_GET).parameters
    assert "response" in _kopf_adapter.KOPF_GET.__code__.co_varnames, "kopf's get decodes its response"
    install_tolerant_json()
    assert kopf_api.get is _kopf_adapter._tolerant_get
    assert list(inspect.signature(kopf_api.get).parameters) == list(original)
    request = inspect.signature(kopf_api.request).parameters
    assert {"method", "url", "payload", "headers", "timeout", "settings", "logger"} <= set(request)


def test_installing_twice_changes_nothing() -> None:
    install_tolerant_json()
    module = kopf_api.json
    install_tolerant_json()
    assert kopf_api.json is module
