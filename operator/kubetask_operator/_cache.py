"""Reusing the outputs of an identical, succeeded TaskRun instead of running it again: the key and the choice.

The store is the TaskRuns themselves: each cache-enabled TaskRun carries its key as the label
``kubetask.dev/cache-key`` (63 of the 64 hex digits of a sha256: a label value holds at most 63 characters)
and in ``status.cacheKey``; a run whose key matches a Succeeded TaskRun of its namespace takes that run's
outputs without a pod. No other system is needed, and an entry lives exactly as long as its TaskRun (its
``ttlSecondsAfterFinished``, or until it is deleted). Pure: the controller lists the peers and writes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from kubetask_api import FINAL_PHASES, REASON_WAITING_FOR_CACHE_OWNER, succeeded_condition
from kubetask_operator._spec import TaskRunSpec

CACHE_LABEL = "kubetask.dev/cache-key"


@dataclasses.dataclass(frozen=True)
class CacheKey:
    digest: str  # sha256 hex of the canonical parts
    parts: Mapping[str, Any]

    @property
    def label(self) -> str:
        return self.digest[:63]

    def describe(self) -> str:
        """The key's parts, one line (what ``kubetask describe`` shows to explain a hit or a miss)."""
        inputs = self.parts["inputs"]
        shown_inputs = inputs if len(inputs) <= 80 else f"{inputs[:77]}..."
        return (
            f"key {self.digest[:12]} = task {self.parts['resolver']} {' '.join(self.parts['loaderArgs'])}, "
            f"image {self.parts['image']}, code {self.parts['codeSha256'] or 'none'}, "
            f"version {self.parts['version'] or '(none)'}, inputs {shown_inputs}"
        )


def cache_key(spec: TaskRunSpec) -> CacheKey:
    """The key of a run: its task's identity, image, shipped code, cache version and canonical inputs."""
    if spec.inputs_json is not None:
        inputs = json.dumps(json.loads(spec.inputs_json), sort_keys=True, separators=(",", ":"))
    elif spec.inputs_from is not None:  # the document behind the URI is taken as immutable (as KFP does)
        inputs = f"inputsFrom:{spec.inputs_from}"
    else:
        inputs = "{}"
    parts: dict[str, Any] = {
        "resolver": spec.resolver,
        "loaderArgs": list(spec.loader_args),
        "image": spec.image,
        "codeSha256": spec.code.sha256 if spec.code is not None else "",
        "version": spec.cache_version or "",
        "inputs": inputs,
    }
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return CacheKey(digest=hashlib.sha256(canonical.encode("utf-8")).hexdigest(), parts=parts)


@dataclasses.dataclass(frozen=True)
class CacheDecision:
    """``hit``: take ``source``'s outputs; ``wait``: ``source`` (identical, unfinished) runs; ``run``."""

    kind: Literal["hit", "wait", "run"]
    key: CacheKey
    source: str = ""
    outputs: Mapping[str, Any] | None = None
    outputs_uri: str | None = None
    source_completed: str = ""


def decide_cache(
    name: str, key: CacheKey, peers: Iterable[Mapping[str, Any]], *, refresh: bool
) -> CacheDecision:
    """What a run of ``key`` does, given the other TaskRuns labelled with it (``peers``, itself excluded).

    A Succeeded peer with the same full key gives its outputs (the latest one), unless ``refresh``. An
    unfinished peer that has decided to run (its ``status.cacheKey`` written, not waiting itself) is the
    owner to wait for. Otherwise this run runs. The controller decides one run at a time per key, so of
    identical runs started together one runs and the others wait for it."""
    hits: list[Mapping[str, Any]] = []
    owners: list[str] = []
    for peer in peers:
        metadata = peer.get("metadata") or {}
        status = peer.get("status") or {}
        if metadata.get("name") == name or status.get("cacheKey") != key.digest:
            continue
        phase = status.get("phase")
        if phase == "Succeeded":
            hits.append(peer)
        elif (
            phase not in FINAL_PHASES
            and not metadata.get("deletionTimestamp")
            and succeeded_condition(status).get("reason") != REASON_WAITING_FOR_CACHE_OWNER
        ):
            owners.append(str(metadata.get("name")))
    if hits and not refresh:
        best = max(hits, key=lambda peer: str((peer.get("status") or {}).get("completionTime") or ""))
        status = best.get("status") or {}
        source = str(status.get("cachedFrom") or (best.get("metadata") or {}).get("name"))
        return CacheDecision(
            kind="hit",
            key=key,
            source=source,
            outputs=status.get("outputs"),
            outputs_uri=status.get("outputsUri"),
            source_completed=str(status.get("completionTime") or ""),
        )
    if owners and not refresh:
        return CacheDecision(kind="wait", key=key, source=sorted(owners)[0])
    return CacheDecision(kind="run", key=key)
