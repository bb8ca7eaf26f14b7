"""The client's exceptions (a leaf module: everything else imports it, it imports nothing of ours).

Each carries the exit status ``kubetask`` returns for it. The exit codes are one table for every command
(``kubetask --help`` prints it, EXIT_CODE_TABLE below): 1, 2 and 3 keep the runtime's meanings (the task
failed, the command was wrong, something outside the task failed), and the end of a TaskRun that is none of
those has its own code, so a script can tell them apart without parsing messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXIT_SUCCEEDED = 0
EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_SYSTEM = 3
EXIT_CANCELLED = 4
EXIT_TIMED_OUT = 5
EXIT_STILL_RUNNING = 6
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C

#: (code, meaning) for every exit code of every ``kubetask`` command, in the order help prints them.
EXIT_CODE_TABLE = (
    (EXIT_SUCCEEDED, "succeeded (for run, submit --wait, wait: the task succeeded)"),
    (
        EXIT_TASK_FAILED,
        "the task failed: it raised, exited non-zero or ran out of memory (UserError, OOMKilled)",
    ),
    (
        EXIT_USAGE,
        "usage error: a bad argument, an unknown TARGET, task, input, TaskRun or namespace, no kubeconfig, "
        "or a TaskRun refused (by the API server, or by the operator as InvalidSpec)",
    ),
    (
        EXIT_SYSTEM,
        "infrastructure failure: the run failed outside the task (image, pod, node, storage, runtime) or the "
        "Kubernetes API could not be reached",
    ),
    (EXIT_CANCELLED, "the TaskRun was cancelled"),
    (EXIT_TIMED_OUT, "the TaskRun timed out (its timeout or pendingTimeout)"),
    (EXIT_STILL_RUNNING, "--wait-timeout ran out while the TaskRun still runs (it carries on)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C); run: 128+N when the task process was killed by signal N"),
)


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

    exit_code = EXIT_STILL_RUNNING

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
