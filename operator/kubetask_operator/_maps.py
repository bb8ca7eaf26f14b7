"""The TaskMap controller's I/O: reads maps and their items from the watches, creates and cancels item
TaskRuns, writes the map's status, collects the outputs and deletes finished maps after their TTL.

Nothing here is the source of truth: the first time a map is worked on after a (re)start, its items are
listed from the API (by the ``kubetask.dev/map`` label), so a restarted operator counts the items already
running before it creates any; item names are deterministic (``<map>-<index>``), so an item created twice
is refused by the API (409) rather than run twice. Work on one map is serialized in its own task; status
writes are coalesced to at most one a second per map; item creations run in tasks of their own (never
delayed, and the map's next decision does not wait for the API's answer). With the process's TaskRun
controller at hand (``runs``), an item's end is heard as soon as its final status is written and each new
item is handed straight over to be given its pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import quote

import kubetask
from kubetask_api import (
    API_VERSION,
    CONDITION_SUCCEEDED,
    FINAL_PHASES,
    GROUP,
    INLINE_OUTPUTS_MAX_BYTES,
    INLINE_OUTPUTS_MAX_ITEMS,
    KIND,
    LABEL_ITEM,
    LABEL_MANAGED_BY,
    LABEL_MAP,
    MANAGED_BY_OPERATOR,
    MAP_KIND,
    MAP_PLURAL,
    PENDING,
    REASON_INVALID_ITEMS,
    SUCCEEDED,
    VERSION,
    is_label_value,
    item_name,
    succeeded_condition,
)
from kubetask_operator._client import KubeClient
from kubetask_operator._controller import Controller, taskrun_path
from kubetask_operator._errors import ApiError
from kubetask_operator._events import build_event
from kubetask_operator._map_plan import ItemTally, MapDecision, MapLimits, counts_of, decide_map, is_cached
from kubetask_operator._reconcile import Event
from kubetask_operator._settings import Settings
from kubetask_operator._times import format_time, parse_time, utcnow

logger = logging.getLogger("kubetask_operator.maps")

Key = tuple[str, str]  # (namespace, TaskMap name)
#: TaskMap spec fields that are the map's own; every other field is passed to each item as it is.
MAP_ONLY_FIELDS = frozenset(
    {"items", "itemsFrom", "inputs", "parallelism", "maxFailedItems", "cancelled", "ttlSecondsAfterFinished"}
)
OUTPUTS_DOCUMENT = "taskmap-outputs.jsonl"
_STATUS_INTERVAL = 1.0  # seconds between status writes of one running map (the last one is never held back)
_LIST_PAGE = 500
_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)


class InvalidItemsError(ValueError):
    """A map whose items cannot be read or turned into TaskRuns; the message names the field."""


def taskmap_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{MAP_PLURAL}"
    return f"{base}/{name}" if name else base


def _version(body: Mapping[str, Any]) -> int | None:
    try:
        return int((body.get("metadata") or {}).get("resourceVersion", ""))
    except ValueError:
        return None


def _phase(taskrun: Mapping[str, Any]) -> str:
    return str((taskrun.get("status") or {}).get("phase") or PENDING)


def _note(tally: ItemTally, index: int, taskrun: Mapping[str, Any]) -> bool:
    """Record what ``taskrun`` (item ``index``'s TaskRun) says in ``tally``; True when that changed it."""
    cached = is_cached(taskrun.get("status") or {})
    return tally.set(index, _phase(taskrun), version=_version(taskrun), cached=cached)


def _item_index(taskrun: Mapping[str, Any]) -> tuple[Key, int] | None:
    metadata = taskrun.get("metadata") or {}
    labels = metadata.get("labels") or {}
    text = str(labels.get(LABEL_ITEM, ""))
    if LABEL_MAP not in labels or not text.isdigit():
        return None
    return (str(metadata.get("namespace")), str(labels[LABEL_MAP])), int(text)


def _owned_by(taskrun: Mapping[str, Any], uid: str) -> bool:
    owners = (taskrun.get("metadata") or {}).get("ownerReferences") or []
    return any(owner.get("kind") == MAP_KIND and owner.get("uid") == uid for owner in owners)


def parse_items_document(text: str, *, uri: str) -> list[dict[str, Any]]:
    """The items of a JSON-lines document (blank lines skipped); InvalidItemsError names the bad line."""
    items: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as error:
            raise InvalidItemsError(f"spec.itemsFrom {uri!r}: line {number} is not JSON: {error}") from None
        if not isinstance(item, dict):
            raise InvalidItemsError(
                f"spec.itemsFrom {uri!r}: line {number}: expected a JSON object of inputs by name, "
                f"got {line.strip()[:80]!r}"
            )
        items.append(item)
    return items


def item_manifest(taskmap: Mapping[str, Any], index: int, item: Mapping[str, Any]) -> dict[str, Any]:
    """The TaskRun of item ``index``: the map's template fields, the shared inputs under the item's own."""
    metadata = taskmap["metadata"]
    spec = taskmap.get("spec") or {}
    child: dict[str, Any] = {key: value for key, value in spec.items() if key not in MAP_ONLY_FIELDS}
    inputs = {**(spec.get("inputs") or {}), **item}
    if inputs:
        child["inputs"] = inputs
    if child.get("outputPrefix"):  # one folder per item: items must not overwrite each other's outputs
        child["outputPrefix"] = f"{str(child['outputPrefix']).rstrip('/')}/{index}"
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": item_name(metadata["name"], index),
            "namespace": metadata["namespace"],
            "labels": {
                LABEL_MAP: metadata["name"],
                LABEL_ITEM: str(index),
                LABEL_MANAGED_BY: MANAGED_BY_OPERATOR,
            },
            # Controller-owned, so deleting the map deletes its items (garbage collection). No
            # blockOwnerDeletion: it would need update rights on taskmaps/finalizers under the
            # OwnerReferencesPermissionEnforcement admission plugin, and foreground deletion is not needed.
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": MAP_KIND,
                    "name": metadata["name"],
                    "uid": metadata["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": child,
    }


def result_line(index: int, taskrun: Mapping[str, Any] | None) -> dict[str, Any]:
    """One line of the outputs document: an item's outputs (or where they are), or how it ended."""
    if taskrun is None:
        return {"item": index, "phase": "NotStarted"}
    status = taskrun.get("status") or {}
    phase = _phase(taskrun)
    line: dict[str, Any] = {"item": index, "phase": phase}
    if phase == SUCCEEDED:
        if status.get("outputs") is not None:
            line["outputs"] = status["outputs"]
        elif status.get("outputsUri"):
            line["outputsUri"] = status["outputsUri"]
        return line
    condition = succeeded_condition(status)
    if condition:
        line["reason"] = condition.get("reason")
        line["message"] = condition.get("message")
    return line


class MapController:
    def __init__(
        self,
        *,
        client: KubeClient,
        settings: Settings,
        clock: Callable[[], datetime.datetime] = utcnow,
        write_document: Callable[[str, bytes], None] | None = None,
        read_document: Callable[[str], bytes] | None = None,
        runs: Controller | None = None,
    ) -> None:
        """``runs``: the TaskRun controller of this process. The map then hands each item it creates to it
        at once (its pod is made without waiting for the item's watch event) and hears of each item's end
        as soon as its final status is written (the next item starts without waiting for the watch)."""
        self._client = client
        self._runs = runs
        if runs is not None:
            runs.finished_listeners.append(self._note_finished)
        self._settings = settings
        self._clock = clock
        self._write_document = write_document or _write_uri
        self._read_document = read_document or _read_uri
        self._maps: dict[Key, dict[str, Any]] = {}
        self._tallies: dict[Key, ItemTally] = {}
        self._items: dict[Key, list[dict[str, Any]]] = {}
        self._workers: dict[Key, asyncio.Task[None]] = {}
        self._wake: dict[Key, asyncio.Event] = {}
        self._written: dict[Key, tuple[dict[str, Any], float]] = {}
        self._ttl: dict[Key, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task[Any]] = set()
        # Items whose create met a TaskRun of the same name not owned by the map (left by an earlier map
        # of that name, being garbage-collected): created again once the watch shows it deleted.
        self._conflicts: dict[Key, set[int]] = {}
        self._refused: dict[Key, str] = {}  # why the API refused an item for good: the map fails with it

    # ------------------------------------------------------------ what the watches say

    async def on_taskmap(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace")), str(metadata.get("name")))
        if event_type == "DELETED":
            self._forget(key, cancel_ttl=True)
            return
        cached = self._maps.get(key)
        if cached is not None:
            if (cached.get("metadata") or {}).get("uid") != metadata.get("uid"):
                self._forget(key, cancel_ttl=True)  # a new map under an old name
            else:
                old, new = _version(cached), _version(body)
                if old is not None and new is not None and new < old:
                    return
        if metadata.get("deletionTimestamp"):
            self._forget(key, cancel_ttl=True)
            return
        if (body.get("status") or {}).get("phase") in FINAL_PHASES:
            self._forget(key, cancel_ttl=False)
            self._schedule_ttl(key, body)
            return
        self._maps[key] = dict(body)
        self._kick(key)

    async def on_item(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        self._note_item(event_type, body)

    def _note_finished(self, taskrun: Mapping[str, Any]) -> None:
        if LABEL_MAP in ((taskrun.get("metadata") or {}).get("labels") or {}):
            self._note_item("MODIFIED", taskrun)

    def _note_item(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        found = _item_index(body)
        if found is None:
            return
        key, index = found
        tally, taskmap = self._tallies.get(key), self._maps.get(key)
        if tally is None or taskmap is None:
            return  # not listed yet (the listing will see it), or finished
        if not _owned_by(body, taskmap["metadata"].get("uid", "")):
            if event_type == "DELETED" and index in self._conflicts.get(key, set()):
                self._conflicts[key].discard(index)
                tally.remove(index)
                self._kick(key)
            return
        changed = tally.remove(index) if event_type == "DELETED" else _note(tally, index, body)
        if changed:
            self._kick(key)

    async def stop(self) -> None:
        for handle in self._ttl.values():
            handle.cancel()
        tasks = [*self._workers.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------ one worker per running map

    def _kick(self, key: Key) -> None:
        self._wake.setdefault(key, asyncio.Event()).set()
        worker = self._workers.get(key)
        if worker is None or worker.done():
            self._workers[key] = asyncio.create_task(self._work(key), name=f"taskmap {key[0]}/{key[1]}")

    def _forget(self, key: Key, *, cancel_ttl: bool) -> None:
        self._maps.pop(key, None)
        self._tallies.pop(key, None)
        self._items.pop(key, None)
        self._written.pop(key, None)
        self._conflicts.pop(key, None)
        self._refused.pop(key, None)
        wake = self._wake.pop(key, None)
        if wake is not None:
            wake.set()  # the worker sees the map gone and ends
        if cancel_ttl and key in self._ttl:
            self._ttl.pop(key).cancel()

    async def _work(self, key: Key) -> None:
        failures = 0
        flush_in: float | None = None
        while True:
            wake = self._wake.get(key)
            if wake is None:
                return
            if flush_in is None:
                await wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=flush_in)
            wake.clear()
            taskmap = self._maps.get(key)
            if taskmap is None:
                return
            try:
                flush_in = await self._reconcile(key, taskmap)
            except (TimeoutError, ApiError, OSError) as error:
                delay = _RETRY_SECONDS[min(failures, len(_RETRY_SECONDS) - 1)]
                failures += 1
                logger.warning("taskmap %s/%s: %s; retrying in %gs", *key, error, delay)
                flush_in = None
                await asyncio.sleep(delay)
                wake.set()
                continue
            except Exception:  # a bug must not end the worker silently: log it and try again later
                logger.exception("taskmap %s/%s: unexpected error; retrying in 10s", *key)
                await asyncio.sleep(10.0)
                wake.set()
                continue
            failures = 0
            if flush_in is not None and flush_in < 0:  # finished
                self._workers.pop(key, None)
                return

    async def _reconcile(self, key: Key, taskmap: dict[str, Any]) -> float | None:
        """One step; returns seconds until a held-back status write is due, None, or -1 when finished."""
        namespace, name = key
        metadata = taskmap["metadata"]
        spec = taskmap.get("spec") or {}
        try:
            items = await self._load_items(key, taskmap)
        except InvalidItemsError as error:
            await self._finish_invalid(key, taskmap, str(error))
            return -1
        tally = self._tallies.get(key)
        if tally is None:
            tally = await self._list_items(namespace, name, uid=str(metadata.get("uid", "")))
            if self._maps.get(key) is not taskmap:
                return None  # superseded while listing: the newer body's run will decide
            self._tallies[key] = tally
        limits = MapLimits.of(spec, total=len(items))
        decision = decide_map(limits, tally)
        status = taskmap.get("status") or {}
        if not status.get("startTime"):
            self._post_event(
                taskmap,
                Event(
                    "Normal",
                    "Started",
                    f"started: {len(items)} items, at most {limits.parallelism} at once, "
                    f"maxFailedItems {limits.max_failed}",
                ),
            )
        refused = self._refused.pop(key, None)
        if refused is not None:
            await self._finish_invalid(key, taskmap, refused)
            return -1
        if decision.create:
            self._create_items(key, taskmap, tally, items, decision.create)
        if decision.cancel:
            await self._cancel_items(namespace, name, tally, decision.cancel)
        if (
            decision.counts["failed"] + decision.counts["cancelled"]
            and not (int(status.get("failed") or 0) + int(status.get("cancelled") or 0))
            and not limits.cancelled
        ):
            self._post_event(
                taskmap,
                Event("Warning", "ItemFailed", f"first failed item(s): {decision.failed_items}"),
            )
        if decision.finished:
            await self._finish(key, taskmap, decision)
            return -1
        return await self._write_status(key, taskmap, decision)

    # ------------------------------------------------------------ reading the map's items

    async def _load_items(self, key: Key, taskmap: Mapping[str, Any]) -> list[dict[str, Any]]:
        cached = self._items.get(key)
        if cached is not None:
            return cached
        spec = taskmap.get("spec") or {}
        name = str(taskmap["metadata"]["name"])
        if not is_label_value(name):
            raise InvalidItemsError(
                f"metadata.name: a TaskMap's name labels its items ({LABEL_MAP}), so it must be a label "
                f"value of at most 63 characters; got {name!r} ({len(name)} characters)"
            )
        if "itemsFrom" in spec:
            uri = str(spec["itemsFrom"])
            try:
                data = await asyncio.to_thread(self._read_document, uri)
            except Exception as error:  # any storage failure: the message is the user's to fix
                raise InvalidItemsError(f"spec.itemsFrom {uri!r} cannot be read: {error}") from None
            items = parse_items_document(data.decode("utf-8", errors="replace"), uri=uri)
        else:
            raw = spec.get("items") or []
            for index, item in enumerate(raw):
                if not isinstance(item, dict):
                    raise InvalidItemsError(
                        f"spec.items[{index}]: expected an object of inputs, got {item!r}"
                    )
            items = list(raw)
        self._items[key] = items
        return items

    async def _list_items(self, namespace: str, name: str, *, uid: str) -> ItemTally:
        """The items' phases as the API has them now (the start of every map's work after a restart)."""
        tally = ItemTally()
        async for taskrun in self._item_pages(namespace, name):
            found = _item_index(taskrun)
            if found is not None and _owned_by(taskrun, uid):
                _note(tally, found[1], taskrun)
        return tally

    async def _item_pages(self, namespace: str, name: str) -> Any:
        selector = quote(f"{LABEL_MAP}={name}", safe="")
        token = ""
        while True:
            page = await self._client.get(
                taskrun_path(namespace) + f"?labelSelector={selector}&limit={_LIST_PAGE}{token}"
            )
            for taskrun in (page or {}).get("items") or []:
                yield taskrun
            continue_token = ((page or {}).get("metadata") or {}).get("continue")
            if not continue_token:
                return
            token = f"&continue={quote(str(continue_token), safe='')}"

    # ------------------------------------------------------------ acting on items

    def _create_items(
        self,
        key: Key,
        taskmap: Mapping[str, Any],
        tally: ItemTally,
        items: list[dict[str, Any]],
        indexes: tuple[int, ...],
    ) -> None:
        """Start creating the items' TaskRuns, each in its own task, so the map's work goes on while the API
        answers (the next freed slot is filled at once rather than after this batch's round trips)."""
        for index in indexes:  # counted as unfinished before the request, so no other decision exceeds
            tally.set(index, PENDING)
        for index in indexes:
            self._in_background(self._create_item(key, taskmap, tally, index, items[index]))

    async def _create_item(
        self, key: Key, taskmap: Mapping[str, Any], tally: ItemTally, index: int, item: dict[str, Any]
    ) -> None:
        try:
            created = await self._client.create(taskrun_path(key[0]), item_manifest(taskmap, index, item))
        except Exception as error:  # whatever it is, the item must not stay counted as created
            tally.remove(index)
            if self._tallies.get(key) is not tally:
                return  # the map is gone or finished meanwhile
            if isinstance(error, ApiError) and 400 <= error.status < 500 and error.status not in (408, 429):
                # Refused for good (the client retried what is transient): the map fails saying why.
                self._refused.setdefault(key, f"item {index}: the API refused its TaskRun: {error.message}")
                self._kick(key)
                return
            if isinstance(error, ApiError | TimeoutError | OSError):
                logger.warning("taskmap %s/%s: item %d not created: %s; trying again", *key, index, error)
            else:  # a bug must not stall the map: log it and try again
                logger.exception("taskmap %s/%s: item %d not created; trying again", *key, index)
            asyncio.get_running_loop().call_later(_RETRY_SECONDS[1], self._kick_if_current, key, tally)
            return
        if created is not None:
            _note(tally, index, created)
            if self._runs is not None:
                await self._runs.take_created(created)
        elif self._tallies.get(key) is tally:
            # 409: ours (the watch will report it) or an old map's (recreated once it is gone)
            self._conflicts.setdefault(key, set()).add(index)

    def _kick_if_current(self, key: Key, tally: ItemTally) -> None:
        if self._tallies.get(key) is tally:
            self._kick(key)

    async def _cancel_items(
        self, namespace: str, name: str, tally: ItemTally, indexes: tuple[int, ...]
    ) -> None:
        async def cancel(index: int) -> None:
            path = taskrun_path(namespace, item_name(name, index))
            try:
                await self._client.merge_patch(path, {"spec": {"cancelled": True}})
            except ApiError as error:
                if error.status != 404:
                    raise
            tally.cancel_requested.add(index)

        await asyncio.gather(*(cancel(index) for index in indexes))

    # ------------------------------------------------------------ status, outputs, events, TTL

    def _status(self, taskmap: Mapping[str, Any], decision: MapDecision) -> dict[str, Any]:
        previous = taskmap.get("status") or {}
        now = format_time(self._clock())
        condition_status = {SUCCEEDED: "True", "Running": "Unknown"}.get(decision.phase, "False")
        old_condition = succeeded_condition(previous)
        counts = decision.counts
        done = counts["succeeded"] + counts["failed"] + counts["cancelled"]
        status: dict[str, Any] = {
            "phase": decision.phase,
            "observedGeneration": (taskmap.get("metadata") or {}).get("generation"),
            **counts,
            "progress": f"{done}/{counts['total']}",
            "failedItems": decision.failed_items,
            "startTime": previous.get("startTime") or now,
            "conditions": [
                {
                    "type": CONDITION_SUCCEEDED,
                    "status": condition_status,
                    "reason": decision.reason,
                    "message": decision.message,
                    "lastTransitionTime": old_condition.get("lastTransitionTime")
                    if old_condition.get("status") == condition_status
                    else now,
                }
            ],
        }
        if status["observedGeneration"] is None:
            del status["observedGeneration"]
        return status

    async def _write_status(self, key: Key, taskmap: dict[str, Any], decision: MapDecision) -> float | None:
        status = self._status(taskmap, decision)
        last, written_at = self._written.get(key, ({}, 0.0))
        comparable = {k: v for k, v in status.items() if k != "conditions"}
        if comparable == {k: v for k, v in last.items() if k != "conditions"} and (
            status["conditions"][0]["message"] == (last.get("conditions") or [{}])[0].get("message")
        ):
            return None
        wait = written_at + _STATUS_INTERVAL - time.monotonic()
        if wait > 0 and last.get("phase") == status["phase"]:
            return wait
        await self._patch_status(key, taskmap, status)
        return None

    async def _patch_status(self, key: Key, taskmap: dict[str, Any], status: dict[str, Any]) -> None:
        namespace, name = key
        patched = await self._client.merge_patch(
            taskmap_path(namespace, name) + "/status", {"status": status}
        )
        self._written[key] = (status, time.monotonic())
        if self._maps.get(key) is taskmap and patched:
            # Keep our view current (startTime, counts) until the watch brings the same version.
            taskmap["status"] = patched.get("status") or status
            taskmap.setdefault("metadata", {})["resourceVersion"] = (patched.get("metadata") or {}).get(
                "resourceVersion", taskmap["metadata"].get("resourceVersion")
            )

    async def _finish(self, key: Key, taskmap: dict[str, Any], decision: MapDecision) -> None:
        status = self._status(taskmap, decision)
        status["completionTime"] = format_time(self._clock())
        status.update(await self._collect_outputs(key, taskmap, decision.counts["total"]))
        await self._patch_status(key, taskmap, status)
        if decision.phase == SUCCEEDED:
            self._post_event(taskmap, Event("Normal", decision.phase, decision.message))
        else:
            self._post_event(taskmap, Event("Warning", decision.phase, decision.message))
        self._forget(key, cancel_ttl=False)
        self._schedule_ttl(key, {**taskmap, "status": status})

    async def _finish_invalid(self, key: Key, taskmap: dict[str, Any], message: str) -> None:
        tally = self._tallies.get(key) or ItemTally()
        decision = MapDecision(
            create=(),
            cancel=(),
            phase="Failed",
            reason=REASON_INVALID_ITEMS,
            message=message,
            counts=counts_of(tally, max(len(self._items.get(key) or []), len(tally))),
            failed_items="",
        )
        logger.info("taskmap %s/%s failed: %s", *key, message)
        status = self._status(taskmap, decision)
        status["completionTime"] = format_time(self._clock())
        await self._patch_status(key, taskmap, status)
        self._post_event(taskmap, Event("Warning", REASON_INVALID_ITEMS, message))
        self._forget(key, cancel_ttl=False)
        self._schedule_ttl(key, {**taskmap, "status": status})

    def _outputs_uri(self, taskmap: Mapping[str, Any]) -> str | None:
        spec = taskmap.get("spec") or {}
        metadata = taskmap["metadata"]
        if spec.get("outputPrefix"):
            return f"{str(spec['outputPrefix']).rstrip('/')}/{OUTPUTS_DOCUMENT}"
        if self._settings.storage_prefix:
            prefix = self._settings.storage_prefix
            return f"{prefix}/{metadata['namespace']}/{metadata['name']}/{OUTPUTS_DOCUMENT}"
        return None

    async def _collect_outputs(self, key: Key, taskmap: Mapping[str, Any], total: int) -> dict[str, Any]:
        """status.outputsUri (a JSON-lines document, one line per item in order) and, for small maps,
        status.outputs; status.outputsMessage says why either is missing. Nothing is ever cut short."""
        namespace, name = key
        uid = str(taskmap["metadata"].get("uid", ""))
        by_index: dict[int, dict[str, Any]] = {}
        async for taskrun in self._item_pages(namespace, name):
            found = _item_index(taskrun)
            if found is not None and _owned_by(taskrun, uid) and found[1] < total:
                by_index[found[1]] = result_line(found[1], taskrun)
        lines = [by_index.get(index) or result_line(index, None) for index in range(total)]
        del by_index
        document = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
        result: dict[str, Any] = {}
        uri = self._outputs_uri(taskmap)
        problems: list[str] = []
        if uri is not None:
            try:
                await asyncio.to_thread(self._write_document, uri, document)
                result["outputsUri"] = uri
            except Exception as error:  # storage is the user's: say what failed, keep the map's result
                problems.append(f"the outputs document could not be written to {uri}: {error}")
        if total <= INLINE_OUTPUTS_MAX_ITEMS and len(document) <= INLINE_OUTPUTS_MAX_BYTES:
            result["outputs"] = lines
        elif "outputsUri" not in result:
            problems.append(
                f"outputs of {total} items ({len(document)} bytes) are more than status.outputs holds "
                f"({INLINE_OUTPUTS_MAX_ITEMS} items, {INLINE_OUTPUTS_MAX_BYTES} bytes) and no storage is "
                "configured (spec.outputPrefix or the operator's KUBETASK_STORAGE_PREFIX): read each "
                f"item's outputs from its TaskRun (kubectl get ktr -l {LABEL_MAP}={name})"
            )
        if problems:
            result["outputsMessage"] = "; ".join(problems)
        return result

    def _post_event(self, taskmap: Mapping[str, Any], event: Event) -> None:
        document = build_event(taskmap, event, instance="kubetask-operator")
        document["involvedObject"]["kind"] = MAP_KIND
        namespace = str(taskmap["metadata"]["namespace"])

        async def post() -> None:
            try:
                await self._client.create(f"/api/v1/namespaces/{namespace}/events", document)
            except ApiError as error:
                logger.debug("event %s not posted: %s", event.reason, error)

        self._in_background(post())

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _schedule_ttl(self, key: Key, taskmap: Mapping[str, Any]) -> None:
        ttl = (taskmap.get("spec") or {}).get("ttlSecondsAfterFinished")
        finished = parse_time((taskmap.get("status") or {}).get("completionTime"))
        if not isinstance(ttl, int) or finished is None or key in self._ttl:
            return
        uid = str(taskmap["metadata"].get("uid", ""))
        delay = max(0.0, (finished + datetime.timedelta(seconds=ttl) - self._clock()).total_seconds())

        def expire() -> None:
            self._ttl.pop(key, None)
            self._in_background(self._delete_map(key, uid))

        self._ttl[key] = asyncio.get_running_loop().call_later(delay, expire)

    async def _delete_map(self, key: Key, uid: str) -> None:
        namespace, name = key
        body = {"propagationPolicy": "Background", "preconditions": {"uid": uid}}
        try:
            await self._client.delete(taskmap_path(namespace, name), body=body)
        except ApiError as error:  # 409: a new map took the name; it has its own TTL
            logger.info("taskmap %s/%s not deleted after its TTL: %s", namespace, name, error)


def _read_uri(uri: str) -> bytes:
    """Read with the storage layer the pods use (s3://, gs://, file://, data:, ...)."""
    data: bytes = kubetask.read_uri(uri)
    return data


def _write_uri(uri: str, data: bytes) -> None:
    kubetask.write_uri(uri, data)
