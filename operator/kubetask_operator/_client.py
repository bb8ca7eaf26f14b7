"""The operator's own Kubernetes API client: JSON over aiohttp, with retries, in kopf's event loop.

kopf watches; this client writes (pods, ConfigMaps, statuses, Events, deletions). Transient answers (429 with
its Retry-After, 5xx, dropped connections, a 409 that is not AlreadyExists on a write without a
resourceVersion) are retried with backoff for up to ``retry_for`` seconds, so a flaky API server slows the
operator down but does not make it drop work. Credentials come from the same source as kopf's (the official
client's in-cluster or KUBECONFIG loading) and are loaded again after a 401.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import random
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import kopf

from kubetask_operator._errors import ApiError
from kubetask_operator._nesting import tolerant_loads

logger = logging.getLogger("kubetask_operator.client")

MERGE_PATCH = "application/merge-patch+json"
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})

CredentialsProvider = Callable[[], kopf.ConnectionInfo]


def login_credentials(*, settings: kopf.OperatorSettings) -> CredentialsProvider:
    """Credentials as kopf finds them (in-cluster service account, else KUBECONFIG), loaded when needed."""

    def credentials() -> kopf.ConnectionInfo:
        info = kopf.login_via_client(logger=logger, settings=settings)
        if info is None:
            raise kopf.LoginError("no Kubernetes credentials: set KUBECONFIG or run in a cluster")
        return info

    return credentials


def _data_file(data: str | bytes) -> str:
    """Write PEM data to a private temporary file, as ``ssl`` loads certificates only from files."""
    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
        return handle.name


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if not info.server.startswith("https"):
        return False
    context = ssl.create_default_context(
        cafile=str(info.ca_path) if info.ca_path else None,
        cadata=info.ca_data.decode() if isinstance(info.ca_data, bytes) else info.ca_data,
    )
    if info.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    certificate = info.certificate_path or (
        _data_file(info.certificate_data) if info.certificate_data else None
    )
    key = info.private_key_path or (_data_file(info.private_key_data) if info.private_key_data else None)
    if certificate:
        context.load_cert_chain(str(certificate), str(key) if key else None)
    return context


def _headers(info: kopf.ConnectionInfo) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "kubetask-operator"}
    if info.token:
        headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
    elif info.username and info.password:
        headers["Authorization"] = aiohttp.BasicAuth(info.username, info.password).encode()
    return headers


def _resource_of(path: str) -> str:
    """``pods``, ``taskruns/status``, ... from an API path (for counting calls by resource): what follows
    ``/api/v1`` or ``/apis/GROUP/VERSION`` is ``[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]``; discovery
    (nothing after the version) has no resource."""
    parts = [part for part in path.split("?", maxsplit=1)[0].split("/") if part]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if len(rest) > 2 and rest[0] == "namespaces":
        rest = rest[2:]
    return "/".join(rest[:1] + rest[2:3])


def _status_reason(payload: Any, fallback: str) -> tuple[str, str]:
    if isinstance(payload, Mapping):
        return str(payload.get("reason") or fallback), str(payload.get("message") or fallback)
    return fallback, fallback


class KubeClient:
    """A small async client of the Kubernetes API; one per operator process."""

    def __init__(
        self,
        *,
        credentials: CredentialsProvider,
        concurrency: int = 64,
        request_timeout: float = 30.0,
        retry_for: float = 60.0,
    ) -> None:
        self._credentials = credentials
        self._limit = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._retry_for = retry_for
        self._session: aiohttp.ClientSession | None = None
        self._server = ""
        self.requests = 0
        self.retries = 0
        self.by_call: collections.Counter[tuple[str, str]] = collections.Counter()

    async def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            info = self._credentials()
            self._server = info.server.rstrip("/")
            connector = aiohttp.TCPConnector(limit=self._concurrency, ssl=_ssl_context(info))
            self._session = aiohttp.ClientSession(
                connector=connector, headers=_headers(info), timeout=self._timeout, json_serialize=json.dumps
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _relogin(self) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
        retry_conflicts: bool = True,
    ) -> dict[str, Any]:
        """Send one request (retried while transient) and return the JSON answer; raise ApiError otherwise."""
        started = time.monotonic()
        delay = 0.1
        relogged = False
        data = json.dumps(body).encode() if body is not None else None
        while True:
            session = await self._open()
            status, payload, retry_after = 0, None, None
            try:
                async with self._limit:
                    self.requests += 1
                    self.by_call[method, _resource_of(path)] += 1
                    async with session.request(
                        method,
                        self._server + path,
                        data=data,
                        params=params,
                        headers={"Content-Type": content_type} if data is not None else None,
                    ) as response:
                        status = response.status
                        retry_after = response.headers.get("Retry-After")
                        text = await response.text()
                payload = tolerant_loads(text) if text else {}
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as error:
                status, payload = (
                    0,
                    {"reason": "ConnectionError", "message": f"{type(error).__name__}: {error}"},
                )
            if 200 <= status < 300:
                return payload if isinstance(payload, dict) else {}
            reason, message = _status_reason(payload, f"HTTP {status}")
            if status == 401 and not relogged:
                relogged = True
                await self._relogin()
                continue
            transient = status == 0 or status in _RETRIED_STATUSES
            transient |= status == 409 and retry_conflicts and reason != "AlreadyExists"
            elapsed = time.monotonic() - started
            if not transient or elapsed >= self._retry_for:
                raise ApiError(method=method, path=path, status=status, reason=reason, message=message)
            self.retries += 1
            wait = delay * (0.5 + random.random())
            if retry_after is not None:
                with contextlib.suppress(ValueError):
                    wait = max(wait, min(float(retry_after), 10.0))
            logger.debug("%s %s answered %s (%s); retrying in %.2fs", method, path, status, reason, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------ the calls the operator makes

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """POST ``body``; None when it already exists (409 AlreadyExists)."""
        try:
            return await self.request("POST", path, body=body)
        except ApiError as error:
            if error.status == 409 and error.reason == "AlreadyExists":
                return None
            raise

    async def get(self, path: str) -> dict[str, Any] | None:
        """GET; None when it does not exist (404)."""
        try:
            return await self.request("GET", path)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list(self, path: str, *, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """GET a collection (with ``params`` such as ``fieldSelector``): its items."""
        answer = await self.request("GET", path, params=params)
        return [item for item in answer.get("items") or [] if isinstance(item, dict)]

    async def merge_patch(
        self, path: str, patch: Mapping[str, Any], *, retry_conflicts: bool = True
    ) -> dict[str, Any]:
        return await self.request(
            "PATCH", path, body=patch, content_type=MERGE_PATCH, retry_conflicts=retry_conflicts
        )

    async def replace(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT ``body`` (with its ``metadata.resourceVersion``); a 409 Conflict is raised, never retried."""
        return await self.request("PUT", path, body=body, retry_conflicts=False)

    async def delete(self, path: str, *, body: Mapping[str, Any] | None = None) -> bool:
        """DELETE; False when it was already gone (404)."""
        try:
            await self.request("DELETE", path, body=body)
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True
