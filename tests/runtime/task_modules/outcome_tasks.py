"""Tasks whose outcome is easy to misclassify: they stop, nest or close things in ways a task should not."""

from __future__ import annotations

import os
import sys

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


@kubetask.task
def closes_its_output(how: str) -> int:
    """Closes stdout and stderr: the Python streams, the file descriptors 1 and 2, or both."""
    print("unflushed line")  # still in sys.stdout's buffer when fd 1 goes
    if how in ("streams", "both"):
        sys.stdout.close()
        sys.stderr.close()
    if how in ("descriptors", "both"):
        os.close(1)
        os.close(2)
    return 7


@kubetask.task
def leaves_a_thread_running() -> int:
    """A non-daemon thread that never ends: the interpreter would wait for it at exit, forever."""
    import threading

    threading.Thread(target=threading.Event().wait, name="forever", daemon=False).start()
    return 3


@kubetask.task
def changes_directory(to: str) -> int:
    os.chdir(to)
    return 5
