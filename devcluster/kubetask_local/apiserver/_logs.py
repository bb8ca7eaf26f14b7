"""``pods/log``: container output served from a log source that the local node plugs in."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp.web

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver._resources import ResourceType
from kubetask_local.apiserver._store import Store

# (namespace, pod, container, query parameters) -> the log bytes, or None when the container has none (yet).
# The parameters are those of the request (tailLines, sinceSeconds, timestamps, previous, limitBytes) minus
# ``follow``; the source applies them. Following is done here by polling the source.
LogSource = Callable[[str, str, str, Mapping[str, str]], Awaitable[bytes | None]]

FOLLOW_POLL_SECONDS = 0.2
_SLICING = ("tailLines", "sinceSeconds", "sinceTime", "limitBytes")


def container_name(pod: Mapping[str, Any], requested: str | None) -> str:
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or []]
    all_names = names + [c.get("name") for c in spec.get("initContainers") or []]
    pod_name = pod["metadata"]["name"]
    if requested:
        if requested not in all_names:
            raise errors.bad_request(f"container {requested} is not valid for pod {pod_name}")
        return requested
    if len(names) == 1:
        return str(names[0])
    raise errors.bad_request(
        f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(map(str, names))}]"
    )


def _terminated(pod: Mapping[str, Any] | None, container: str) -> bool:
    if pod is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return True
    for state in (pod.get("status") or {}).get("containerStatuses") or []:
        if state.get("name") == container and "terminated" in (state.get("state") or {}):
            return True
    return False


async def serve_logs(
    raw: aiohttp.web.BaseRequest,
    *,
    store: Store,
    pods: ResourceType,
    target_namespace: str,
    pod_name: str,
    params: Mapping[str, str],
    source: LogSource | None,
) -> aiohttp.web.StreamResponse:
    pod = store.get(pods, target_namespace, pod_name)
    container = container_name(pod, params.get("container"))
    query = {key: value for key, value in params.items() if key != "follow"}
    if source is None:
        raise errors.bad_request(
            f'container "{container}" in pod "{pod_name}" is waiting to start: '
            "no node runs it (no log source is attached to the API server)"
        )
    output = await source(target_namespace, pod_name, container, query)
    if output is None:
        raise errors.bad_request(
            f'container "{container}" in pod "{pod_name}" is waiting to start: ContainerCreating'
        )
    follow = params.get("follow", "").lower() in ("true", "1")
    if not follow:
        return aiohttp.web.Response(body=output, headers={"Content-Type": "text/plain"})
    response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(raw)
    await response.write(output)
    with contextlib.suppress(ConnectionError):  # the client stopped following
        await follow_output(
            response.write,
            store=store,
            pods=pods,
            namespace=target_namespace,
            pod_name=pod_name,
            container=container,
            query=query,
            source=source,
        )
        await response.write_eof()
    return response


async def follow_output(
    write: Callable[[bytes], Awaitable[None]],
    *,
    store: Store,
    pods: ResourceType,
    namespace: str,
    pod_name: str,
    container: str,
    query: Mapping[str, str],
    source: LogSource,
) -> None:
    """Send what the container writes from now on, until it terminates (or its pod goes)."""
    full_query = {key: value for key, value in query.items() if key not in _SLICING}
    sent = len(await source(namespace, pod_name, container, full_query) or b"")
    deadline = time.monotonic() + 24 * 3600
    while time.monotonic() < deadline:
        finished = _terminated(store.find(pods, namespace, pod_name), container)
        current = await source(namespace, pod_name, container, full_query) or b""
        if len(current) > sent:
            await write(current[sent:])
            sent = len(current)
        if finished:
            return
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
