"""The containers of a running pod: started together, restarted as ``restartPolicy`` says, stopped on demand.

With ``Never`` a container runs once. With ``OnFailure`` a container that exits non-zero, and with ``Always``
any container that exits, is restarted after a back-off that doubles from ``restart_backoff`` up to
``restart_backoff_max`` while it waits as ``CrashLoopBackOff``; its previous run stays in ``lastState`` and
``restartCount`` counts the restarts, as a kubelet reports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetask_local.node._events import EventRecorder
from kubetask_local.node._launch import Launch
from kubetask_local.node._logs import LogOptions, LogWriter, read_log
from kubetask_local.node._memory import MemoryMonitor
from kubetask_local.node._process import ContainerProcess, ProcessResult
from kubetask_local.node._status import (
    TERMINATION_MESSAGE_LIMIT,
    container_status,
    exit_reason,
    now,
    running,
    tail_for_message,
    terminated,
    termination_message,
    waiting,
)


@dataclass
class ContainerSlot:
    """What the pod's status shows of one container."""

    state: dict[str, Any]
    last_state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    container_id: str | None = None

    def as_status(self, container: Mapping[str, Any]) -> dict[str, Any]:
        return container_status(
            container,
            state=self.state,
            container_id=self.container_id,
            last_state=self.last_state,
            restart_count=self.restart_count,
        )


def restarts(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def read_termination_file(path: Path) -> bytes:
    """The first 4096 bytes of the container's termination message file, read only if it is still a
    regular file: the container may have replaced it by a symbolic link to a host file the node could
    read, or by a FIFO that would block the node; either reads as empty, as nothing the pod wrote."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return file.read(TERMINATION_MESSAGE_LIMIT)


def reset_termination_file(path: Path) -> None:
    """An empty termination message file for a new run, made afresh: whatever the previous run left at the
    path (a symbolic link to a host file included) is removed, never followed and truncated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666))
    os.chmod(path, 0o666)  # as the kubelet leaves it, so a container running as any user can write it


def exit_state(
    launch: Launch, result: ProcessResult, *, log_file: Path, started_at: str | None, container_id: str | None
) -> dict[str, Any]:
    """The ``terminated`` state of a container that exited, with its termination message."""
    file_text = read_termination_file(launch.termination_file).decode(errors="replace")
    policy = launch.container.get("terminationMessagePolicy") or "File"
    log_tail = ""
    if policy == "FallbackToLogsOnError" and result.exit_code != 0 and not file_text:
        log_tail = tail_for_message(read_log(log_file, LogOptions()).decode(errors="replace"))
    message = termination_message(
        file_text=file_text, exit_code=result.exit_code, policy=policy, log_tail=log_tail
    )
    return terminated(
        exit_code=result.exit_code,
        reason=exit_reason(result.exit_code, oom_killed=result.oom_killed),
        message=message or None,
        started_at=started_at,
        finished_at=now(),
        container_id=container_id,
    )


class PodContainers:
    """Runs a pod's containers until none is running or going to be restarted; ``stop()`` ends them."""

    def __init__(
        self,
        pod: Mapping[str, Any],
        launches: list[Launch],
        *,
        slots: dict[str, ContainerSlot],
        policy: str,
        events: EventRecorder,
        log_file: Callable[[str], Path],  # the container's current run's log
        report: Callable[[], Awaitable[None]],
        memory: MemoryMonitor,
        restart_backoff: float,
        restart_backoff_max: float,
    ) -> None:
        self._pod = pod
        self._launches = launches
        self._slots = slots
        self._events = events
        self._log_file = log_file
        self._report = report
        self._memory = memory
        self._backoff = (restart_backoff, restart_backoff_max)
        self._policy = policy
        self._processes: dict[str, ContainerProcess] = {}
        self._stopping = asyncio.Event()
        self._stop = (0.0, "")  # the grace period and reason of stop(), for a container still starting then
        self._uid = pod["metadata"]["uid"]

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def kill_now(self, runner: asyncio.Task[None] | None) -> None:
        """The node itself is going away: stop reporting (cancel ``runner``), SIGKILL every process and wait
        a moment for them to be gone."""
        self._stopping.set()
        if runner is not None:
            runner.cancel()
        for process in self._processes.values():
            process.kill()
        if self._processes:
            await asyncio.wait([asyncio.create_task(p.exited()) for p in self._processes.values()], timeout=5)
        for process in self._processes.values():
            process.signal_group(signal.SIGKILL)  # whatever a shim that did not answer left in its group

    async def stop(self, *, grace_period: float, reason: str) -> None:
        """No more restarts; SIGTERM every running container, SIGKILL after ``grace_period`` seconds."""
        self._stopping.set()
        self._stop = (grace_period, reason)
        tasks = []
        for name, process in self._processes.items():
            if "running" in self._slots[name].state:
                self._events.record(self._pod, reason="Killing", message=f"{reason} {name}", container=name)
                tasks.append(asyncio.create_task(process.terminate(grace_period=grace_period)))
        await asyncio.gather(*tasks)

    async def run(self) -> None:
        await asyncio.gather(*(self._run_one(launch) for launch in self._launches))

    async def _run_one(self, launch: Launch) -> None:
        name = launch.container["name"]
        slot = self._slots[name]
        backoff = self._backoff[0]
        while True:
            result = await self._start_and_wait(launch, slot)
            if result is None or self.stopping or not restarts(self._policy, result.exit_code):
                return
            slot.last_state = slot.state
            slot.state = waiting(
                "CrashLoopBackOff",
                f"back-off {backoff:g}s restarting failed container={name} "
                f"pod={self._pod['metadata']['name']}_{self._pod['metadata']['namespace']}"
                f"({self._uid})",
            )
            self._events.record(
                self._pod,
                kind="Warning",
                reason="BackOff",
                container=name,
                message="Back-off restarting failed container",
            )
            await self._report()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
            if self.stopping:
                return
            backoff = min(backoff * 2, self._backoff[1])
            slot.restart_count += 1

    async def _start_and_wait(self, launch: Launch, slot: ContainerSlot) -> ProcessResult | None:
        name = launch.container["name"]
        reset_termination_file(launch.termination_file)
        slot.container_id = f"kubetask-local://{self._uid}-{name}-{slot.restart_count}"
        self._events.record(
            self._pod,
            reason="Pulled",
            container=name,
            message=f'Container image "{launch.container.get("image")}" already present on machine',
        )
        try:
            process = await ContainerProcess.start(
                argv=launch.argv,
                env=launch.env,
                cwd=launch.cwd,
                log=LogWriter(self._log_file(name)),
                memory_limit=launch.memory_limit,
                memory=self._memory,
                identity=launch.run_as,
            )
        except OSError as error:
            message = f"failed to create containerd task: exec: {launch.argv[0]!r}: {error.strerror or error}"
            slot.state = terminated(
                exit_code=128,
                reason="StartError",
                message=message,
                started_at=None,
                finished_at=now(),
                container_id=slot.container_id,
            )
            self._events.record(
                self._pod, kind="Warning", reason="Failed", message=f"Error: {message}", container=name
            )
            await self._report()
            return ProcessResult(exit_code=128, oom_killed=False)
        self._processes[name] = process
        started_at = now()
        slot.state = running(started_at)
        self._events.record(self._pod, reason="Created", message=f"Created container {name}", container=name)
        self._events.record(self._pod, reason="Started", message=f"Started container {name}", container=name)
        await self._report()
        if self.stopping:  # stop() came while it was starting: it is stopped now, as stop() stops the others
            grace_period, reason = self._stop
            self._events.record(self._pod, reason="Killing", message=f"{reason} {name}", container=name)
            await process.terminate(grace_period=grace_period)
        result = await process.wait()
        slot.state = exit_state(
            launch,
            result,
            log_file=self._log_file(name),
            started_at=started_at,
            container_id=slot.container_id,
        )
        if result.oom_killed:
            limit = ((launch.container.get("resources") or {}).get("limits") or {}).get("memory")
            self._events.record(
                self._pod,
                kind="Warning",
                reason="OOMKilling",
                container=name,
                message=f"Memory cgroup out of memory: killed container {name} (limit {limit})",
            )
        await self._report()
        return result
