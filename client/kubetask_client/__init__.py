"""kubetask_client: submit and follow TaskRuns from Python or the ``kubetask`` command line.

``submit(task, inputs, image=...)`` creates a TaskRun and returns a TaskRunHandle (``wait()``, ``outputs``,
``logs()``, ``cancel()``); ``attach(name)`` gives a handle for an existing TaskRun.
``map_task(task, items, parallelism=..., max_failed=...)`` runs a task over many inputs as a TaskMap and
returns a TaskMapHandle (``wait()`` gives the outputs in item order and the failures). The runtime exposes
them as ``kubetask.submit`` and ``kubetask.map``. The kubeconfig is found as kubectl finds it.
"""

from __future__ import annotations

from kubetask_client._errors import (
    ApiError,
    ClientUsageError,
    InvalidTaskRunError,
    KubeconfigError,
    KubetaskClientError,
    TaskMapFailedError,
    TaskRunFailedError,
    TaskRunNotFoundError,
    WaitTimeoutError,
)
from kubetask_client._map import MapResult, TaskMapHandle, attach_map, map_task
from kubetask_client._submit import TaskRunHandle, attach, submit

__all__ = [
    "ApiError",
    "ClientUsageError",
    "InvalidTaskRunError",
    "KubeconfigError",
    "KubetaskClientError",
    "MapResult",
    "TaskMapFailedError",
    "TaskMapHandle",
    "TaskRunFailedError",
    "TaskRunHandle",
    "TaskRunNotFoundError",
    "WaitTimeoutError",
    "attach",
    "attach_map",
    "map_task",
    "submit",
]
