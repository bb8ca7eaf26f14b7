"""Watch streams: newline-delimited JSON events, resumable by resourceVersion, with bookmarks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp.web

from kubetask_local.apiserver._objects import Obj
from kubetask_local.apiserver._resources import ResourceType
from kubetask_local.apiserver._selectors import Predicate
from kubetask_local.apiserver._store import Store, WatchEvent

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _matches(obj: Obj | None, predicates: list[Predicate]) -> bool:
    return obj is not None and all(predicate(obj) for predicate in predicates)


def translate(event: WatchEvent, predicates: list[Predicate]) -> tuple[str, Obj] | None:
    """The event a selecting watcher sees: objects moving out of the selection are DELETED for it."""
    if not predicates:
        return event.type, event.obj
    now_matches = _matches(event.obj, predicates)
    if event.type == "ADDED":
        return ("ADDED", event.obj) if now_matches else None
    if event.type == "DELETED":
        return ("DELETED", event.obj) if now_matches or _matches(event.old, predicates) else None
    was_matching = _matches(event.old, predicates)
    if now_matches:
        return ("MODIFIED" if was_matching else "ADDED"), event.obj
    return ("DELETED", event.obj) if was_matching else None


def _line(kind: str, obj: Any) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def expired_status(requested: int, oldest: int) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {requested} ({oldest})",
        "reason": "Expired",
        "code": 410,
    }


async def serve_watch(
    raw_request: aiohttp.web.BaseRequest,
    *,
    store: Store,
    resource: ResourceType,
    namespace: str | None,
    predicates: list[Predicate],
    resource_version: str | None,
    timeout_seconds: float | None,
    bookmarks: bool,
    send_initial_events: bool,
    bookmark_interval: float,
    drop_after: float | None,
    render: Callable[[Obj], Any],
) -> aiohttp.web.StreamResponse:
    watcher = store.subscribe(resource, namespace)
    try:
        response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(raw_request)
        last_rv = store.resource_version
        backlog: list[tuple[str, Obj]] = []
        if resource_version in (None, "", "0") or send_initial_events:
            backlog = [
                ("ADDED", obj) for obj in store.iter_objects(resource, namespace) if _matches(obj, predicates)
            ]
        else:
            try:
                since = int(resource_version)
            except ValueError:
                since = -1
            events = store.events_since(resource, since) if since >= 0 else None
            if events is None:
                await response.write(
                    _line("ERROR", expired_status(since, store.oldest_resource_version(resource)))
                )
                return response
            for event in events:
                if (
                    namespace is None
                    or not resource.namespaced
                    or (event.obj.get("metadata") or {}).get("namespace") == namespace
                ):
                    seen = translate(event, predicates)
                    if seen is not None:
                        backlog.append(seen)
        for kind, obj in backlog:
            await response.write(_line(kind, render(obj)))
        if send_initial_events and bookmarks:
            await response.write(_line("BOOKMARK", _bookmark(resource, last_rv, initial_end=True)))
        with contextlib.suppress(ConnectionError):  # the client went away: nothing left to tell it
            await _stream(
                response,
                raw_request,
                watcher=watcher,
                resource=resource,
                predicates=predicates,
                last_rv=last_rv,
                timeout_seconds=timeout_seconds,
                bookmarks=bookmarks,
                bookmark_interval=bookmark_interval,
                drop_after=drop_after,
                render=render,
                store=store,
            )
        return response
    finally:
        store.unsubscribe(resource, watcher)


def _bookmark(resource: ResourceType, resource_version: int, *, initial_end: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
    if initial_end:
        metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata}


async def _stream(
    response: aiohttp.web.StreamResponse,
    raw_request: aiohttp.web.BaseRequest,
    *,
    watcher: Any,
    resource: ResourceType,
    predicates: list[Predicate],
    last_rv: int,
    timeout_seconds: float | None,
    bookmarks: bool,
    bookmark_interval: float,
    drop_after: float | None,
    render: Callable[[Obj], Any],
    store: Store,
) -> None:
    started = time.monotonic()
    deadline = started + timeout_seconds if timeout_seconds else None
    drop_at = started + drop_after if drop_after is not None else None
    next_bookmark = started + bookmark_interval
    while True:
        moment = time.monotonic()
        limits = [next_bookmark if bookmarks else moment + 3600.0]
        if deadline is not None:
            limits.append(deadline)
        if drop_at is not None:
            limits.append(drop_at)
        wait = max(0.0, min(limits) - moment)
        try:
            event = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
        except TimeoutError:
            moment = time.monotonic()
            if drop_at is not None and moment >= drop_at:
                _drop(raw_request)
                return
            if deadline is not None and moment >= deadline:
                return
            if bookmarks:
                await response.write(_line("BOOKMARK", _bookmark(resource, store.resource_version)))
                next_bookmark = moment + bookmark_interval
            continue
        if event is None:  # shutdown ends the stream; the fault injector cuts it
            if not watcher.graceful:
                _drop(raw_request)
            return
        if event.resource_version <= last_rv:
            continue
        last_rv = event.resource_version
        seen = translate(event, predicates)
        if seen is not None:
            await response.write(_line(seen[0], render(seen[1])))


def _drop(raw_request: aiohttp.web.BaseRequest) -> None:
    """Cut the connection without finishing the chunked body: the client sees a broken stream."""
    transport = raw_request.transport
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()
