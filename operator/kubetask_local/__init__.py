"""kubetask_local: a local Kubernetes for tests and development (API server emulator, local node)."""

from kubetask_local._apiserver import AdminHandler, ApiServer, ThreadedApiServer
from kubetask_local._faults import FaultConfig
from kubetask_local._logs import LogSource
from kubetask_local._node import LocalNode
from kubetask_local._node_config import FastMode, NodeConfig
from kubetask_local._node_spec import Taint

__all__: list[str] = [
    "AdminHandler",
    "ApiServer",
    "FastMode",
    "FaultConfig",
    "LocalNode",
    "LogSource",
    "NodeConfig",
    "Taint",
    "ThreadedApiServer",
]
