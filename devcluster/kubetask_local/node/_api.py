"""The local node's HTTP client for the Kubernetes API: JSON requests with retries, and watch streams.

The node talks to the API server only through this client, as a kubelet does, so it works against the local
emulator and is subject to its injected faults: 429/5xx answers and refused connections are retried with
backoff until ``retry_for`` seconds have passed; a 409 whose reason is not ``AlreadyExists`` is retried too
(the node's patches carry no resourceVersion, so a real server never answers them with a conflict).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from kubetask_local.node._errors import ApiError

logger = logging.getLogger("kubetask_local.node")

_RETRIED_STATUSES = {429, 500, 502, 503, 504}
MERGE_PATCH = "application/merge-patch+json"


class NodeApiClient:
    def __init__(
        self, *, base_url: str, retry_for: float = 30.0, user_agent: str = "kubetask-local-node"
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_for = retry_for
        self._session: aiohttp.ClientSession | None = None
        self._user_agent = user_agent

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self._user_agent}, read_bufsize=2**22
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("NodeApiClient.open() must be awaited before requests")
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One API call, JSON in and out; ``ApiError`` for error answers that are not worth retrying."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_for
        delay = 0.05
        while True:
            try:
                return await self._request_once(
                    method, path, params=params, body=body, content_type=content_type
                )
            except ApiError as error:
                retry = error.status in _RETRIED_STATUSES or (
                    error.status == 409 and error.reason != "AlreadyExists"
                )
                wait = max(delay, min(error.retry_after, 10.0))  # a 429's Retry-After is honoured
                if not retry or loop.time() + wait > deadline:
                    raise
                await asyncio.sleep(wait - delay)
            except (TimeoutError, aiohttp.ClientError) as error:
                if loop.time() + delay > deadline:
                    raise ApiError(
                        method=method,
                        path=path,
                        status=0,
                        reason="Unreachable",
                        message=f"{type(error).__name__}: {error}",
                    ) from error
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _request_once(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: object, content_type: str
    ) -> dict[str, Any]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        timeout = aiohttp.ClientTimeout(total=30)
        async with self.session.request(
            method, self.base_url + path, params=params, data=data, headers=headers, timeout=timeout
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise _api_error(method, path, response.status, text, response.headers.get("Retry-After"))
            if not text:
                return {}
            parsed = json.loads(text)
            return parsed if isinstance(parsed, dict) else {"items": parsed}

    async def watch(self, path: str, *, params: Mapping[str, str]) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch request, until the server ends the stream. Errors raise ``ApiError``."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None)
        query = {**params, "watch": "true"}
        async with self.session.get(self.base_url + path, params=query, timeout=timeout) as response:
            if response.status >= 400:
                raise _api_error("GET", path, response.status, await response.text())
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)


def _api_error(method: str, path: str, status: int, text: str, retry_after: str | None = None) -> ApiError:
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiError(
        method=method,
        path=path,
        status=status,
        reason=str(body.get("reason") or ""),
        message=str(body.get("message") or text[:500]),
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else 0.0,
    )
