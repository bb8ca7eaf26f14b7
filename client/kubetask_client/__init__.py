"""kubetask_client: submit and follow TaskRuns from Python or the ``kubetask`` command line.

``submit(task, inputs, image=...)`` creates a TaskRun and returns a TaskRunHandle (``wait()``, ``outputs``,
``logs()``, ``cancel()``); ``attach(name)`` gives a handle for an existing TaskRun. The runtime exposes
``submit`` as ``kubetask.submit``. The kubeconfig is found as kubectl finds it.

``submit``, ``attach`` and ``TaskRunHandle`` load the HTTP layer (the ``client`` extra) on first use, so
``kubetask run`` and the package itself work without it.
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

TYPE_CHECKING = False
if TYPE_CHECKING:
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


_LAZY = frozenset({"TaskRunHandle", "attach", "submit"})


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'kubetask_client' has no attribute {name!r}")
    from kubetask_client import _submit

    value = getattr(_submit, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
