"""Every use of kopf beyond its public API, in this one module, so a kopf upgrade breaks one known place.

Two needs that kopf's public API does not cover:

- kopf keeps a small memory per object it has seen and drops it only when the object is deleted; finished
  TaskRuns are kept (until their TTL), so with thousands of them the operator drops their memories itself.
  ``ResourceMemories`` (whose instance kopf.operator() accepts publicly) is imported from its private home;
  its ``forget()`` is the stable call used to drop one.
- kopf decodes watch events and listings with ``json.loads``, which raises RecursionError on objects nested
  about 1000 deep; a real API server stores objects 10000 deep, so one such TaskRun would stop the
  operator's watch, the operator, and every TaskRun at each restart. ``install_tolerant_json`` makes kopf's
  API layer decode with ``tolerant_loads`` instead.

tests/operator/test_kopf_adapter.py checks that everything used here is still where this module expects it.
"""

from __future__ import annotations

import json
import types
from typing import Any

import aiohttp
from kopf._cogs.clients import api as kopf_api
from kopf._core.reactor.inventory import ResourceMemories

from kubetask_operator._nesting import tolerant_loads

__all__ = ["ResourceMemories", "forget_memory", "install_tolerant_json", "new_memories"]

KOPF_GET = kopf_api.get
"""kopf's own ``api.get``, which ``_tolerant_get`` replaces (kept so the canary test can compare them)."""


def new_memories() -> ResourceMemories:
    """The per-object memories to hand to ``kopf.operator(memories=...)``."""
    return ResourceMemories()


async def forget_memory(memories: ResourceMemories, uid: str) -> None:
    """Drop kopf's memory of the object with this uid (kopf keys its memories by uid)."""
    await memories.forget({"metadata": {"uid": uid}})


def _tolerant_json_module() -> types.ModuleType:
    module = types.ModuleType("json", "the json module, with a loads() that survives deep nesting")
    module.__dict__.update({k: v for k, v in vars(json).items() if not k.startswith("__")})
    module.loads = tolerant_loads  # type: ignore[attr-defined]
    return module


async def _tolerant_get(
    url: str,
    *,
    settings: Any,
    payload: object | None = None,
    headers: dict[str, str] | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    logger: Any,
) -> Any:
    """kopf's ``api.get`` (used for listings), decoding its answer with ``tolerant_loads``."""
    response = await kopf_api.request(
        method="get",
        url=url,
        payload=payload,
        headers=headers,
        timeout=timeout,
        settings=settings,
        logger=logger,
    )
    async with response:
        return await response.json(loads=tolerant_loads)


def install_tolerant_json() -> None:
    """Make kopf decode watch streams (``api.stream``) and listings (``api.get``) with ``tolerant_loads``.
    Idempotent; the process-wide change is confined to kopf's API module."""
    if getattr(kopf_api, "get", None) is _tolerant_get:
        return
    kopf_api.json = _tolerant_json_module()  # type: ignore[attr-defined]
    kopf_api.get = _tolerant_get
