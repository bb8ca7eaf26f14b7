"""kubetask_client: submit and follow TaskRuns from Python or the ``kubetask`` command line.

``submit(task, inputs, image=...)`` creates a TaskRun and returns a TaskRunHandle (``wait()``, ``outputs``,
``logs()``, ``cancel()``); ``attach(name)`` gives a handle for an existing TaskRun. The runtime exposes
``submit`` as ``kubetask.submit``. The kubeconfig is found as kubectl finds it.
"""

from __future__ import annotations

from kubetask_client._errors import (
    ApiError,
    ClientUsageError,
    InvalidTaskRunError,
    KubeconfigError,
    KubetaskClientError,
    TaskRunFailedError,
    TaskRunNotFoundError,
    WaitTimeoutError,
)
from kubetask_client._submit import TaskRunHandle, attach, submit

__all__ = [
    "ApiError",
    "ClientUsageError",
    "InvalidTaskRunError",
    "KubeconfigError",
    "KubetaskClientError",
    "TaskRunFailedError",
    "TaskRunHandle",
    "TaskRunNotFoundError",
    "WaitTimeoutError",
    "attach",
    "submit",
]
