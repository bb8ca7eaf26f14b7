"""``kubetask.current_context()``: what a running task may want to know about its run."""

from __future__ import annotations

import os

from kubetask._environment import PodEnvironment
from kubetask._frozen import Frozen


class ExecutionContext(Frozen):
    """The current run: attempt (1-based), run name, namespace and storage locations (immutable)."""

    __slots__ = (
        "attempt",
        "checkpoint_path",
        "namespace",
        "output_prefix",
        "prev_checkpoint",
        "raw_output_data_prefix",
        "run_name",
        "task_name",
    )

    attempt: int
    checkpoint_path: str | None
    namespace: str | None
    output_prefix: str | None
    prev_checkpoint: str | None
    raw_output_data_prefix: str | None
    run_name: str | None
    task_name: str | None

    def __init__(
        self,
        *,
        attempt: int = 1,
        run_name: str | None = None,
        namespace: str | None = None,
        task_name: str | None = None,
        output_prefix: str | None = None,
        raw_output_data_prefix: str | None = None,
        checkpoint_path: str | None = None,
        prev_checkpoint: str | None = None,
    ) -> None:
        self._set_fields(
            attempt=attempt,
            run_name=run_name,
            namespace=namespace,
            task_name=task_name,
            output_prefix=output_prefix,
            raw_output_data_prefix=raw_output_data_prefix,
            checkpoint_path=checkpoint_path,
            prev_checkpoint=prev_checkpoint,
        )


_current: ExecutionContext | None = None


def current_context() -> ExecutionContext:
    """The context of the running task; outside ``kubetask-execute``, one read from ``KUBETASK_*``."""
    if _current is not None:
        return _current
    environment = PodEnvironment.from_environ(os.environ)
    return ExecutionContext(
        attempt=environment.attempt, run_name=environment.run_name, namespace=environment.namespace
    )


def set_current_context(context: ExecutionContext | None) -> None:
    """Called by ``kubetask-execute`` around the task call."""
    global _current  # noqa: PLW0603 - one run per process: the context is process state by nature
    _current = context
