"""The operator's API client over real HTTP: transient answers are retried, real answers are not."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
import pytest
from aiohttp import web

from kubetask_operator import ApiError
from kubetask_operator._client import KubeClient

Scenario = Callable[[KubeClient], Awaitable[Any]]


def _serve(answers: list[tuple[int, dict[str, Any]]], scenario: Scenario) -> tuple[Any, list[str]]:
    """Answer requests with ``answers`` in turn (the last one repeats); run ``scenario`` against it."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path} {request.headers.get('Authorization')}")
        status, body = answers[min(len(seen) - 1, len(answers) - 1)]
        headers = {"Retry-After": "0"} if status == 429 else {}
        return web.json_response(body, status=status, headers=headers)

    async def main() -> Any:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        info = kopf.ConnectionInfo(server=f"http://127.0.0.1:{port}", token="secret")
        client = KubeClient(credentials=lambda: info, retry_for=5)
        try:
            return await scenario(client)
        finally:
            await client.close()
            await runner.cleanup()

    return asyncio.run(main()), seen


def _status(reason: str) -> dict[str, Any]:
    return {"kind": "Status", "reason": reason, "message": f"the server says {reason}"}


def test_transient_answers_are_retried_until_success() -> None:
    answers = [
        (500, _status("InternalError")),
        (429, _status("TooManyRequests")),
        (409, _status("Conflict")),
        (201, {"metadata": {"name": "p"}}),
    ]
    result, seen = _serve(answers, lambda c: c.create("/api/v1/namespaces/n/pods", {"kind": "Pod"}))
    assert result == {"metadata": {"name": "p"}}
    assert len(seen) == 4
    assert all(line.endswith("Bearer secret") for line in seen)


def test_already_exists_means_created_before() -> None:
    result, seen = _serve([(409, _status("AlreadyExists"))], lambda c: c.create("/api/v1/pods", {}))
    assert result is None
    assert len(seen) == 1


def test_a_conflict_on_a_precondition_is_not_retried() -> None:
    async def scenario(client: KubeClient) -> Any:
        with pytest.raises(ApiError) as raised:
            await client.merge_patch("/x/status", {"status": {}}, retry_conflicts=False)
        return raised.value

    error, seen = _serve([(409, _status("Conflict"))], scenario)
    assert (error.status, error.reason) == (409, "Conflict")
    assert len(seen) == 1


@pytest.mark.parametrize(("status", "reason"), [(422, "Invalid"), (403, "Forbidden"), (400, "BadRequest")])
def test_real_errors_are_raised_at_once_with_the_servers_message(status: int, reason: str) -> None:
    async def scenario(client: KubeClient) -> Any:
        with pytest.raises(ApiError) as raised:
            await client.request("POST", "/api/v1/pods", body={})
        return raised.value

    error, seen = _serve([(status, _status(reason))], scenario)
    assert len(seen) == 1
    assert error.status == status
    assert f"the server says {reason}" in str(error)


def test_not_found_reads_as_none_and_delete_as_false() -> None:
    async def scenario(client: KubeClient) -> Any:
        return await client.get("/api/v1/pods/x"), await client.delete("/api/v1/pods/x")

    (found, deleted), seen = _serve([(404, _status("NotFound"))], scenario)
    assert (found, deleted) == (None, False)
    assert collections.Counter(line.split()[0] for line in seen) == {"GET": 1, "DELETE": 1}


def test_retries_stop_after_retry_for() -> None:
    async def scenario(client: KubeClient) -> Any:
        client._retry_for = 0.3
        with pytest.raises(ApiError) as raised:
            await client.get("/api/v1/pods/x")
        return raised.value

    error, seen = _serve([(503, _status("ServiceUnavailable"))], scenario)
    assert error.status == 503
    assert len(seen) >= 2
