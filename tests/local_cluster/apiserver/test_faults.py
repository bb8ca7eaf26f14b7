"""Faults on demand through the admin routes, and the hook other components use to add their own."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import aiohttp.web
import pytest

from kubetask_local import ApiServer, FaultConfig, ThreadedApiServer

from .conftest import Http, wait_for


@pytest.fixture
def private() -> Iterator[tuple[ThreadedApiServer, Http]]:
    """A server of its own: faults must not leak into other tests."""
    with ApiServer.run_in_thread() as server:
        yield server, Http(server.url)


def _configure(http: Http, **config: Any) -> None:
    reply = http.put("/kubetask-local/faults", config)
    assert reply.status == 200, reply.body


class TestErrorAnswers:
    def test_every_request_answered_500_then_reset(self, private: tuple[ThreadedApiServer, Http]) -> None:
        _, http = private
        _configure(http, error_rate=1.0, statuses=[500])
        reply = http.get("/api/v1/namespaces/default/configmaps")
        assert reply.status == 500
        assert reply.body["kind"] == "Status"
        assert reply.body["reason"] == "InternalError"
        assert http.get("/kubetask-local/faults").body["injected"] == 1
        assert http.delete("/kubetask-local/faults").status == 200
        assert http.get("/api/v1/namespaces/default/configmaps").status == 200

    def test_429_carries_retry_after(self, private: tuple[ThreadedApiServer, Http]) -> None:
        _, http = private
        _configure(http, error_rate=1.0, statuses=[429], retry_after=3)
        reply = http.get("/api/v1/namespaces")
        assert reply.status == 429
        assert reply.headers["Retry-After"] == "3"
        assert reply.body["details"]["retryAfterSeconds"] == 3

    def test_409_only_for_writes(self, private: tuple[ThreadedApiServer, Http]) -> None:
        _, http = private
        _configure(http, error_rate=1.0, statuses=[409])
        assert http.get("/api/v1/namespaces").status == 200
        reply = http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}})
        assert reply.status == 409
        assert reply.body["reason"] == "Conflict"

    def test_a_share_of_requests_fails(self, private: tuple[ThreadedApiServer, Http]) -> None:
        _, http = private
        _configure(http, error_rate=0.5, statuses=[500], seed=7)
        statuses = [http.get("/api/v1/namespaces").status for _ in range(200)]
        assert 60 <= statuses.count(500) <= 140
        assert set(statuses) == {200, 500}

    def test_methods_and_path_prefix_narrow_the_faults(self, private: tuple[ThreadedApiServer, Http]) -> None:
        _, http = private
        _configure(
            http, error_rate=1.0, statuses=[500], methods=["POST"], path_prefix="/api/v1/namespaces/default"
        )
        assert http.get("/api/v1/namespaces/default/configmaps").status == 200
        assert http.post("/api/v1/namespaces", {"metadata": {"name": "ok"}}).status == 201
        assert http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}}).status == 500

    def test_admin_routes_are_never_faulted(self, private: tuple[ThreadedApiServer, Http]) -> None:
        _, http = private
        _configure(http, error_rate=1.0, statuses=[500])
        assert http.get("/kubetask-local/faults").status == 200

    @pytest.mark.parametrize(
        ("config", "message"),
        [
            pytest.param({"error_rate": 2}, "error_rate must be between 0 and 1, got 2", id="rate"),
            pytest.param(
                {"statuses": [404]},
                "statuses must be a non-empty subset of (409, 429, 500), got (404,)",
                id="status",
            ),
            pytest.param({"eror_rate": 0.1}, "unknown fault configuration fields ['eror_rate']", id="typo"),
        ],
    )
    def test_bad_configuration_answers_400_naming_the_field(
        self,
        private: tuple[ThreadedApiServer, Http],
        config: dict[str, Any],
        message: str,
    ) -> None:
        _, http = private
        reply = http.put("/kubetask-local/faults", config)
        assert reply.status == 400
        assert message in reply.body["message"]

    def test_python_api_sets_the_same_faults(self, private: tuple[ThreadedApiServer, Http]) -> None:
        server, http = private
        server.call(lambda: server.api.set_faults(FaultConfig(error_rate=1.0, statuses=(500,))))
        assert http.get("/api/v1/namespaces").status == 500
        server.call(server.api.reset_faults)
        assert http.get("/api/v1/namespaces").status == 200


def _raw_watch(url: str, path: str) -> bytes:
    """The bytes of a watch response as they come off the socket, until the server closes it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


CHUNKED_END = b"0\r\n\r\n"


class TestWatchDrops:
    def test_a_normal_watch_end_finishes_the_chunked_body(
        self, private: tuple[ThreadedApiServer, Http]
    ) -> None:
        _, http = private
        received = _raw_watch(http.url, "/api/v1/namespaces?watch=1&timeoutSeconds=1")
        assert received.endswith(CHUNKED_END)

    def test_watch_streams_are_cut_after_the_configured_time(
        self, private: tuple[ThreadedApiServer, Http]
    ) -> None:
        _, http = private
        _configure(http, watch_drop_after=0.5)
        started = time.monotonic()
        received = _raw_watch(http.url, "/api/v1/namespaces?watch=1&timeoutSeconds=10")
        assert 0.4 < time.monotonic() - started < 5
        assert received.count(b'"type":"ADDED"') == 4  # the initial state arrived before the cut
        assert not received.endswith(CHUNKED_END)  # cut mid-stream, not ended

    def test_drop_route_cuts_open_watches_now(self, private: tuple[ThreadedApiServer, Http]) -> None:
        _, http = private
        received: list[bytes] = []
        thread = threading.Thread(
            target=lambda: received.append(
                _raw_watch(http.url, "/api/v1/configmaps?watch=1&timeoutSeconds=10")
            )
        )
        thread.start()
        wait_for(
            lambda: http.post("/kubetask-local/watches/drop", {}).body["dropped"] == 1, what="the watch open"
        )
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert received
        assert not received[0].endswith(CHUNKED_END)

    def test_server_shutdown_ends_watches_properly(self) -> None:
        server = ApiServer.run_in_thread()
        received: list[bytes] = []
        thread = threading.Thread(
            target=lambda: received.append(
                _raw_watch(server.url, "/api/v1/configmaps?watch=1&timeoutSeconds=30")
            )
        )
        thread.start()
        wait_for(lambda: server.call(lambda: len(server.api.store._watchers)) > 0, what="the watch open")
        server.stop()
        thread.join(timeout=10)
        assert received
        assert received[0].endswith(CHUNKED_END)


class TestAdminHook:
    def test_components_add_their_own_admin_routes(self, private: tuple[ThreadedApiServer, Http]) -> None:
        server, http = private
        calls: list[str] = []

        async def stop_node(request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
            calls.append(request.method)
            return aiohttp.web.json_response({"node": "stopped"})

        server.call(lambda: server.api.add_admin_route("POST", "node/stop", stop_node))
        assert http.post("/kubetask-local/node/stop", {}).body == {"node": "stopped"}
        assert calls == ["POST"]
        assert "POST /kubetask-local/node/stop" in http.get("/kubetask-local/").body["routes"]
        assert http.get("/kubetask-local/nothing-here").status == 404

    def test_stats_count_objects_and_watches(self, private: tuple[ThreadedApiServer, Http]) -> None:
        _, http = private
        http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "counted"}})
        stats = http.get("/kubetask-local/stats").body
        assert stats["objects"]["configmaps"] == 1
        assert stats["objects"]["namespaces"] == 4
        assert stats["watches"] == 0
        assert int(stats["resourceVersion"]) > 1
