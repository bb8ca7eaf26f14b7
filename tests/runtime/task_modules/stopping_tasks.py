"""Tasks that misbehave when SIGTERM stops them: the run is still recorded as stopped."""

from __future__ import annotations

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
