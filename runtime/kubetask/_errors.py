"""The runtime's exceptions: a leaf module every other module may import.

Public exceptions claim ``__module__ = "kubetask"`` so error documents and tracebacks name them the way
users import them (``kubetask.TaskLoadError``), not by the private module that defines them.
"""

from __future__ import annotations


class KubetaskError(Exception):
    """Base class of the errors kubetask raises itself."""


class RecoverableError(Exception):
    """Raise from a task to ask for a retry: the failure is recorded as a recoverable USER error."""


class TaskDefinitionError(KubetaskError):
    """A task is declared in a way the runtime cannot run (bad decorator argument, unsupported type,
    not reachable at module level)."""


class TaskLoadError(KubetaskError):
    """The resolver could not find the task named by the loader arguments."""


class InputError(KubetaskError):
    """The inputs document does not match the task's interface."""


class OutputError(KubetaskError):
    """The task returned something its interface cannot carry."""


class StorageError(KubetaskError):
    """Reading or writing a URI failed (a SYSTEM error: worth retrying)."""

    recoverable = True


class MissingStorageBackendError(StorageError):
    """A URI's scheme needs a storage backend that is not installed (retrying cannot help)."""

    recoverable = False


class CodePackingError(KubetaskError):
    """A task's code root cannot be packed for shipping (too large, unreadable)."""


class CodeArchiveError(KubetaskError):
    """A shipped code archive does not match its sha256 or is not a safe, readable archive (a USER error:
    retrying the same archive cannot help)."""


class StorageLocationError(StorageError):
    """A URI that cannot work as given: malformed, not found, on another host, not writable, or without
    credentials for its storage. A USER error naming the URI: retrying the same spec cannot help."""

    recoverable = False


class UsageError(KubetaskError):
    """The command line or the environment of ``kubetask-execute`` is malformed."""


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM.

    A BaseException, so a task's ``except Exception`` does not swallow the termination."""


for _exception in (
    KubetaskError,
    RecoverableError,
    TaskDefinitionError,
    TaskLoadError,
    InputError,
    OutputError,
    StorageError,
    MissingStorageBackendError,
    CodePackingError,
    CodeArchiveError,
    StorageLocationError,
    UsageError,
    Terminated,
):
    _exception.__module__ = "kubetask"
