"""One container of a pod as a local process group: output captured to its log, memory limit enforced.

The process runs in its own session (process group), so signals reach everything it started. When the
container has ``resources.limits.memory``, the node's :class:`MemoryMonitor` watches the whole group and
it is killed with SIGKILL when it exceeds the limit, which the node reports as ``OOMKilled`` (137).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubetask_local.node._logs import LogWriter
from kubetask_local.node._memory import MemoryMonitor

_CHUNK = 65536


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
    ) -> ContainerProcess:
        """Start the process; ``OSError`` (e.g. executable not found) propagates for the caller to report."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        return cls(process, log=log, memory_limit=memory_limit, memory=memory)

    @property
    def pid(self) -> int:
        return self._process.pid

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    async def terminate(self, *, grace_period: float) -> None:
        """SIGTERM to the group, SIGKILL after ``grace_period`` seconds if it is still running."""
        if self._process.returncode is not None:
            self.signal_group(signal.SIGKILL)  # leftovers of the group, if any
            return
        self.signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self._process.wait()), timeout=max(grace_period, 0))
        except TimeoutError:
            self.signal_group(signal.SIGKILL)

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
            self.signal_group(signal.SIGKILL)
