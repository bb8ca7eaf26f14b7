"""``pods/attach`` over WebSocket, what kubectl tries first for ``kubectl attach`` and ``kubectl run -i``.

A kubelet streams a container's output from the moment of attaching; so does this, from the log source the
node plugs in. The local node starts its processes with no stdin, so what the client sends on the stdin
channel is read and dropped. SPDY (kubectl's fallback) is not served: kubectl then shows a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping

import aiohttp.web

from kubetask_local.apiserver import _errors as errors
from kubetask_local.apiserver._logs import LogSource, container_name, follow_output
from kubetask_local.apiserver._resources import ResourceType
from kubetask_local.apiserver._store import Store

# The remote-command channel protocols with a Status on the error channel; v5 adds the close signal.
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT_CHANNEL = 1
ERROR_CHANNEL = 3
_SUCCESS = {"metadata": {}, "status": "Success"}


def _offered_protocols(raw: aiohttp.web.BaseRequest) -> list[str]:
    header = raw.headers.get("Sec-WebSocket-Protocol", "")
    return [item.strip() for item in header.split(",") if item.strip()]


async def serve_attach(
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
    if raw.headers.get("Upgrade", "").lower() != "websocket" or not set(PROTOCOLS) & set(
        _offered_protocols(raw)
    ):
        raise errors.bad_request(
            f"pods/attach is served over WebSocket with a subprotocol of {list(PROTOCOLS)!r}; "
            f"got Upgrade={raw.headers.get('Upgrade', '')!r}, protocols={_offered_protocols(raw)!r} "
            "(SPDY is not served by the local cluster; kubectl 1.30 or later uses WebSocket)"
        )
    if source is None or await source(target_namespace, pod_name, container, {}) is None:
        raise errors.bad_request(
            f'container "{container}" in pod "{pod_name}" is waiting to start: ContainerCreating'
        )
    socket = aiohttp.web.WebSocketResponse(protocols=PROTOCOLS)
    await socket.prepare(raw)

    async def send_output(data: bytes) -> None:
        await socket.send_bytes(bytes([STDOUT_CHANNEL]) + data)

    async def stream() -> None:
        await follow_output(
            send_output,
            store=store,
            pods=pods,
            namespace=target_namespace,
            pod_name=pod_name,
            container=container,
            query={},
            source=source,
        )
        await socket.send_bytes(bytes([ERROR_CHANNEL]) + json.dumps(_SUCCESS).encode())

    async def drain_input() -> None:  # stdin and v5 close signals; also sees the client hang up
        async for _message in socket:
            pass

    tasks = {asyncio.create_task(stream()), asyncio.create_task(drain_input())}
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            with contextlib.suppress(ConnectionError):  # the client went away mid-stream
                task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await socket.close()
    return socket
