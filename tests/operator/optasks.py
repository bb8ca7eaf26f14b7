"""Tasks the operator's end-to-end tests run (mounted into pods from a ConfigMap; see conftest.py)."""

from __future__ import annotations

import os
import sys
import time

import kubetask


@kubetask.task
def add(a: int, b: int) -> int:
    return a + b


@kubetask.task
def fail(message: str = "boom") -> int:
    raise ValueError(message)


@kubetask.task
def flaky(succeed_on: int = 2) -> int:
    """Fails recoverably until attempt ``succeed_on``."""
    attempt = kubetask.current_context().attempt
    if attempt < succeed_on:
        raise kubetask.RecoverableError(f"attempt {attempt} is too early")
    return attempt


@kubetask.task
def sleep(seconds: float = 60) -> str:
    print("sleeping now", flush=True)
    print("sleeping now (stderr)", file=sys.stderr, flush=True)
    time.sleep(seconds)
    return "woke"


@kubetask.task
def size(blob: str) -> int:
    return len(blob)


@kubetask.task
def hog(megabytes: int = 300) -> int:
    """Holds ``megabytes`` of memory for a moment (to meet a memory limit)."""
    block = bytearray(megabytes * 1024 * 1024)
    time.sleep(5)
    return len(block)


@kubetask.task
def vanish(message: str = "") -> int:
    """Ends the process with exit status 0 before the runtime can write its summary (``os._exit``).
    With ``message``, writes it as the termination message first, as a task may."""
    if message:
        with open(os.environ["KUBETASK_TERMINATION_MESSAGE_PATH"], "w") as handle:
            handle.write(message)
    os._exit(0)


@kubetask.task
def nest(depth: int = 2000) -> int:
    """Writes a kubetask summary nested ``depth`` levels deep as its termination message, then exits 0."""
    summary = '{"outcome":"Succeeded","outputs":{"o0":' + "[" * depth + "]" * depth + "}}"
    with open(os.environ["KUBETASK_TERMINATION_MESSAGE_PATH"], "w") as handle:
        handle.write(summary)
    os._exit(0)
