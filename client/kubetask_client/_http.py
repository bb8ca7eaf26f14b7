"""A small HTTP/1.1 client for the Kubernetes API, on sockets (and ``ssl`` for https only).

Why not a library: every client command must answer within 4x kubectl, which takes ~0.045 s (and ~0.045 s of
CPU) warm against the local cluster. Python starts in ~0.011 s of CPU; lightkube (with httpx2) takes ~0.15 s
to import, kr8s ~0.3 s, the official client ~0.9 s; even the standard library's ``http.client`` costs
~0.035 s of CPU, most of it the ``email`` package it parses headers with. What the API needs is small: JSON
requests on a kept-alive connection, and line-streamed (chunked) responses for watches and followed logs.
Each thread keeps its own connection (a follower watches in one and streams a log in another).
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    import ssl

#: A reply may take a while on a loaded API server.
REQUEST_TIMEOUT = 30.0
_MAX_LINE = 65536
_NO_BODY_STATUSES = frozenset({204, 304})


class TransportError(Exception):
    """The API could not be reached, the connection dropped, or the reply was not HTTP/1.x."""


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


class _Connection:
    """One socket to the server, with its buffered reader."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader: io.BufferedReader = sock.makefile("rb")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
        with contextlib.suppress(OSError):
            self.sock.close()


class _Head:
    """Status line and headers of a response (header names lower-cased)."""

    def __init__(self, version: str, status: int, reason: str, headers: dict[str, str]) -> None:
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


def _read_line(reader: io.BufferedReader) -> bytes:
    line = reader.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise TransportError("a line of the reply is too long")
    return line


def _read_head(reader: io.BufferedReader) -> _Head:
    status_line = _read_line(reader)
    if not status_line:
        raise TransportError("the server closed the connection")
    parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise TransportError(f"not an HTTP/1.x reply: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    while True:
        line = _read_line(reader)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return _Head(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


def _body_blocks(reader: io.BufferedReader, head: _Head, method: str) -> Iterator[bytes]:
    """The body as it arrives: de-chunked, or Content-Length bytes, or up to the end of the connection."""
    if method == "HEAD" or head.status in _NO_BODY_STATUSES or 100 <= head.status < 200:
        return
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        while True:
            size_line = _read_line(reader)
            if not size_line:
                raise TransportError("the connection closed inside a chunked reply")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while _read_line(reader) not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return
            block = reader.read(size)
            if len(block) < size:
                raise TransportError("the connection closed inside a chunk")
            _read_line(reader)  # the CRLF after the chunk
            yield block
    elif "content-length" in head.headers:
        remaining = int(head.headers["content-length"])
        while remaining > 0:
            block = reader.read(min(remaining, 65536))
            if not block:
                raise TransportError("the connection closed before the end of the reply")
            remaining -= len(block)
            yield block
    else:
        while block := reader.read1(65536):
            yield block


class StreamResponse:
    """A response read as it arrives, line by line."""

    def __init__(self, head: _Head, blocks: Iterator[bytes], connection: _Connection) -> None:
        self.status = head.status
        self.reason = head.reason
        self.content_type = head.headers.get("content-type", "")
        self._blocks = blocks
        self._connection = connection

    def read(self) -> bytes:
        try:
            return b"".join(self._blocks)
        except (OSError, ValueError):
            return b""

    def abort(self) -> None:
        """End the stream from another thread: a reader blocked on it sees its end."""
        with contextlib.suppress(OSError):  # already closed
            self._connection.sock.shutdown(socket.SHUT_RDWR)

    def iter_lines(self) -> Iterator[str]:
        pending = b""
        try:
            for block in self._blocks:
                pending += block
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace").rstrip("\r")
        except (OSError, ValueError, TransportError):
            return  # the stream dropped: the caller decides what that means
        if pending:
            yield pending.decode("utf-8", errors="replace").rstrip("\r")


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
        default_port = 443 if self._https else 80
        self._host_header = parts.netloc.rpartition("@")[2] if self._port != default_port else self._host
        self._prefix = parts.path.rstrip("/")
        self._ssl = ssl_context
        self._tls_server_name = tls_server_name or self._host
        self._auth = auth
        self._local = threading.local()
        # Every kept-alive connection of every thread, closed with the client (or when it is collected).
        self._connections: list[_Connection] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._connections, self._lock)

    # ------------------------------------------------------------ connections

    def _connect(self) -> _Connection:
        try:
            sock = socket.create_connection((self._host, self._port), timeout=REQUEST_TIMEOUT)
        except OSError as error:
            raise TransportError(_describe(error)) from None
        if self._https:
            import ssl  # only for https: its import is a good part of a command's time

            context = self._ssl if self._ssl is not None else ssl.create_default_context()
            try:
                sock = context.wrap_socket(sock, server_hostname=self._tls_server_name)
            except (OSError, ssl.SSLError) as error:
                sock.close()
                raise TransportError(_describe(error)) from None
        return _Connection(sock)

    def _send(
        self,
        connection: _Connection,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}", "User-Agent: kubetask"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        connection.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def _headers(self, headers: Mapping[str, str], *, refresh: bool) -> dict[str, str]:
        result = dict(headers)
        if self._auth is not None:
            value = self._auth.header(refresh=refresh)
            if value:
                result["Authorization"] = value
        return result

    def _target(self, path: str, params: Mapping[str, str] | None) -> str:
        query = urlencode(dict(params)) if params else ""
        return f"{self._prefix}{path}" + (f"?{query}" if query else "")

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._local.connection = None

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
        """One request on this thread's kept-alive connection (reopened once if the server had closed it)."""
        target = self._target(path, params)
        refresh = False
        for _ in range(4):
            connection: _Connection | None = getattr(self._local, "connection", None)
            fresh = connection is None
            if connection is None:
                connection = self._connect()
                self._local.connection = connection
                with self._lock:
                    self._connections.append(connection)
            try:
                self._send(connection, method, target, self._headers(headers or {}, refresh=refresh), body)
                head = _read_head(connection.reader)
                data = b"".join(_body_blocks(connection.reader, head, method))
            except (OSError, ValueError, TransportError) as error:
                self._drop(connection)
                if fresh:  # a new connection failed: the server is not there or not HTTP
                    raise TransportError(_describe(error)) from None
                continue  # a kept-alive connection the server had closed: once more on a new one
            if not head.keep_alive:
                self._drop(connection)
            if head.status == 401 and self._auth is not None and not refresh:
                refresh = True  # credentials may have expired or rotated: fetch them again once
                continue
            return Response(head.status, head.reason, head.headers.get("content-type", ""), data)
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
        """A response to read as it arrives (a watch, a followed log), on a connection of its own; reads
        wait up to ``timeout`` seconds for more (None: as long as it takes)."""
        connection = self._connect()
        try:
            try:
                self._send(
                    connection,
                    method,
                    self._target(path, params),
                    self._headers(headers or {}, refresh=False),
                    None,
                )
                head = _read_head(connection.reader)
                connection.sock.settimeout(timeout)
            except (OSError, ValueError) as error:
                raise TransportError(_describe(error)) from None
            yield StreamResponse(head, _body_blocks(connection.reader, head, method), connection)
        finally:
            connection.close()

    def close(self) -> None:
        """Close every connection of every thread."""
        self._finalizer()


def _close_all(connections: list[_Connection], lock: threading.Lock) -> None:
    with lock:
        for connection in connections:
            connection.close()
        connections.clear()


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.timeout):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    verify_message = getattr(error, "verify_message", None)
    if verify_message:
        return f"TLS certificate not trusted: {verify_message}"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text)
