"""Tasks that ship inside the operator image, so an install can be checked end to end (CRD served,
operator running with its RBAC, a pod run, the result back in the status) without any image of the user's.
``helm test`` runs ``kubetask submit kubetask_client._selftest:echo -i message=hi --image <operator image>
--wait``; ``sleep`` holds a pod for a while, to try ``kubetask cancel`` or a TaskRun's ``timeout``;
``announce`` and ``fail`` show a log live and a task's own failure; ``environment`` and
``read_file_named_by`` show what the pod got from the task's options.
"""

from __future__ import annotations

import os
import time

import kubetask


@kubetask.task
def echo(message: str) -> str:
    """Return ``message`` unchanged."""
    return message


@kubetask.task
def sleep(seconds: float) -> float:
    """Wait ``seconds`` seconds, then return them."""
    time.sleep(seconds)
    return seconds


@kubetask.task
def announce(message: str, seconds: float) -> str:
    """Print ``message`` at once, then wait ``seconds`` seconds and return it: a log line that exists while
    the task still runs (to watch logs arrive live)."""
    print(message, flush=True)
    time.sleep(seconds)
    return message


@kubetask.task
def fail(message: str) -> None:
    """Print ``message``, then fail with it (a ValueError: the task's own failure)."""
    print(message, flush=True)
    raise ValueError(message)


@kubetask.task(
    retries=1,
    timeout=300,
    env={"SELFTEST_GREETING": "hello from the decorator"},
    resources=kubetask.Resources(cpu="50m", memory="256Mi"),
)
def environment(name: str) -> str | None:
    """The value of the environment variable ``name`` in the task's pod (None when it is unset)."""
    return os.environ.get(name)


@kubetask.task
def read_file_named_by(variable: str) -> str:
    """The text of the file whose path is in the environment variable ``variable`` (a mounted Secret)."""
    with open(os.environ[variable], encoding="utf-8") as stream:
        return stream.read()
