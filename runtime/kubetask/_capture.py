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

# As much as the kubelet keeps of a container's log by default (containerLogMaxSize: 10Mi).
MAX_ARCHIVE_BYTES = 10 * 1024 * 1024
_HEAD_BYTES = 1024 * 1024  # kept from the start of an oversized log: how the attempt began
_CHUNK = 65536
_MAX_DRAIN_CHUNKS = 64  # what the runtime drains before writing a line of its own: 4 MiB per stream


class _Spool:
    """Bytes appended by the tee thread, read back once at the end, bounded to head and tail: in an
    unlinked file up to ``MAX_ARCHIVE_BYTES``, in memory past that (or without a writable temporary
    directory), where at most twice that is held (cut back in the middle when reached, amortised)."""

    def __init__(self) -> None:
        self._fd = _anonymous_file()
        self._memory = bytearray()
        self._size = 0
        self._omitted = 0
        self._lock = _thread.allocate_lock()

    def append(self, data: bytes) -> None:
        with self._lock:
            if self._fd is not None:
                if self._size + len(data) <= MAX_ARCHIVE_BYTES:
                    try:
                        _write_all(self._fd, data)
                        self._size += len(data)
                        return
                    except OSError:  # the temporary directory filled up: go on in memory
                        pass
                self._memory += self._read_file()
                self._close_file()
            self._memory += data
            if len(self._memory) > 2 * MAX_ARCHIVE_BYTES:
                self._cut()

    def _cut(self) -> None:
        """Down to ``MAX_ARCHIVE_BYTES``: the head, and the most recent rest."""
        excess = len(self._memory) - MAX_ARCHIVE_BYTES
        if excess > 0:
            del self._memory[_HEAD_BYTES : _HEAD_BYTES + excess]
            self._omitted += excess

    def read(self) -> bytes:
        """What was appended, cut in the middle to ``MAX_ARCHIVE_BYTES`` with a note of what was left out."""
        with self._lock:
            if self._fd is not None:
                return self._read_file()
            self._cut()
            data, omitted = bytes(self._memory), self._omitted
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
    cannot be made, only a saved copy of them to give back to a task that closed its own.

    Two pipes keep stdout and stderr apart, but then nothing orders a chunk of one against a chunk of
    the other. The runtime's own lines (start, end, errors) are therefore not sent through a pipe:
    :meth:`write_line` first drains both pipes, then writes the line itself, so it lands after all the
    task wrote before it and before anything the task writes after it."""

    def __init__(self, *, archive: bool) -> None:
        self._real = (_dup(1), _dup(2))  # where the output really goes (the container's log)
        self._writers: tuple[int | None, int | None] = self._real  # what fds 1 and 2 should be
        self._streams = (sys.stdout, sys.stderr)
        self._spool: _Spool | None = None
        self._readers: dict[int, int | None] = {}  # pipe read end -> the real descriptor it feeds
        self._open: set[int] = set()  # read ends not at end of file yet
        self._pumping = _thread.allocate_lock()  # one reader of the pipes at a time: order is kept
        self._done = _thread.allocate_lock()
        if archive:
            self._start_tee()

    def _start_tee(self) -> None:
        if not hasattr(select, "poll"):  # not a POSIX system (task pods are): no archive, output as is
            return
        try:
            stdout_pipe, stderr_pipe = os.pipe(), os.pipe()
        except OSError:
            return
        flush_standard_streams()
        self._spool = _Spool()
        self._readers = {stdout_pipe[0]: self._real[0], stderr_pipe[0]: self._real[1]}
        self._open = set(self._readers)
        for reader in self._readers:
            os.set_blocking(reader, False)  # the thread and write_line both drain them
        self._writers = (stdout_pipe[1], stderr_pipe[1])
        self._done.acquire()
        _thread.start_new_thread(self._tee, ())
        global _active  # noqa: PLW0603 - one attempt per process: see report()
        _active = self
        self.reattach()
        for stream in (sys.stdout, sys.stderr):  # lines reach the real output as they are printed
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                _quietly(reconfigure, line_buffering=True)

    def _tee(self) -> None:
        try:
            poller = select.poll()
            for reader in self._readers:
                poller.register(reader, select.POLLIN)
            while True:
                with self._pumping:
                    for reader in [reader for reader in self._readers if reader not in self._open]:
                        poller.unregister(reader)
                        os.close(reader)
                        del self._readers[reader]
                    if not self._readers:
                        return
                for reader, _ in poller.poll():
                    with self._pumping:
                        if reader in self._open:
                            self._pump(reader)
        finally:
            self._done.release()

    def _pump(self, reader: int) -> bool:
        """Pass one chunk of *reader* on (the lock held); False when it had nothing (or ended)."""
        try:
            data = os.read(reader, _CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:  # every writer closed it
            self._open.discard(reader)
            return False
        real = self._readers[reader]
        if real is not None:
            try:
                _write_all(real, data)
            except OSError:  # the real output went away: keep archiving
                self._readers[reader] = None
        if self._spool is not None:  # None once the log was taken: children may still write
            self._spool.append(data)
        return True

    def write_line(self, text: str) -> None:
        """The runtime's own output, to the real stderr and the log, after what the task wrote so far."""
        data = text.encode("utf-8", "backslashreplace")
        if self._spool is None:
            _write_stderr(text)
            return
        flush_standard_streams()
        with self._pumping:
            if self._spool is None:
                _write_stderr(text)
                return
            for reader in list(self._open):
                for _ in range(_MAX_DRAIN_CHUNKS):  # bounded: a child may write faster than this drains
                    if not self._pump(reader):
                        break
            if self._real[1] is not None:
                _quietly(_write_all, self._real[1], data)
            self._spool.append(data)

    def reattach(self) -> None:
        """fds 1 and 2 and ``sys.stdout``/``sys.stderr`` usable again, whatever the task closed or
        replaced them with."""
        for fd, writer in ((1, self._writers[0]), (2, self._writers[1])):
            if writer is not None:
                _quietly(os.dup2, writer, fd)
        for name, fd, original in (("stdout", 1, self._streams[0]), ("stderr", 2, self._streams[1])):
            stream = original if original is not None and not original.closed else None
            if stream is None:
                try:  # it becomes sys.stdout or sys.stderr: not closed here
                    stream = open(fd, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115
                except OSError:
                    continue
            setattr(sys, name, stream)

    def finish(self, *, drain_seconds: float) -> bytes | None:
        """Stop capturing: fds 1 and 2 back to the real output, and the log so far (None without a tee).

        Child processes the task left running may still hold the pipes; the log is taken after at
        most *drain_seconds* without waiting for them."""
        global _active  # noqa: PLW0603 - one attempt per process: see report()
        flush_standard_streams()
        for fd, real in ((1, self._real[0]), (2, self._real[1])):
            if real is not None:
                _quietly(os.dup2, real, fd)
        spool = self._spool
        if spool is None:
            return None
        for writer in self._writers:
            if writer is not None:
                _quietly(os.close, writer)
        self._writers = self._real
        if self._done.acquire(timeout=drain_seconds):
            self._done.release()
        self._spool = None  # the tee thread, if a child keeps it going, stops archiving (not passing on)
        _active = None
        return spool.read()


_active: OutputCapture | None = None  # the capture of this process's attempt, while it captures


def report(text: str) -> None:
    """The runtime's own output (its log lines, tracebacks): through the active capture, which orders
    it after the task's output, or straight to stderr. Never raises."""
    if _active is not None:
        _active.write_line(text)
    else:
        _write_stderr(text)


def _write_stderr(text: str) -> None:
    """Best effort: the runtime's report must not fail because stderr is gone (a closed pipe...)."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # closed, or replaced by None
        _quietly(_write_all, 2, text.encode("utf-8", "backslashreplace"))


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
