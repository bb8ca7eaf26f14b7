"""The error document and the classification of failures (USER/SYSTEM, recoverable, exit status).

Pure functions. The document is bounded so that a huge message or traceback cannot make it unwieldy for
whoever reads it back (Flyte workflows got stuck on multi-megabyte error documents).
"""

from __future__ import annotations

from kubetask._errors import (
    CodeArchiveError,
    InputError,
    OutputError,
    RecoverableError,
    StorageError,
    StorageLocationError,
    TaskDefinitionError,
    TaskLoadError,
    UsageError,
)
from kubetask._protocol import (
    EXIT_SYSTEM_ERROR,
    EXIT_TERMINATED,
    EXIT_USAGE_ERROR,
    EXIT_USER_ERROR,
)

# The documents an attempt leaves under its --output-prefix. Exactly one of outputs.json (it succeeded)
# and error.json (it failed); log.txt, the attempt's stdout and stderr, whatever the outcome.
OUTPUTS_DOCUMENT = "outputs.json"
ERROR_DOCUMENT = "error.json"
LOG_DOCUMENT = "log.txt"

USER = "USER"
SYSTEM = "SYSTEM"
MAX_MESSAGE_CHARS = 8_000
MAX_TRACEBACK_CHARS = 32_000

# Stages of a run: where an exception is raised decides whose fault it is.
STAGE_START = "start"  # command line, environment, runtime set-up
STAGE_STORAGE = "storage"  # checking the run's storage is usable, before any user code runs
STAGE_CODE = "code"  # fetching, checking and unpacking the shipped code archive
STAGE_LOAD = "load"  # importing the resolver and the task module: user code
STAGE_INPUTS = "inputs"  # reading and converting inputs
STAGE_CALL = "call"  # the task itself: user code
STAGE_OUTPUTS = "outputs"  # converting, uploading and writing outputs

_USER_ERRORS = (
    CodeArchiveError,
    InputError,
    OutputError,
    StorageLocationError,
    TaskDefinitionError,
    TaskLoadError,
)


class Classification:
    """Whose fault a failure is, whether retrying may help, and the exit status that says so."""

    __slots__ = ("exit_code", "kind", "recoverable")

    def __init__(self, kind: str, recoverable: bool, exit_code: int) -> None:
        self.kind = kind
        self.recoverable = recoverable
        self.exit_code = exit_code

    def __repr__(self) -> str:
        return f"Classification({self.kind}, recoverable={self.recoverable}, exit_code={self.exit_code!r})"


def classify(error: BaseException, *, stage: str, signalled: bool) -> Classification:
    """USER: raised by the task, its module, its resolver, or bad inputs/outputs. SYSTEM: storage, the
    runtime, signals. User errors are recoverable only when the task raised RecoverableError; system
    errors are recoverable except a malformed command or a missing storage backend. A URI of the spec
    that cannot work (StorageLocationError: not found, not writable, no credentials) is the user's.

    *signalled*: the process received SIGTERM or SIGINT before the outcome was decided. Only then is the
    run a stop (Terminated, exit 143); a task that raises Terminated or KeyboardInterrupt itself, with no
    signal, failed like any other task."""
    if signalled:  # stopped by a signal (SIGTERM, or SIGINT locally), whatever the task then did
        return Classification(SYSTEM, True, EXIT_TERMINATED)
    if isinstance(error, UsageError):
        return Classification(SYSTEM, False, EXIT_USAGE_ERROR)
    user_code = stage in (STAGE_LOAD, STAGE_CALL)
    if isinstance(error, StorageError) and not isinstance(error, StorageLocationError) and not user_code:
        return Classification(SYSTEM, error.recoverable, EXIT_SYSTEM_ERROR)
    if user_code or isinstance(error, _USER_ERRORS):
        return Classification(USER, isinstance(error, RecoverableError), EXIT_USER_ERROR)
    return Classification(SYSTEM, True, EXIT_SYSTEM_ERROR)  # the runtime's own fault


def qualified_type(error: BaseException) -> str:
    """``ValueError``, ``kubetask.TaskLoadError``, ``mypackage.errors.Oops``."""
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def error_message(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"the task called sys.exit({error.code!r})"
    try:
        message = str(error) or qualified_type(error)
    except Exception as broken:  # a user's exception whose __str__ fails must still be reported
        message = f"{qualified_type(error)} (its message could not be rendered: {type(broken).__name__})"
    return bound(message, MAX_MESSAGE_CHARS)


def error_document(error: BaseException, classification: Classification) -> dict[str, object]:
    """``{"kind", "recoverable", "type", "message", "traceback"}`` with chained causes, bounded."""
    import traceback  # failure path only: traceback imports linecache, tokenize, re...

    formatted = "".join(traceback.format_exception(error))
    return {
        "kind": classification.kind,
        "recoverable": classification.recoverable,
        "type": qualified_type(error),
        "message": error_message(error),
        "traceback": bound(formatted, MAX_TRACEBACK_CHARS),
    }


def bound(text: str, limit: int) -> str:
    """*text* cut to about *limit* characters, keeping its head and its tail (where the error is)."""
    if len(text) <= limit:
        return text
    head = limit // 8
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n... [{omitted} characters omitted] ...\n{text[-tail:]}"
