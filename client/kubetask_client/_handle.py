"""What a TaskRun handle and a TaskMap handle share: a named object in a namespace, its last known state,
and reading it again or deleting it. Each kind adds its own waiting, outputs and cancel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, Self

from kubetask_api import StatusView


class ResourceApi(Protocol):
    """The calls a handle makes on its kind's API."""

    def get(self, name: str, namespace: str) -> dict[str, Any]: ...

    def delete(self, name: str, namespace: str) -> None: ...


class ResourceHandle:
    """One object of the cluster as last read: ``name``, ``namespace``, ``phase``, ``done``, ``refresh()``."""

    def __init__(self, api: ResourceApi, resource: Mapping[str, Any]) -> None:
        self._resource_api = api
        self._resource = dict(resource)
        self.name: str = resource["metadata"]["name"]
        self.namespace: str = resource["metadata"]["namespace"]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.namespace}/{self.name} {self.phase}>"

    @property
    def phase(self) -> str:
        """``status.phase``; ``Pending`` until the operator has written one."""
        return StatusView.of(self._resource).phase

    @property
    def done(self) -> bool:
        """Whether it ended: Succeeded, Failed or Cancelled."""
        return StatusView.of(self._resource).finished

    def refresh(self) -> Self:
        """Read it again from the API."""
        self._resource = self._resource_api.get(self.name, self.namespace)
        return self

    def delete(self) -> None:
        """Delete it (and, by garbage collection, what it owns)."""
        self._resource_api.delete(self.name, self.namespace)
