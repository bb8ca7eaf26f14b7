"""The emulated Kubernetes API server: store, verbs, watches, discovery, validation, served over HTTP."""

from kubetask_local.apiserver._apiserver import AdminHandler, ApiServer, ThreadedApiServer
from kubetask_local.apiserver._faults import FaultConfig
from kubetask_local.apiserver._logs import LogSource

__all__: list[str] = [
    "AdminHandler",
    "ApiServer",
    "FaultConfig",
    "LogSource",
    "ThreadedApiServer",
]
