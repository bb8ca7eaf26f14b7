"""Placing a pod on the local node, as the scheduler does once it picked a node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetask_local.node._api import MERGE_PATCH, NodeApiClient
from kubetask_local.node._errors import ApiError


class Binder:
    """Binds pods to the node through ``pods/binding`` as a scheduler does, or by setting ``spec.nodeName``
    when the API server does not serve the binding subresource."""

    def __init__(self, *, api: NodeApiClient, node_name: str) -> None:
        self._api = api
        self._node_name = node_name
        self._binding_served: bool | None = None

    async def bind(self, pod: Mapping[str, Any]) -> None:
        metadata = pod["metadata"]
        base = f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}"
        if self._binding_served is not False:
            body = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": metadata["name"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self._node_name},
            }
            try:
                await self._api.request("POST", base + "/binding", body=body)
                self._binding_served = True
                return
            except ApiError as error:
                if self._binding_served or error.status not in (404, 405):
                    raise
                self._binding_served = False
        await self._api.request(
            "PATCH", base, body={"spec": {"nodeName": self._node_name}}, content_type=MERGE_PATCH
        )
