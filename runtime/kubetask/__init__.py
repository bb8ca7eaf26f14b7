"""kubetask: run typed Python tasks on Kubernetes.

This facade is imported by every task module, so it stays light: what only the operator or the client
needs (the termination-message parser, serialization settings, ``submit``) is loaded on first use through
``__getattr__``; they use dataclasses and json, which cost a task pod's cold start ~15 ms.
"""

from __future__ import annotations

import importlib

from kubetask._context import ExecutionContext, current_context
from kubetask._documents import LOG_DOCUMENT
from kubetask._errors import (
    InputError,
    KubetaskError,
    MissingStorageBackendError,
    OutputError,
    RecoverableError,
    StorageError,
    StorageLocationError,
    TaskDefinitionError,
    TaskLoadError,
    Terminated,
    UsageError,
)
from kubetask._files import Directory, File
from kubetask._interface import Interface, Parameter
from kubetask._protocol import DEFAULT_RESOLVER, ExitCode, build_execute_command, data_uri
from kubetask._resolver import (
    DefaultTaskResolver,
    TaskResolverMixin,
    default_task_resolver,
    parse_loader_args,
)
from kubetask._task import Task, task

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from kubetask._settings import SerializationSettings
    from kubetask._summary import ErrorInfo, TerminationSummary, parse_termination_message

__all__ = [
    "DEFAULT_RESOLVER",
    "LOG_DOCUMENT",
    "DefaultTaskResolver",
    "Directory",
    "ErrorInfo",
    "ExecutionContext",
    "ExitCode",
    "File",
    "InputError",
    "Interface",
    "KubetaskError",
    "MissingStorageBackendError",
    "OutputError",
    "Parameter",
    "RecoverableError",
    "SerializationSettings",
    "StorageError",
    "StorageLocationError",
    "Task",
    "TaskDefinitionError",
    "TaskLoadError",
    "TaskResolverMixin",
    "Terminated",
    "TerminationSummary",
    "UsageError",
    "build_execute_command",
    "current_context",
    "data_uri",
    "default_task_resolver",
    "parse_loader_args",
    "parse_termination_message",
    "submit",
    "task",
]

# name -> module: loaded on first access so `import kubetask` stays cheap in task pods.
_LAZY = {
    "ErrorInfo": "kubetask._summary",
    "TerminationSummary": "kubetask._summary",
    "parse_termination_message": "kubetask._summary",
    "SerializationSettings": "kubetask._settings",
}


def __getattr__(name: str) -> object:
    if name == "submit":
        return _client_attribute("submit")
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'kubetask' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def _client_attribute(name: str) -> object:
    # By name, not by import statement: the runtime must not depend on the client (import-linter contract).
    try:
        client = importlib.import_module("kubetask_client")
    except ImportError as error:
        raise ImportError(
            f"kubetask.{name} needs the kubetask client: pip install 'kubetask[operator]' ({error})"
        ) from error
    try:
        return getattr(client, name)
    except AttributeError:
        raise AttributeError(f"kubetask_client has no attribute {name!r}: is it up to date?") from None


def __dir__() -> list[str]:
    return sorted(__all__)
