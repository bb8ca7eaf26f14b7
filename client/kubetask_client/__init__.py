"""kubetask_client: submit and follow TaskRuns from Python or the ``kubetask`` command line.

``submit(task, inputs, image=...)`` creates a TaskRun and returns a TaskRunHandle (``wait()``, ``outputs``,
``logs()``, ``cancel()``); ``attach(name)`` gives a handle for an existing TaskRun.
``map_task(task, items, parallelism=..., max_failed=...)`` runs a task over many inputs as a TaskMap and
returns a TaskMapHandle (``wait()`` gives the outputs in item order and the failures). The runtime exposes
them as ``kubetask.submit`` and ``kubetask.map``. The kubeconfig is found as kubectl finds it.

``submit``, ``attach``, ``map_task`` and their handles load the HTTP layer (the ``client`` extra) on first
use, so ``kubetask run`` and the package itself work without it.
"""

from __future__ import annotations

from kubetask_client._errors import (
    EXIT_CODE_TABLE,
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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kubetask_client._apply import create_from_file, follow
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
    "create_from_file",
    "exit_code_table",
    "follow",
    "map_task",
    "submit",
]


_SUBMIT = frozenset({"TaskRunHandle", "attach", "submit"})
_APPLY = frozenset({"create_from_file", "follow"})
_MAP = frozenset({"MapResult", "TaskMapHandle", "attach_map", "map_task"})


def exit_code_table() -> tuple[tuple[int, str], ...]:
    """(code, meaning) of every exit code of the ``kubetask`` commands."""
    return EXIT_CODE_TABLE


def __getattr__(name: str) -> object:
    module: object
    if name in _SUBMIT:
        from kubetask_client import _submit as module
    elif name in _APPLY:
        from kubetask_client import _apply as module
    elif name in _MAP:
        from kubetask_client import _map as module
    else:
        raise AttributeError(f"module 'kubetask_client' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
