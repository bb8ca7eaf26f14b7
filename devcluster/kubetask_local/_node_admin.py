"""Admin routes of the local node, served by the API server emulator under ``/kubetask-local/node``.

They are not Kubernetes API: tests and benchmarks use them to stop and start the node (a lost node), to switch
the benchmark fast mode and to choose which images fail to pull.

They are plugged in with ``ApiServer.add_admin_route`` (see :func:`add_node_admin_routes`).

- ``GET    /kubetask-local/node``                 ``{"name", "running", "pods", "fastMode", "failingImages"}``
- ``POST   /kubetask-local/node/stop``            the node dies: processes killed, no more status
- ``POST   /kubetask-local/node/start``           the node comes back
- ``PUT    /kubetask-local/node/fast-mode``       ``{"exitCode": 0, "terminationMessage": "..."}``
- ``DELETE /kubetask-local/node/fast-mode``       run pods for real again
- ``PUT    /kubetask-local/node/failing-images``  ``{"images": ["registry.example/app", ...]}``
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp.web

from kubetask_local.apiserver import ApiServer
from kubetask_local.node import FastMode, LocalNode


def _json(body: Any, *, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.Response(text=json.dumps(body), status=status, content_type="application/json")


def _bad_request(message: str) -> aiohttp.web.Response:
    return _json(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "BadRequest",
            "code": 400,
            "message": message,
        },
        status=400,
    )


def node_state(node: LocalNode) -> dict[str, Any]:
    fast = node.config.fast_mode
    return {
        "name": node.name,
        "running": node.running,
        "pods": node.pod_count,
        "fastMode": None
        if fast is None
        else {"exitCode": fast.exit_code, "terminationMessage": fast.termination_message},
        "failingImages": sorted(node.config.failing_images),
    }


def parse_fast_mode(body: Any) -> FastMode:
    """The body of ``PUT fast-mode``; errors name the field, show the value and say what is expected."""
    if not isinstance(body, dict):
        raise ValueError(f"the fast-mode body must be a JSON object, got {body!r}")
    unknown = sorted(set(body) - {"exitCode", "terminationMessage"})
    if unknown:
        raise ValueError(f"unknown fast-mode fields {unknown!r}; expected exitCode and/or terminationMessage")
    exit_code = body.get("exitCode", 0)
    if not isinstance(exit_code, int) or isinstance(exit_code, bool) or not 0 <= exit_code <= 255:
        raise ValueError(f"exitCode must be an integer from 0 to 255, got {exit_code!r}")
    message = body.get("terminationMessage", "")
    if not isinstance(message, str):
        raise ValueError(f"terminationMessage must be a string, got {message!r}")
    return FastMode(exit_code=exit_code, termination_message=message)


def parse_failing_images(body: Any) -> frozenset[str]:
    images = body.get("images") if isinstance(body, dict) else None
    if not isinstance(images, list) or not all(isinstance(image, str) for image in images):
        raise ValueError(f'the failing-images body must be {{"images": [<image name>, ...]}}, got {body!r}')
    return frozenset(images)


async def _read_json(request: aiohttp.web.BaseRequest) -> Any:
    text = await request.text()
    try:
        return json.loads(text) if text else {}
    except ValueError as error:
        raise ValueError(f"the body must be JSON, got {text[:200]!r} ({error})") from error


def add_node_admin_routes(server: ApiServer, node: LocalNode) -> None:
    async def show(_request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        return _json(node_state(node))

    async def stop(_request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        await node.stop_node()
        return _json(node_state(node))

    async def start(_request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        await node.start_node()
        return _json(node_state(node))

    async def set_fast_mode(request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        try:
            node.set_fast_mode(parse_fast_mode(await _read_json(request)))
        except ValueError as error:
            return _bad_request(str(error))
        return _json(node_state(node))

    async def clear_fast_mode(_request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        node.set_fast_mode(None)
        return _json(node_state(node))

    async def set_failing_images(request: aiohttp.web.BaseRequest) -> aiohttp.web.Response:
        try:
            node.set_failing_images(parse_failing_images(await _read_json(request)))
        except ValueError as error:
            return _bad_request(str(error))
        return _json(node_state(node))

    server.add_admin_route("GET", "node", show)
    server.add_admin_route("POST", "node/stop", stop)
    server.add_admin_route("POST", "node/start", start)
    server.add_admin_route("PUT", "node/fast-mode", set_fast_mode)
    server.add_admin_route("DELETE", "node/fast-mode", clear_fast_mode)
    server.add_admin_route("PUT", "node/failing-images", set_failing_images)
