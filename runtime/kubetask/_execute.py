"""``kubetask-execute``: the entry point of every task pod.

Loads the task through its resolver, reads and converts the inputs, calls the task, converts and writes
the outputs (or the error document), writes the termination message, archives the attempt's log beside
them and exits with a status that says how it went. It never dies with a bare traceback, and it starts
fast: a trivial task's run imports no typing, inspect, argparse, dataclasses, json, re, enum or signal
(``tests/runtime/test_cold_start.py`` lists them; ``benchmarks/bench_execute.py`` times it).
"""

from __future__ import annotations

import os
import sys
import time

from kubetask import _context, _documents, _termination
from kubetask._arguments import USAGE, ExecuteArguments, output_prefix_of, parse_arguments, wants_help
from kubetask._capture import OutputCapture, flush_standard_streams, report
from kubetask._codec import MAX_DEPTH
from kubetask._documents import (
    ERROR_DOCUMENT,
    LOG_DOCUMENT,
    OUTPUTS_DOCUMENT,
    STAGE_CALL,
    STAGE_CODE,
    STAGE_INPUTS,
    STAGE_LOAD,
    STAGE_OUTPUTS,
    STAGE_START,
    STAGE_STORAGE,
    classify,
)
from kubetask._environment import ATTEMPT, PodEnvironment
from kubetask._errors import InputError, KubetaskError, OutputError, StorageError, Terminated, UsageError
from kubetask._jsoncodec import dumps, loads
from kubetask._protocol import EXECUTE_PROGRAM, EXIT_SUCCESS
from kubetask._resolver import resolve_task
from kubetask._storage import (
    check_backend,
    check_writable_prefix,
    join,
    read_bytes,
    remove_documents,
    scheme_of,
    write_bytes,
)
from kubetask._transfer import StorageTransfer

# How long the log archive waits for child processes the task left running to let go of stdout/stderr.
LOG_DRAIN_SECONDS = 2.0
# How long the end of an attempt waits for non-daemon threads the task left running (Python would wait
# forever at exit, and the pod with it).
THREAD_GRACE_SECONDS = 5.0

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    import signal
    from types import FrameType

    from kubetask._interface import Interface
    from kubetask._task import Task
else:  # the C module under signal: signal itself imports enum (~4 ms of cold start) for its constants
    import _signal as signal


class _Termination:
    """SIGTERM (or SIGINT, Ctrl-C under ``kubetask run``) raises Terminated in the main thread once, while
    the run is interruptible; a second signal, or one after the outcome is decided, changes nothing."""

    def __init__(self) -> None:
        self.interruptible = True
        self.received = False
        self.stopped: str | None = None  # the signal that came before the outcome was decided

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received:
            return
        self.received = True
        if self.interruptible:
            self.stopped = f"received signal {signum} ({_signal_name(signum)}): the run was stopped"
            if frame is not None and frame.f_code is _Termination.shield.__code__:
                # Python runs handlers at the entry of a call: this one came as the outcome was being
                # decided (in an except block, about to record a failure). Raising here would escape
                # that block unrecorded; the stop is recorded by confirm() instead.
                return
            raise Terminated(self.stopped)

    def confirm(self, error: BaseException | None = None) -> BaseException | None:
        """Terminated if the run was stopped, whatever the task did with the exception; else *error*.

        A task that swallows Terminated (``except BaseException``) and returns, or raises something else
        while cleaning up, was still stopped: its result is not kept, and the failure is the signal's
        (SYSTEM, recoverable, exit 143), with what the task did kept as the context."""
        if self.stopped is None or isinstance(error, Terminated):
            return error
        then = "the task caught it and returned" if error is None else f"{type(error).__name__} followed"
        terminated = Terminated(f"{self.stopped} ({then})")
        terminated.__context__ = error
        return terminated

    def shield(self) -> None:
        """From here on the outcome is decided: finish writing it instead of being interrupted."""
        self.interruptible = False


def _signal_name(signum: int) -> str:
    return "SIGINT" if signum == signal.SIGINT else "SIGTERM" if signum == signal.SIGTERM else "a signal"


def main(argv: list[str] | None = None) -> int:
    """Console script ``kubetask-execute``."""
    started = time.perf_counter()
    argv = sys.argv[1:] if argv is None else argv
    termination = _Termination()
    signal.signal(signal.SIGTERM, termination.handle)
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:  # a background job keeps ignoring Ctrl-C
        signal.signal(signal.SIGINT, termination.handle)
    if wants_help(argv):
        print(USAGE)
        return EXIT_SUCCESS
    try:
        working_directory = os.getcwd()  # before user code runs, which may change it
    except OSError:  # started in a directory since removed: relative paths cannot work anyway
        working_directory = ""
    capture = OutputCapture(archive=True)
    exit_code = _run(
        argv, started=started, termination=termination, capture=capture, working_directory=working_directory
    )
    left_running = _threads_left_running(grace_seconds=THREAD_GRACE_SECONDS)
    if left_running:
        _log(f"the task left thread(s) running: {', '.join(left_running)}; the attempt ends without them")
    prefix = output_prefix_of(argv)
    _archive_log(capture, output_prefix=_anchored(prefix, working_directory) if prefix else None)
    if left_running:  # the interpreter would wait for them at exit, forever: the pod would never end
        flush_standard_streams()
        os._exit(exit_code)
    return exit_code


def _threads_left_running(*, grace_seconds: float) -> list[str]:
    """Names of the non-daemon threads the task started that are still running after *grace_seconds*."""
    threading = sys.modules.get("threading")
    if threading is None:  # no thread was started through threading (the log tee uses _thread)
        return []
    deadline = time.monotonic() + grace_seconds
    running = []
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            running.append(thread.name)
    return running


def _archive_log(capture: OutputCapture, *, output_prefix: str | None) -> None:
    """The attempt's stdout and stderr, written to ``<output prefix>/log.txt`` once it ended whatever the
    outcome, so the log outlives the pod. Its failure changes nothing about the outcome."""
    log = capture.finish(drain_seconds=LOG_DRAIN_SECONDS)
    if log is None or output_prefix is None:
        return
    try:
        write_bytes(join(output_prefix, LOG_DOCUMENT), log)
    except Exception as error:
        _log(f"could not archive the log: {error}")


def _run(
    argv: list[str],
    *,
    started: float,
    termination: _Termination,
    capture: OutputCapture,
    working_directory: str,
) -> int:
    """One attempt, start to end: its documents and termination message written, its exit status."""
    stage = STAGE_START
    arguments: ExecuteArguments | None = None
    environment: PodEnvironment | None = None
    transfer: StorageTransfer | None = None
    code_folder: str | None = None
    try:
        try:
            arguments = _anchor_local_paths(parse_arguments(argv), working_directory)
            environment = PodEnvironment.from_environ(os.environ)
        except UsageError as error:
            return _usage_error(error, argv, started, termination)
        _log(f"start {_describe_task(arguments)} resolver={arguments.resolver} attempt={environment.attempt}")

        stage = STAGE_STORAGE
        transfer = _storage_transfer(arguments)

        stage = STAGE_CODE
        code_folder = _install_code(arguments)

        stage = STAGE_LOAD
        resolver, task = resolve_task(arguments.resolver, arguments.loader_args)
        interface = task.interface

        stage = STAGE_INPUTS
        values = _read_inputs(arguments.inputs, interface, transfer)

        stage = STAGE_CALL
        context = _context.ExecutionContext(
            attempt=environment.attempt,
            run_name=environment.run_name,
            namespace=environment.namespace,
            task_name=resolver.task_name(task) or task.name,
            output_prefix=arguments.output_prefix,
            raw_output_data_prefix=transfer.raw_output_prefix,
            checkpoint_path=arguments.checkpoint_path,
            prev_checkpoint=arguments.prev_checkpoint,
        )
        try:
            returned = _call(task, interface, values, context=context)
        finally:
            capture.reattach()  # a task that closed stdout or stderr must not silence the runtime's report
        stopped = termination.confirm()
        if stopped is not None:
            raise stopped

        stage = STAGE_OUTPUTS
        outputs, document = _outputs_document(returned, interface, transfer)
        outputs_uri = join(arguments.output_prefix, OUTPUTS_DOCUMENT)
        # From here a signal no longer interrupts: the outputs are written whole and the run succeeded, or
        # the write failed and error.json says so. Never both documents, never a .partial one.
        termination.shield()
        write_bytes(outputs_uri, document)
    except BaseException as raised:  # every failure ends in documents and an exit status, never a bare trace
        termination.shield()
        failure = termination.confirm(raised) or raised
        if stage == STAGE_CALL:
            _drop_runtime_frames(raised)
        prefix = arguments.output_prefix if arguments is not None else None
        return _fail(
            failure,
            stage=stage,
            signalled=termination.stopped is not None,
            output_prefix=prefix,
            environment=environment,
            started=started,
        )
    finally:
        _clean_up(transfer, code_folder)
    return _succeed(outputs=outputs, outputs_uri=outputs_uri, environment=environment, started=started)


def _outputs_document(
    returned: object, interface: Interface, transfer: StorageTransfer
) -> tuple[dict[str, object], bytes]:
    """The task's return value converted to its outputs, and their JSON document."""
    try:
        outputs = interface.encode_outputs(returned, transfer=transfer)
        return outputs, (dumps(outputs) + "\n").encode()
    except RecursionError:
        raise OutputError(
            f"the outputs are nested deeper than Python's recursion limit ({sys.getrecursionlimit()})"
        ) from None


def _succeed(
    *, outputs: dict[str, object], outputs_uri: str, environment: PodEnvironment | None, started: float
) -> int:
    """Once outputs.json is written the run succeeded: nothing here may turn it into a failure."""
    if environment is not None:
        message = _termination.success_message(outputs=outputs, outputs_uri=outputs_uri)
        _write_termination_message(environment, message)
    _log(f"end outcome=Succeeded duration={time.perf_counter() - started:.3f}s")
    return EXIT_SUCCESS


def _anchor_local_paths(arguments: ExecuteArguments, directory: str) -> ExecuteArguments:
    """Relative local paths made absolute before any user code runs: a task module or task that
    changes the working directory must not move where the inputs are read and the outputs written."""
    for name in ("inputs", "output_prefix", "raw_output_data_prefix", "code_uri"):
        uri = getattr(arguments, name)
        if uri is not None:
            setattr(arguments, name, _anchored(uri, directory))
    return arguments


def _anchored(uri: str, directory: str) -> str:
    """*uri*, or the relative local path *uri* taken from *directory*."""
    return os.path.join(directory, uri) if scheme_of(uri) is None and not os.path.isabs(uri) else uri


def _install_code(arguments: ExecuteArguments) -> str | None:
    """Unpack the shipped code archive, if any, and put it first on sys.path; the folder it is in."""
    if arguments.code_uri is None or arguments.code_sha256 is None:
        return None
    from kubetask._code import install_code  # only runs that ship code pay for unpacking it

    return install_code(arguments.code_uri, sha256=arguments.code_sha256)


def _clean_up(transfer: StorageTransfer | None, code_folder: str | None) -> None:
    if transfer is not None:
        transfer.clean_up()
    if code_folder is not None:
        from kubetask._code import release_code

        release_code(code_folder)


def _storage_transfer(arguments: ExecuteArguments) -> StorageTransfer:
    """File transfers of the run, once the storage of its outputs is known to be usable: a prefix that
    cannot be written, a missing backend or missing credentials fail now, before the task runs (and
    before its module loads), not after."""
    check_writable_prefix(arguments.output_prefix, probe=OUTPUTS_DOCUMENT, flag="--output-prefix")
    try:  # a prefix used before (a restarted container, a rerun) must not end with two outcomes
        remove_documents(arguments.output_prefix, [OUTPUTS_DOCUMENT, ERROR_DOCUMENT, LOG_DOCUMENT])
    except StorageError as error:
        _log(f"could not remove the documents of an earlier run: {error}")
    if arguments.raw_output_data_prefix is None:
        raw_prefix = join(arguments.output_prefix, "raw")
        check_backend(raw_prefix)
    else:  # only file outputs use it: no remote request for it, the output prefix's checked the storage
        raw_prefix = arguments.raw_output_data_prefix
        check_writable_prefix(raw_prefix, probe=None, flag="--raw-output-data-prefix")
    return StorageTransfer(raw_output_prefix=raw_prefix)


def _call(
    task: Task[..., object],
    interface: Interface,
    values: dict[str, object],
    *,
    context: _context.ExecutionContext,
) -> object:
    """Call the task with its context current (``kubetask.current_context()``)."""
    args, kwargs = interface.call_arguments(values)
    _context.set_current_context(context)
    try:
        return task.function(*args, **kwargs)
    finally:
        _context.set_current_context(None)


_RUNTIME_DIRECTORY = os.path.dirname(os.path.abspath(__file__))


def _drop_runtime_frames(error: BaseException) -> None:
    """Start the traceback of a task's exception at the task: the frames above it are kubetask's."""
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        if not os.path.abspath(traceback.tb_frame.f_code.co_filename).startswith(_RUNTIME_DIRECTORY + os.sep):
            break
        traceback = traceback.tb_next
    error.__traceback__ = traceback


def _read_inputs(uri: str, interface: Interface, transfer: StorageTransfer) -> dict[str, object]:
    data = read_bytes(uri)
    try:
        document = loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"inputs document {_short(uri)}: not valid JSON: {error}") from None
    except RecursionError:  # the decoder's own stack: far deeper than any value may nest (MAX_DEPTH)
        raise InputError(
            f"inputs document {_short(uri)}: nested deeper than {MAX_DEPTH} levels, the most kubetask "
            "accepts in a value"
        ) from None
    if not isinstance(document, dict):
        raise InputError(
            f"inputs document {_short(uri)}: expected a JSON object mapping input names to values, "
            f"got {type(document).__name__}"
        )
    return interface.decode_inputs(document, transfer=transfer)


def _usage_error(error: UsageError, argv: list[str], started: float, termination: _Termination) -> int:
    termination.shield()
    _log(USAGE)
    try:
        environment = PodEnvironment.from_environ(os.environ)
    except UsageError:  # a malformed KUBETASK_ATTEMPT must not keep the summary from being written
        environment = PodEnvironment.from_environ({k: v for k, v in os.environ.items() if k != ATTEMPT})
    prefix = output_prefix_of(argv)
    return _fail(
        error,
        stage=STAGE_START,
        signalled=False,
        output_prefix=prefix,
        environment=environment,
        started=started,
    )


def _fail(
    error: BaseException,
    *,
    stage: str,
    signalled: bool,
    output_prefix: str | None,
    environment: PodEnvironment | None,
    started: float,
) -> int:
    classification = classify(error, stage=stage, signalled=signalled)
    document = _documents.error_document(error, classification)
    error_uri = None
    if output_prefix is not None:
        try:
            candidate = join(output_prefix, ERROR_DOCUMENT)
            write_bytes(candidate, (dumps(document) + "\n").encode())
            error_uri = candidate
        except Exception as write_error:
            _log(f"could not write the error document: {write_error}")
    if isinstance(error, KubetaskError) and error.__cause__ is None and stage != STAGE_CALL:
        # A finding of the runtime (bad input, missing name...): the message says it all, a trace would not.
        _log(f"error: {document['type']}: {document['message']}")
    else:
        report(str(document["traceback"]))
    message = _termination.failure_message(
        kind=classification.kind,
        recoverable=classification.recoverable,
        error_type=str(document["type"]),
        message=str(document["message"]),
        error_uri=error_uri,
    )
    if environment is not None:
        _write_termination_message(environment, message)
    recoverable = "true" if classification.recoverable else "false"
    _log(
        f"end outcome=Failed kind={classification.kind} recoverable={recoverable} "
        f"type={document['type']} exit={int(classification.exit_code)} "
        f"duration={time.perf_counter() - started:.3f}s"
    )
    return classification.exit_code


def _write_termination_message(environment: PodEnvironment, message: str) -> None:
    path = environment.termination_message_path
    if path is None:
        return
    try:
        with open(path, "w", encoding="utf-8") as stream:  # not renamed into place: kubelet mounts this file
            stream.write(message)
    except OSError as error:
        _log(f"could not write the termination message to {path!r}: {error.strerror or error}")


def _describe_task(arguments: ExecuteArguments) -> str:
    args = arguments.loader_args
    if len(args) % 2 == 0 and all(key.startswith("task-") or key.isidentifier() for key in args[::2]):
        return " ".join(f"{key}={value}" for key, value in zip(args[::2], args[1::2], strict=True))
    return "loader-args=" + " ".join(args)


def _short(uri: str) -> str:
    return repr(uri if len(uri) <= 80 else uri[:60] + "...")


def _log(line: str) -> None:
    report(f"{EXECUTE_PROGRAM}: {line}\n")


if __name__ == "__main__":
    sys.exit(main())
