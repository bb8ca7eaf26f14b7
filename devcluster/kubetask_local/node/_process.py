"""One container of a pod as a local process tree: output captured to its log, memory limit enforced.

Each container runs under its own shim (see ``_shim``), in a session of its own: the shim stands in for the
container's PID namespace, so every process the container starts ends with it, and it runs the command as the
container's user. When the container has ``resources.limits.memory``, the node's :class:`MemoryMonitor` sums
the shim's descendants and the container is killed when they exceed the limit, which the node reports as
``OOMKilled`` (137).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubetask_local.node._logs import LogWriter
from kubetask_local.node._memory import MemoryMonitor
from kubetask_local.node._shim import KILL_SIGNAL, RunAs

_CHUNK = 65536


_SHIM = Path(__file__).with_name("_shim.py")


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int
    oom_killed: bool


class ContainerProcess:
    """A started container process; ``wait()`` gives its exit code (128+signal when killed by a signal)."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        *,
        log: LogWriter,
        memory_limit: int | None,
        memory: MemoryMonitor,
    ) -> None:
        self._process = process
        self._log = log
        self._memory = memory
        self._oom_killed = False
        self._readers = [
            asyncio.create_task(self._pump(process.stdout, "stdout")),
            asyncio.create_task(self._pump(process.stderr, "stderr")),
        ]
        if memory_limit is not None:
            memory.watch(process.pid, limit=memory_limit, exceeded=self._out_of_memory)

    @classmethod
    async def start(
        cls,
        *,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        log: LogWriter,
        memory_limit: int | None,
        memory: MemoryMonitor,
        identity: RunAs | None = None,
    ) -> ContainerProcess:
        """Start the process under its shim; ``OSError`` (e.g. executable not found, a user the node may not
        become) is raised once the shim reports it, for the caller to report."""
        status_read, status_write = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-S",
                str(_SHIM),
                str(status_write),
                str(os.getpid()),
                *(identity or RunAs()).shim_arguments(),
                "--",
                *argv,
                env=dict(env),
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                pass_fds=(status_write,),
            )
        finally:
            os.close(status_write)
        try:
            failure = await asyncio.to_thread(_read_all, status_read)
        finally:
            os.close(status_read)
        if failure:
            await process.wait()
            number, _, text = failure.decode(errors="replace").partition(" ")
            raise OSError(int(number) if number.isdigit() else 0, text)
        return cls(process, log=log, memory_limit=memory_limit, memory=memory)

    @property
    def pid(self) -> int:
        return self._process.pid

    def signal_group(self, signum: int) -> None:
        """``signum`` to every process still in the container's session group (leftovers once the shim is
        gone, or everything when the shim could not be reached)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    def kill(self) -> None:
        """Kill the whole container at once, as SIGKILL to its PID namespace: the shim kills every process
        the container started, then exits with the main process's code."""
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, KILL_SIGNAL)

    async def terminate(self, *, grace_period: float) -> None:
        """SIGTERM to the main process (through the shim), the whole container killed after
        ``grace_period`` seconds if it is still running."""
        if self._process.returncode is not None:
            self.signal_group(signal.SIGKILL)  # leftovers of the group, if any
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self._process.wait()), timeout=max(grace_period, 0))
        except TimeoutError:
            self.kill()

    async def exited(self) -> None:
        """Until the process has ended (it may be awaited while ``wait()`` is awaited elsewhere)."""
        await self._process.wait()

    async def wait(self) -> ProcessResult:
        code = await self._process.wait()
        self._memory.unwatch(self._process.pid)
        # Output still buffered in the pipes is read to the end; descendants holding the pipes open get a
        # moment and are then killed with the group, as a runtime tears down the container's cgroup.
        _done, pending = await asyncio.wait(self._readers, timeout=1.0)
        if pending:
            self.signal_group(signal.SIGKILL)
            await asyncio.wait(pending, timeout=1.0)
            for task in pending:
                task.cancel()
        else:
            self.signal_group(signal.SIGKILL)
        self._log.close()
        exit_code = 128 - code if code < 0 else code
        if self._oom_killed:
            exit_code = 137
        return ProcessResult(exit_code=exit_code, oom_killed=self._oom_killed)

    async def _pump(self, stream: asyncio.StreamReader | None, name: str) -> None:
        if stream is None:
            return
        buffer = b""
        while chunk := await stream.read(_CHUNK):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self._log.write_line(name, line + b"\n")
            if len(buffer) >= _CHUNK:
                self._log.write_line(name, buffer)
                buffer = b""
        if buffer:
            self._log.write_line(name, buffer)

    def _out_of_memory(self) -> None:
        if self._process.returncode is None:
            self._oom_killed = True
            self.kill()


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data
