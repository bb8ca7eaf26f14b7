"""Tasks that misbehave when SIGTERM stops them: the run is still recorded as stopped."""

from __future__ import annotations

import os
import signal
import time

import kubetask


@kubetask.task
def swallows_the_signal(seconds: float) -> str:
    try:
        print("ready", flush=True)  # inside the try: the signal may come as soon as this is read
        time.sleep(seconds)
    except BaseException:
        return "swallowed"
    return "woke up"


@kubetask.task
def fails_while_stopping(seconds: float) -> str:
    try:
        print("ready", flush=True)  # inside the try: the signal may come as soon as this is read
        time.sleep(seconds)
    finally:
        raise RuntimeError("cleanup failed")


@kubetask.task
def signalled_while_outputs_are_written(moment: str) -> str:
    """SIGTERM reaches the process at *moment* of writing outputs.json: "before" the finished temporary
    file is renamed into place, or "after" it. Deterministic, unlike a signal sent from outside."""
    replace = os.replace

    def signalling_replace(source: str, destination: str) -> None:
        if os.path.basename(destination) != "outputs.json":
            replace(source, destination)
            return
        if moment == "before":
            os.kill(os.getpid(), signal.SIGTERM)
        replace(source, destination)
        if moment == "after":
            os.kill(os.getpid(), signal.SIGTERM)

    os.replace = signalling_replace  # type: ignore[assignment]
    return "x" * 100_000
