"""Fixtures of the API server conformance tests: one emulator per module, reached only over real HTTP
(plain HTTP, the kubernetes Python client, the real kubectl)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from kubetask_local import ApiServer, ThreadedApiServer
from kubetask_local.apiserver._standalone import kubeconfig_for

VENV_BIN = Path(sys.executable).parent
_NAMESPACES = itertools.count(1)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class Http:
    """Plain HTTP to the emulator: exactly what goes over the wire, no client library in between."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        raw: bool = False,
        timeout: float = 10,
    ) -> Reply:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method.upper())
        request.add_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
                status, reply_headers = response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            payload, status, reply_headers = error.read(), error.code, dict(error.headers)
        if raw:
            return Reply(status, reply_headers, payload)
        return Reply(status, reply_headers, json.loads(payload) if payload.strip() else None)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.request("PUT", path, body, **kwargs)

    def patch(
        self, path: str, body: Any, content_type: str = "application/merge-patch+json", **kwargs: Any
    ) -> Reply:
        return self.request("PATCH", path, body, content_type=content_type, **kwargs)

    def delete(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, body, **kwargs)

    def watch_lines(self, path: str, *, timeout: float = 10) -> tuple[str, list[dict[str, Any]]]:
        """Read a watch stream until the server ends it; answers its content type and the events."""
        request = urllib.request.Request(self.url + path)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            content_type = response.headers.get("Content-Type", "")
            lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
        return content_type, lines


def write_kubeconfig(path: Path, url: str) -> Path:
    path.write_text(kubeconfig_for(url))
    return path


@pytest.fixture(scope="module")
def api() -> Iterator[ThreadedApiServer]:
    with ApiServer.run_in_thread(bookmark_interval=0.5) as server:
        yield server


@pytest.fixture(scope="module")
def http(api: ThreadedApiServer) -> Http:
    return Http(api.url)


@pytest.fixture(scope="module")
def kubeconfig(api: ThreadedApiServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kubeconfig(tmp_path_factory.mktemp("kubeconfig") / "config", api.url)


@pytest.fixture(scope="module")
def kubectl(kubeconfig: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    # A discovery cache of this server's own: kubectl keys its cache by host:port, and ports are reused.
    environment = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "KUBECACHEDIR": str(kubeconfig.parent / "kubectl-cache"),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }

    def run(
        *args: str, check: bool = True, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(VENV_BIN / "kubectl"), *args],
            env=environment,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    return run


@pytest.fixture(scope="module")
def client(api: ThreadedApiServer) -> Iterator[kubernetes.client.ApiClient]:
    configuration = kubernetes.client.Configuration()
    configuration.host = api.url
    with kubernetes.client.ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
def namespace(http: Http) -> str:
    name = f"test-{next(_NAMESPACES)}-{int(time.time() * 1000) % 100000}"
    reply = http.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert reply.status == 201, reply.body
    return name


def wait_for(predicate: Callable[[], Any], *, timeout: float = 10, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def crd_manifest(
    *,
    group: str = "example.dev",
    plural: str = "widgets",
    kind: str = "Widget",
    schema: dict[str, Any] | None = None,
    scope: str = "Namespaced",
    status: bool = True,
    columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": schema
            or {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    if status:
        version["subresources"] = {"status": {}}
    if columns:
        version["additionalPrinterColumns"] = columns
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "shortNames": [plural[:3]],
                "categories": ["examples"],
            },
            "versions": [version],
        },
    }
