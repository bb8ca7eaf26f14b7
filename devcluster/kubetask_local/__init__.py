"""kubetask_local: a local Kubernetes for tests and development (API server emulator, local node)."""

from kubetask_local.apiserver import AdminHandler, ApiServer, FaultConfig, LogSource, ThreadedApiServer
from kubetask_local.node import FastMode, LocalNode, NodeConfig, Taint

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
