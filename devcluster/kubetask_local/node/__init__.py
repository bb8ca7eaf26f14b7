"""The local node: plays the kubelet over HTTP only, running each pod's containers as local processes."""

from kubetask_local.node._api import MERGE_PATCH, NodeApiClient
from kubetask_local.node._config import FastMode, NodeConfig
from kubetask_local.node._errors import ApiError
from kubetask_local.node._node import LocalNode
from kubetask_local.node._spec import Taint

__all__: list[str] = [
    "MERGE_PATCH",
    "ApiError",
    "FastMode",
    "LocalNode",
    "NodeApiClient",
    "NodeConfig",
    "Taint",
]
