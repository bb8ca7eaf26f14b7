"""Tasks that write to stdout and stderr, themselves and through child processes, for the log archive."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import kubetask


@kubetask.task
def talks(fail: bool) -> int:
    print("task stdout 1", flush=True)
    print("task stderr 1", file=sys.stderr, flush=True)
    subprocess.run(["sh", "-c", "echo child stdout; echo child stderr >&2"], check=True)
    os.write(1, b"raw fd 1\n")
    print("task stdout 2")  # not flushed: the runtime flushes it before the log is taken
    if fail:
        raise ValueError("the task failed after talking")
    return 1


@kubetask.task
def streams_then_waits(go_file: str) -> str:
    """Prints (itself and through a child), then waits for *go_file*: whoever reads the lines before
    creating it has seen them while the task ran."""
    print("live from the task", flush=True)
    subprocess.run(["sh", "-c", "echo live from a child"], check=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{go_file} never appeared")
        time.sleep(0.05)
    return "done"


@kubetask.task
def leaves_a_child_running() -> int:
    """Starts a child that keeps stdout open long after the task returned."""
    child = subprocess.Popen(["sleep", "300"])  # inherits fds 1 and 2: the log pipes
    print(f"child pid {child.pid}", flush=True)
    return child.pid
