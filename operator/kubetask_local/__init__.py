"""kubetask_local: a local Kubernetes for tests and development (API server emulator, local node)."""

from kubetask_local._apiserver import AdminHandler, ApiServer, ThreadedApiServer
from kubetask_local._faults import FaultConfig
from kubetask_local._logs import LogSource

__all__: list[str] = ["AdminHandler", "ApiServer", "FaultConfig", "LogSource", "ThreadedApiServer"]
