"""One container of a pod as a local process group: output captured to its log, memory limit enforced.

The process runs in its own session (process group), so signals reach everything it started. When the
container has ``resources.limits.memory``, the resident memory of the whole group is polled (Linux ``/proc``)
and the group is killed with SIGKILL when it exceeds the limit, which the node reports as ``OOMKilled`` with
exit code 137, as the kernel's cgroup OOM killer would make a runtime report it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubetask_local._node_logs import LogWriter

_CHUNK = 65536
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int
    oom_killed: bool


def group_rss_bytes(pgid: int, *, proc: Path = Path("/proc")) -> int:
    """Resident memory of every process in the process group ``pgid`` (0 when /proc is unavailable)."""
    total = 0
    try:
        entries = list(proc.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[2]) != pgid:  # fields after the command: state, ppid, pgrp, ...
                continue
            total += int((entry / "statm").read_text().split()[1]) * _PAGE_SIZE
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
    return total


class ContainerProcess:
    """A started container process; ``wait()`` gives its exit code (128+signal when killed by a signal)."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        *,
        log: LogWriter,
        memory_limit: int | None,
        memory_poll_interval: float,
    ) -> None:
        self._process = process
        self._log = log
        self._memory_limit = memory_limit
        self._oom_killed = False
        self._readers = [
            asyncio.create_task(self._pump(process.stdout, "stdout")),
            asyncio.create_task(self._pump(process.stderr, "stderr")),
        ]
        self._watcher = (
            asyncio.create_task(self._watch_memory(memory_poll_interval))
            if memory_limit is not None
            else None
        )

    @classmethod
    async def start(
        cls,
        *,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        log: LogWriter,
        memory_limit: int | None,
        memory_poll_interval: float = 0.1,
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
        return cls(process, log=log, memory_limit=memory_limit, memory_poll_interval=memory_poll_interval)

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
        if self._watcher is not None:
            self._watcher.cancel()
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

    async def _watch_memory(self, interval: float) -> None:
        limit = self._memory_limit or 0
        while self._process.returncode is None:
            rss = await asyncio.to_thread(group_rss_bytes, self._process.pid)
            if rss > limit:
                self._oom_killed = True
                self.signal_group(signal.SIGKILL)
                return
            await asyncio.sleep(interval)
