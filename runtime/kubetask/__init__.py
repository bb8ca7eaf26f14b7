"""kubetask: run typed Python tasks on Kubernetes.

This facade is imported by every task module, so it stays light: what only the operator or the client
needs (the termination-message parser, serialization settings, local runs, storage access) is loaded on
first use through ``__getattr__``; they use dataclasses and json, which cost a task pod's cold start ~15 ms.

``kubetask.submit`` and ``kubetask.map`` are served by whichever installed package registers them in the
``kubetask.plugins`` entry point group (the client does): the runtime never names the packages above it.
"""

from __future__ import annotations

import sys

from kubetask._codec import MAX_DEPTH as MAX_VALUE_DEPTH
from kubetask._codec import FileTransfer
from kubetask._context import ExecutionContext, current_context
from kubetask._documents import LOG_DOCUMENT
from kubetask._errors import (
    CodeArchiveError,
    CodePackingError,
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
from kubetask._interface import describe as describe_type
from kubetask._options import Resources, Secret, TaskOptions
from kubetask._protocol import DEFAULT_RESOLVER, build_execute_command, data_uri
from kubetask._resolver import (
    DefaultTaskResolver,
    TaskResolverMixin,
    default_task_resolver,
    parse_loader_args,
)
from kubetask._task import Task, task

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from kubetask._code import CodeArchive, code_root_of, pack_code, upload_code
    from kubetask._exit_code import ExitCode
    from kubetask._interface import Upload as Upload  # the type of encode_inputs(upload=...): typing only
    from kubetask._local import LocalRun, Target, load_target, parse_target, run_locally
    from kubetask._settings import SerializationSettings
    from kubetask._storage import join as join_uri
    from kubetask._storage import read_bytes as read_uri
    from kubetask._storage import upload as upload_to_uri
    from kubetask._storage import write_bytes as write_uri
    from kubetask._summary import ErrorInfo, TerminationSummary, parse_termination_message

__all__ = [
    "DEFAULT_RESOLVER",
    "LOG_DOCUMENT",
    "MAX_VALUE_DEPTH",
    "CodeArchive",
    "CodeArchiveError",
    "CodePackingError",
    "DefaultTaskResolver",
    "Directory",
    "ErrorInfo",
    "ExecutionContext",
    "ExitCode",
    "File",
    "FileTransfer",
    "InputError",
    "Interface",
    "KubetaskError",
    "LocalRun",
    "MissingStorageBackendError",
    "OutputError",
    "Parameter",
    "RecoverableError",
    "Resources",
    "Secret",
    "SerializationSettings",
    "StorageError",
    "StorageLocationError",
    "Target",
    "Task",
    "TaskDefinitionError",
    "TaskLoadError",
    "TaskOptions",
    "TaskResolverMixin",
    "Terminated",
    "TerminationSummary",
    "UsageError",
    "build_execute_command",
    "code_root_of",
    "current_context",
    "data_uri",
    "default_task_resolver",
    "describe_type",
    "join_uri",
    "load_target",
    "map",
    "pack_code",
    "parse_loader_args",
    "parse_target",
    "parse_termination_message",
    "read_uri",
    "run_locally",
    "submit",
    "task",
    "upload_code",
    "upload_to_uri",
    "write_uri",
]

# name -> (module, attribute): loaded on first access so `import kubetask` stays cheap in task pods.
_LAZY = {
    "ExitCode": ("kubetask._exit_code", "ExitCode"),  # an IntEnum: enum costs a task pod's cold start ~4 ms
    "ErrorInfo": ("kubetask._summary", "ErrorInfo"),
    "TerminationSummary": ("kubetask._summary", "TerminationSummary"),
    "parse_termination_message": ("kubetask._summary", "parse_termination_message"),
    "SerializationSettings": ("kubetask._settings", "SerializationSettings"),
    # Running a task on this machine as a pod would (``kubetask run``), finding it by TARGET.
    "Target": ("kubetask._local", "Target"),
    "LocalRun": ("kubetask._local", "LocalRun"),
    "parse_target": ("kubetask._local", "parse_target"),
    "load_target": ("kubetask._local", "load_target"),
    "run_locally": ("kubetask._local", "run_locally"),
    # Storage as the pod sees it: local paths, file://, data: and any fsspec protocol with its extra.
    "read_uri": ("kubetask._storage", "read_bytes"),
    "write_uri": ("kubetask._storage", "write_bytes"),
    "upload_to_uri": ("kubetask._storage", "upload"),
    "join_uri": ("kubetask._storage", "join"),
    # Code shipped without an image build: packed by the client, unpacked by kubetask-execute.
    "CodeArchive": ("kubetask._code", "CodeArchive"),
    "code_root_of": ("kubetask._code", "code_root_of"),
    "pack_code": ("kubetask._code", "pack_code"),
    "upload_code": ("kubetask._code", "upload_code"),
}
PLUGIN_GROUP = "kubetask.plugins"


def __getattr__(name: str) -> object:
    if name in ("submit", "map"):
        return _plugin(name, extra="operator")
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'kubetask' has no attribute {name!r}") from None
    __import__(module_name)  # importlib.import_module without importing importlib (and warnings)
    value = getattr(sys.modules[module_name], attribute)
    globals()[name] = value
    return value


def _plugin(name: str, *, extra: str) -> object:
    """What an installed package registered as *name* in the ``kubetask.plugins`` entry point group."""
    from importlib.metadata import entry_points  # only when a plugin is asked for

    found = entry_points(group=PLUGIN_GROUP, name=name)
    if not found:
        raise AttributeError(
            f"kubetask.{name} is provided by the kubetask client, which is not installed: "
            f"pip install 'kubetask[{extra}]'"
        )
    entry = next(iter(found))
    try:
        return entry.load()
    except ImportError as error:
        raise ImportError(
            f"kubetask.{name} needs {entry.value}, which cannot be imported: {error}; "
            f"pip install 'kubetask[{extra}]'"
        ) from error


def __dir__() -> list[str]:
    return sorted(__all__)
