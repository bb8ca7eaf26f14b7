"""A small HTTP client for the Kubernetes API on the standard library's ``http.client`` and ``ssl``.

Why not a library: every client command must answer within 4x kubectl, which takes ~0.05 s warm against
the local cluster. Python starts in ~0.02 s; lightkube (with httpx2) takes ~0.15 s to import, kr8s
~0.3 s, the official client ~0.9 s, so none fits (figures in benchmarks/bench_cli.py's notes). What the
API needs is small: JSON requests on a kept-alive connection, and line-streamed responses for watches and
followed logs. Each thread keeps its own connection (a follower watches in one and streams a log in another).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit

#: Connect quickly; a reply may take a while on a loaded API server.
REQUEST_TIMEOUT = 30.0


class TransportError(Exception):
    """The API could not be reached, or the connection dropped."""


class Auth(Protocol):
    """Credentials for a request: the Authorization header, fetched again after a 401 (``refresh``)."""

    def header(self, *, refresh: bool) -> str | None: ...


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class StreamResponse:
    """A response read as it arrives, line by line."""

    def __init__(self, response: http.client.HTTPResponse, connection: http.client.HTTPConnection) -> None:
        self._response = response
        self._connection = connection
        self.status = response.status
        self.reason = response.reason
        self.content_type = response.getheader("Content-Type") or ""

    def read(self) -> bytes:
        return self._response.read()

    def abort(self) -> None:
        """End the stream from another thread: a reader blocked on it sees its end."""
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def iter_lines(self) -> Iterator[str]:
        try:
            while True:
                line = self._response.readline()
                if not line:
                    return
                yield line.decode("utf-8", errors="replace").rstrip("\r\n")
        except (OSError, http.client.HTTPException):
            return  # the stream dropped: the caller decides what that means


class HttpClient:
    """Requests to one API server (``server`` an http:// or https:// URL, maybe with a path prefix)."""

    def __init__(
        self,
        server: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        tls_server_name: str | None = None,
        auth: Auth | None = None,
    ) -> None:
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"server: expected an http:// or https:// URL, got {server!r}")
        self.server = server
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._ssl = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._tls_server_name = tls_server_name
        self._auth = auth
        self._local = threading.local()
        # Every kept-alive connection of every thread, closed with the client (or when it is collected).
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._connections, self._lock)

    # ------------------------------------------------------------ connections

    def _new_connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if not self._https:
            return http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        if self._tls_server_name:
            return _SniConnection(
                self._host, self._port, timeout=timeout, context=self._ssl, server_name=self._tls_server_name
            )
        return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)

    def _headers(self, headers: Mapping[str, str], *, refresh: bool) -> dict[str, str]:
        result = {"User-Agent": "kubetask", **headers}
        if self._auth is not None:
            value = self._auth.header(refresh=refresh)
            if value:
                result["Authorization"] = value
        return result

    def _target(self, path: str, params: Mapping[str, str] | None) -> str:
        query = urlencode(dict(params)) if params else ""
        return f"{self._prefix}{path}" + (f"?{query}" if query else "")

    # ------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """One request on this thread's kept-alive connection (reopened once if the server closed it)."""
        target = self._target(path, params)
        refresh = False
        for attempt in range(3):
            connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
            fresh = connection is None
            if connection is None:
                connection = self._new_connection(REQUEST_TIMEOUT)
                self._local.connection = connection
                with self._lock:
                    self._connections.append(connection)
            try:
                connection.request(
                    method, target, body=body, headers=self._headers(headers or {}, refresh=refresh)
                )
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self._local.connection = None
                if fresh or attempt:  # a new connection failed: the server is not there
                    raise TransportError(_describe(error)) from None
                continue  # a kept-alive connection the server had closed: once more on a new one
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                self._local.connection = None
            if response.status == 401 and self._auth is not None and not refresh:
                refresh = True  # credentials may have expired or rotated: fetch them again once
                continue
            return Response(response.status, response.reason, response.getheader("Content-Type") or "", data)
        raise TransportError("the API server kept closing the connection")

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Iterator[StreamResponse]:
        """A response to read as it arrives (a watch, a followed log), on a connection of its own."""
        connection = self._new_connection(REQUEST_TIMEOUT)
        try:
            try:
                connection.request(
                    method, self._target(path, params), headers=self._headers(headers or {}, refresh=False)
                )
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as error:
                raise TransportError(_describe(error)) from None
            yield StreamResponse(response, connection)
        finally:
            connection.close()

    def close(self) -> None:
        """Close every connection of every thread."""
        self._finalizer()


def _close_all(connections: list[http.client.HTTPConnection], lock: threading.Lock) -> None:
    with lock:
        for connection in connections:
            connection.close()
        connections.clear()


class _SniConnection(http.client.HTTPSConnection):
    """HTTPS whose certificate is checked against ``server_name`` (kubeconfig's tls-server-name), not the
    host connected to."""

    def __init__(
        self, host: str, port: int, *, timeout: float | None, context: ssl.SSLContext, server_name: str
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls_context = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls_context.wrap_socket(self.sock, server_hostname=self._server_name)


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.timeout):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {error.verify_message}"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text)
