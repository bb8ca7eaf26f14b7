"""The attempt's log: what the task, its child processes and the runtime write to stdout and stderr.

Logs must outlive the pod, so ``kubetask-execute`` archives them beside the outputs. File descriptors 1
and 2 are redirected into pipes that child processes inherit; one thread reads both and passes every
chunk on at once to the real stdout or stderr (``kubectl logs -f`` still streams, and stays split into
stdout and stderr) and into a spool the archive is read from when the attempt ends. The spool is an
unlinked temporary file (nothing is left behind even after SIGKILL), or memory when no temporary
directory is writable; either way an archive keeps at most ``MAX_ARCHIVE_BYTES``, head and tail.

The same object keeps the runtime's output usable after the task: a task that closes ``sys.stdout`` or
``sys.stderr``, or file descriptors 1 and 2, gets them back once it returned, so the runtime can still
report (it once failed after writing a Succeeded summary). Only the raw ``_thread`` and ``select``
modules are used: :mod:`threading` would cost the cold start more than the whole tee.
"""

from __future__ import annotations

import _thread
import os
import select
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_ARCHIVE_BYTES = 32 * 1024 * 1024
_HEAD_BYTES = 1024 * 1024  # kept from the start of an oversized log: how the attempt began
_CHUNK = 65536


class _Spool:
    """Bytes appended by the tee thread, read back once at the end; bounded to head and tail."""

    def __init__(self) -> None:
        self._fd = _anonymous_file()
        self._memory = bytearray()
        self._size = 0
        self._omitted = 0
        self._lock = _thread.allocate_lock()

    def append(self, data: bytes) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    _write_all(self._fd, data)
                    self._size += len(data)
                    return
                except OSError:  # the temporary directory filled up: keep the rest in memory
                    self._memory += self._read_file()
                    self._close_file()
            self._memory += data
            if len(self._memory) > MAX_ARCHIVE_BYTES:  # drop from the middle, keep head and tail
                excess = len(self._memory) - MAX_ARCHIVE_BYTES
                del self._memory[_HEAD_BYTES : _HEAD_BYTES + excess]
                self._omitted += excess

    def read(self) -> bytes:
        """What was appended, cut in the middle to ``MAX_ARCHIVE_BYTES`` with a note of what was left out."""
        with self._lock:
            data = self._read_file() if self._fd is not None else bytes(self._memory)
            omitted = self._omitted
        if len(data) > MAX_ARCHIVE_BYTES:
            omitted += len(data) - MAX_ARCHIVE_BYTES
            data = data[:_HEAD_BYTES] + data[len(data) - (MAX_ARCHIVE_BYTES - _HEAD_BYTES) :]
        if omitted:
            note = f"\n... [kubetask: {omitted} bytes of log omitted] ...\n".encode()
            data = data[:_HEAD_BYTES] + note + data[_HEAD_BYTES:]
        return data

    def _read_file(self) -> bytes:
        assert self._fd is not None
        try:
            return os.pread(self._fd, self._size, 0)
        except OSError:
            return b""

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _anonymous_file() -> int | None:
    """A read-write file nobody else can see, gone once closed (or the process is killed)."""
    directory = os.environ.get("TMPDIR") or "/tmp"  # opened O_EXCL, mode 0600, unlinked at once
    path = os.path.join(directory, f"kubetask-log-{os.getpid()}-{os.urandom(6).hex()}")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return None
    try:
        os.unlink(path)
    except OSError:
        os.close(fd)
        return None
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _dup(fd: int) -> int | None:
    try:
        return os.dup(fd)
    except OSError:  # started with that descriptor closed
        return None


class OutputCapture:
    """fds 1 and 2 through the tee (see the module docstring), or, with *archive* false or when pipes
    cannot be made, only a saved copy of them to give back to a task that closed its own."""

    def __init__(self, *, archive: bool) -> None:
        self._real = (_dup(1), _dup(2))  # where the output really goes (the container's log)
        self._writers: tuple[int | None, int | None] = self._real  # what fds 1 and 2 should be
        self._spool: _Spool | None = None
        self._done = _thread.allocate_lock()
        if archive:
            self._start_tee()

    def _start_tee(self) -> None:
        try:
            stdout_pipe, stderr_pipe = os.pipe(), os.pipe()
        except OSError:
            return
        flush_standard_streams()
        self._spool = _Spool()
        readers = {stdout_pipe[0]: self._real[0], stderr_pipe[0]: self._real[1]}
        self._writers = (stdout_pipe[1], stderr_pipe[1])
        self._done.acquire()
        _thread.start_new_thread(self._tee, (readers, self._spool))
        self.reattach()
        for stream in (sys.stdout, sys.stderr):  # lines reach the real output as they are printed
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                _quietly(reconfigure, line_buffering=True)

    def _tee(self, readers: dict[int, int | None], spool: _Spool) -> None:
        try:
            poller = select.poll()
            for reader in readers:
                poller.register(reader, select.POLLIN)
            open_readers = set(readers)
            while open_readers:
                for reader, _ in poller.poll():
                    try:
                        data = os.read(reader, _CHUNK)
                    except OSError:
                        data = b""
                    if not data:  # every writer closed it
                        poller.unregister(reader)
                        open_readers.discard(reader)
                        os.close(reader)
                        continue
                    real = readers[reader]
                    if real is not None:
                        try:
                            _write_all(real, data)
                        except OSError:  # the real output went away: keep archiving
                            readers[reader] = None
                    spool.append(data)
        finally:
            self._done.release()

    def reattach(self) -> None:
        """fds 1 and 2 and ``sys.stdout``/``sys.stderr`` usable again, whatever the task closed."""
        for fd, writer in ((1, self._writers[0]), (2, self._writers[1])):
            if writer is not None:
                _quietly(os.dup2, writer, fd)
        for name, fd in (("stdout", 1), ("stderr", 2)):
            stream = getattr(sys, name)
            if stream is None or getattr(stream, "closed", True):
                try:  # it becomes sys.stdout or sys.stderr: not closed here
                    reopened = open(fd, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115
                except OSError:
                    continue
                setattr(sys, name, reopened)

    def finish(self, *, drain_seconds: float) -> bytes | None:
        """Stop capturing: fds 1 and 2 back to the real output, and the log so far (None without a tee).

        Child processes the task left running may still hold the pipes; the log is taken after at
        most *drain_seconds* without waiting for them."""
        flush_standard_streams()
        for fd, real in ((1, self._real[0]), (2, self._real[1])):
            if real is not None:
                _quietly(os.dup2, real, fd)
        if self._spool is None:
            return None
        for writer in self._writers:
            if writer is not None:
                _quietly(os.close, writer)
        self._writers = self._real
        if self._done.acquire(timeout=drain_seconds):
            self._done.release()
        log = self._spool.read()
        self._spool = None
        return log


def flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            _quietly(stream.flush)


def _quietly(function: Callable[..., object], *args: object, **kwargs: object) -> None:
    """*function* called for its effect when possible: a closed or broken descriptor is no failure here."""
    try:  # noqa: SIM105 - contextlib is one more import on the cold path
        function(*args, **kwargs)
    except (OSError, ValueError):
        pass
