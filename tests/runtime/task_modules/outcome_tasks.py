"""Tasks whose outcome is easy to misclassify: they stop, nest or close things in ways a task should not."""

from __future__ import annotations

import kubetask


@kubetask.task
def raises_keyboard_interrupt() -> None:
    raise KeyboardInterrupt  # no signal: the task's own doing


@kubetask.task
def raises_terminated() -> None:
    raise kubetask.Terminated("the task gave up")  # no signal either


@kubetask.task
def returns_too_deep(depth: int) -> list:  # type: ignore[type-arg]
    nested: list = []  # type: ignore[type-arg]
    for _ in range(depth):
        nested = [nested]
    return nested
