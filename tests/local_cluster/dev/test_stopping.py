"""Ctrl-C on ``kubetask dev`` stops the operator and the API server together: requests in flight at that
moment must end as a real API server ends them (answered, refused with a retryable error, or dropped because
the client left), never with a traceback in the terminal.

Each test forces one ordering that the end-to-end Ctrl-C test met only by chance under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from kubetask_local import _dev
from kubetask_local.apiserver import ApiServer

WATCH_PODS = "/api/v1/namespaces/default/pods?watch=true"


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


def _request_then_hang_up(*, host: str, port: int, ca_pem: bytes, request: bytes) -> None:
    """Send ``request`` over TLS with the close_notify right behind it, in one segment (as a client that
    cancels a watch just sent, e.g. kopf stopping on SIGINT), then wait until the server has closed."""
    tls = ssl.create_default_context(cadata=ca_pem.decode()).wrap_bio(
        incoming := ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=host
    )
    with socket.create_connection((host, port), timeout=60) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                received = sock.recv(65536)
                assert received, "the server closed the connection during the TLS handshake"
                incoming.write(received)
        sock.sendall(outgoing.read())  # the client's Finished
        tls.write(request)
        with contextlib.suppress(ssl.SSLWantReadError):  # the server's close_notify is not awaited here
            tls.unwrap()
        sock.sendall(outgoing.read())  # the request and the close_notify: the server reads them together
        while sock.recv(65536):  # until the server, done with the request, closes the connection
            pass


def test_a_watch_whose_client_hangs_up_as_it_opens_ends_without_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The close_notify marks the server's transport closing before the watch handler writes its headers
    # (and before aiohttp cancels the handler): that write fails. The client is gone; a real server
    # cancels the request's context and logs nothing, so must we (no 500 recorded, no traceback logged).
    with ApiServer.run_in_thread(tls=True) as server:
        api = server.api
        assert api.ca_pem is not None
        request = f"GET {WATCH_PODS} HTTP/1.1\r\nHost: {api.host}\r\nAccept: application/json\r\n\r\n"
        _request_then_hang_up(host=api.host, port=api.port, ca_pem=api.ca_pem, request=request.encode())
        assert [(r.method, r.url.path_qs) for r in api.requests] == [("GET", WATCH_PODS)]
        errors = server.call(lambda: api.errors)
    assert errors == []
    assert _errors_logged(caplog) == []


async def _open_watch(session: aiohttp.ClientSession, url: str) -> list[str]:
    async with session.get(url) as response:
        assert response.status == 200
        return [json.loads(line)["type"] async for line in response.content]


async def _raw_reply(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status_line, *header_lines = head.strip().split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    return status_line, headers, await reader.read()


def test_stopping_ends_open_watches_and_refuses_a_new_one_as_kube_apiserver_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A watch asked for once shutdown has begun would subscribe after the open ones were ended, then be cut
    # by the closing connections (after the shutdown timeout). kube-apiserver answers it 503 with
    # Retry-After: 1 (staging/src/k8s.io/apiserver/pkg/server/filters/watch_termination.go and
    # waitGroupWriteRetryAfterToResponse in waitgroup.go), and ends the open watches properly.
    async def scenario() -> tuple[list[str], tuple[str, dict[str, str], bytes], list[BaseException]]:
        api = ApiServer()
        await api.start()
        async with aiohttp.ClientSession() as session:
            open_watch = asyncio.create_task(_open_watch(session, api.url + WATCH_PODS))
            while not any(r.params.get("watch") for r in api.requests):
                await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection(api.host, api.port)
            await _await_accepted(api, writer, reader)
            # The second watch is in the socket before stop() starts; the server reads it only at stop()'s
            # first yield, once shutdown has begun: the ordering is forced, not hoped for.
            writer.write(f"GET {WATCH_PODS} HTTP/1.1\r\nHost: {api.host}\r\n\r\n".encode())
            late_reply = asyncio.create_task(_raw_reply(reader))
            await api.stop()
            events = await asyncio.wait_for(open_watch, 60)
            reply = await asyncio.wait_for(late_reply, 60)
            writer.close()
        return events, reply, api.errors

    events, (status_line, headers, body), errors = asyncio.run(scenario())
    assert events == []  # no pods: the stream simply ended, without a broken chunked body
    assert status_line == "HTTP/1.1 503 Service Unavailable"
    assert headers["retry-after"] == "1"
    assert json.loads(body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "apiserver is shutting down",
        "reason": "ServiceUnavailable",
        "code": 503,
    }
    assert errors == []
    assert _errors_logged(caplog) == []


async def _await_accepted(api: ApiServer, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
    """One answered request on the connection first, so that the server has accepted it and keeps it open
    (keep-alive) for the next one."""
    writer.write(f"GET /version HTTP/1.1\r\nHost: {api.host}\r\n\r\n".encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
    length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
    await reader.readexactly(length)


FAKE_OPERATOR = """
import os, signal, sys, time
from pathlib import Path
marks = Path(sys.argv[0]).parent
def received(signum, _frame):
    with open(marks / "signals", "a") as out:
        out.write(signal.Signals(signum).name + "\\n")
signal.signal(signal.SIGINT, received)
signal.signal(signal.SIGTERM, received)
(marks / "ready").write_text(str(os.getpid()))
while not (marks / "signals").exists():  # serving, until the first stop signal
    time.sleep(0.01)
while not (marks / "release").exists():  # stopping: kopf finishing its work, then closing its loop
    time.sleep(0.01)
"""


def test_ctrl_c_leaves_the_operator_to_stop_on_its_own_without_a_second_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The terminal's Ctrl-C reaches the operator too (it shares kubetask dev's foreground process group).
    # A SIGTERM sent on top while it stops hit kopf's signal handler a second time (InvalidStateError) or
    # its loop closing the signal wakeup pipe ("Bad file descriptor"): a traceback on the terminal.
    package = tmp_path / "fake_operator"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_OPERATOR)
    monkeypatch.setattr(_dev, "OPERATOR_MODULE", "fake_operator")

    async def scenario() -> list[str]:
        operator = _dev.OperatorProcess(env={**os.environ, "PYTHONPATH": str(tmp_path)})
        operator.start()
        assert await _until((package / "ready").exists), "the fake operator did not start"
        os.kill(int((package / "ready").read_text()), signal.SIGINT)  # the terminal's Ctrl-C
        assert await _until((package / "signals").exists), "the fake operator did not get the SIGINT"
        stopping = asyncio.create_task(operator.stop(signalled=True, hurry=asyncio.Event()))
        # A second signal would be sent at once; wait long enough to see it, then let the operator finish.
        await _until(lambda: len(_signals(package)) > 1, timeout=3)
        (package / "release").write_text("")
        await asyncio.wait_for(stopping, 60)
        return _signals(package)

    assert asyncio.run(scenario()) == ["SIGINT"]


def _signals(package: Path) -> list[str]:
    return (package / "signals").read_text().split()


async def _until(condition: Callable[[], bool], *, timeout: float = 60) -> bool:
    """Whether ``condition`` became true within ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
