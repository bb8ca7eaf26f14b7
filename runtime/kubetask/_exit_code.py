"""``kubetask.ExitCode``: the exit statuses of ``kubetask-execute`` by name.

An IntEnum for the operator and users; the pod itself uses the plain ints of :mod:`kubetask._protocol`, where
they are defined, because :mod:`enum` costs ~4 ms of its cold start. Loaded on first use of the name.
"""

from __future__ import annotations

from enum import IntEnum

from kubetask import _protocol


class ExitCode(IntEnum):
    """Exit status of ``kubetask-execute``: distinct for each way it can end."""

    SUCCESS = _protocol.EXIT_SUCCESS
    USER_ERROR = _protocol.EXIT_USER_ERROR  # the task, its module, its resolver or its inputs failed
    USAGE_ERROR = _protocol.EXIT_USAGE_ERROR  # the command line or the environment is malformed
    SYSTEM_ERROR = _protocol.EXIT_SYSTEM_ERROR  # storage or the runtime itself failed; worth retrying
    TERMINATED = _protocol.EXIT_TERMINATED  # SIGTERM (128 + 15), e.g. the pod was deleted or timed out
