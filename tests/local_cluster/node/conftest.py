"""Helpers for the local node's conformance tests: create pods with kubectl and wait on their status."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from kubetask_local.testing import Cluster, wait_for

IMAGE = "python:3.12-slim"


def python_container(code: str, *, name: str = "main", **extra: Any) -> dict[str, Any]:
    """A container that runs ``python -c <code>`` (the image is only a name on the local node). It names its
    termination message file in ``KUBETASK_TERMINATION_MESSAGE_PATH`` as the operator's pods do, so the same
    tests run on a real cluster."""
    env = [
        {"name": "KUBETASK_TERMINATION_MESSAGE_PATH", "value": "/dev/termination-log"},
        *extra.pop("env", []),
    ]
    return {
        "name": name,
        "image": IMAGE,
        "command": ["python", "-c", textwrap.dedent(code)],
        "env": env,
        **extra,
    }


def container_state(pod: dict[str, Any], name: str = "main") -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status["name"] == name:
            state: dict[str, Any] = status["state"]
            return state
    return {}


def condition(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


class Pods:
    """Pods of one test namespace, through the real kubectl."""

    image = IMAGE
    container = staticmethod(python_container)
    state = staticmethod(container_state)
    condition = staticmethod(condition)

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace

    def create(
        self, name: str, *containers: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any
    ) -> str:
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels or {}},
            "spec": {"restartPolicy": "Never", "containers": list(containers), **spec},
        }
        self.cluster.apply(manifest)
        return name

    def get(self, name: str) -> dict[str, Any]:
        pod: dict[str, Any] = self.cluster.kubectl_json("get", "pod", name, "-n", self.namespace)
        return pod

    def exists(self, name: str) -> bool:
        found = self.cluster.kubectl(
            "get", "pod", name, "-n", self.namespace, "--ignore-not-found", "-o", "name"
        )
        return bool(found.stdout.strip())

    def wait(
        self, name: str, predicate: Callable[[dict[str, Any]], Any], what: str, timeout: float = 30
    ) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def check() -> bool:
            nonlocal last
            last = self.get(name)
            return bool(predicate(last))

        try:
            wait_for(check, timeout, f"pod {name}: {what}")
        except AssertionError as error:
            raise AssertionError(f"{error}\nlast status: {last.get('status')}") from None
        return last

    def wait_phase(self, name: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait(
            name, lambda pod: pod.get("status", {}).get("phase") == phase, f"phase {phase}", timeout
        )

    def waiting_reason(
        self, name: str, reason: str, container: str = "main", timeout: float = 30
    ) -> dict[str, Any]:
        return self.wait(
            name,
            lambda pod: container_state(pod, container).get("waiting", {}).get("reason") == reason,
            f"container {container} waiting with reason {reason}",
            timeout,
        )

    def logs(self, name: str, *args: str) -> str:
        return self.cluster.kubectl("logs", name, "-n", self.namespace, *args).stdout

    def wait_events(self, name: str, *reasons: str, timeout: float = 30) -> list[str]:
        """The reasons of the pod's events once all of ``reasons`` are there (events are posted apart from
        status, so they may arrive a little after it)."""

        def found() -> list[str] | None:
            seen = [event["reason"] for event in self.events(name)]
            return seen if set(reasons) <= set(seen) else None

        return wait_for(found, timeout, f"events {sorted(reasons)} of pod {name}")

    def events(self, name: str) -> list[dict[str, Any]]:
        items = self.cluster.kubectl_json(
            "get", "events", "-n", self.namespace, "--field-selector", f"involvedObject.name={name}"
        )["items"]
        return list(items)


@pytest.fixture
def pods(cluster: Cluster, namespace: str) -> Pods:
    return Pods(cluster, namespace)


@pytest.fixture
def local_cluster(cluster: Cluster) -> Cluster:
    """The session's cluster when it is local (tests that read the node's files or use admin routes)."""
    if not cluster.is_local:
        pytest.skip("this behaviour is checked on the local node only (it reads files the pod wrote)")
    return cluster
