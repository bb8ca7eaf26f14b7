"""The client's exceptions (a leaf module: everything else imports it, it imports nothing of ours).

Each carries the exit status ``kubetask`` returns for it, using the runtime's exit-code meanings: the task
failed (1), the command was wrong (2), something outside the task went wrong (3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_SYSTEM = 3


class KubetaskClientError(Exception):
    """Base of every error the client raises on purpose; its message is meant for people."""

    exit_code = EXIT_SYSTEM


class ClientUsageError(KubetaskClientError, ValueError):
    """A bad argument: a malformed target, input, name or option. The message names it and its value."""

    exit_code = EXIT_USAGE


class KubeconfigError(KubetaskClientError):
    """No usable kubeconfig or context (the message says where it looked)."""

    exit_code = EXIT_USAGE


class ApiError(KubetaskClientError):
    """The Kubernetes API refused or failed a request (the message has the status and the API's reason)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InvalidTaskRunError(ApiError):
    """The API server refused the TaskRun (400/422); the message is the server's, naming the field."""

    exit_code = EXIT_USAGE


class TaskRunNotFoundError(ApiError):
    """No TaskRun of that name in that namespace."""

    exit_code = EXIT_USAGE


class WaitTimeoutError(KubetaskClientError):
    """The TaskRun had not finished when the wait ran out of time."""

    def __init__(self, message: str, *, taskrun: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.taskrun = taskrun


class TaskRunFailedError(KubetaskClientError):
    """The TaskRun ended Failed or Cancelled; ``taskrun`` is its last state, ``error`` its status error."""

    exit_code = EXIT_TASK_FAILED

    def __init__(self, message: str, *, taskrun: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.taskrun = taskrun
        status = taskrun.get("status") or {}
        self.phase: str | None = status.get("phase")
        self.error: Mapping[str, Any] | None = status.get("error")


class TaskMapFailedError(KubetaskClientError):
    """The TaskMap ended Failed (more items failed than it allows) or Cancelled; ``taskmap`` is its last
    state and ``result`` what its items gave (a ``MapResult``: outputs in item order, failures by index)."""

    exit_code = EXIT_TASK_FAILED

    def __init__(self, message: str, *, taskmap: Mapping[str, Any], result: Any) -> None:
        super().__init__(message)
        self.taskmap = taskmap
        self.result = result
