"""Tasks that ship inside the operator image, so an install can be checked end to end (CRD served,
operator running with its RBAC, a pod run, the result back in the status) without any image of the user's.
``helm test`` runs ``kubetask submit kubetask_client._selftest:echo -i message=hi --image <operator image>
--wait``; ``sleep`` holds a pod for a while, to try ``kubetask cancel`` or a TaskRun's ``timeout``;
``announce`` and ``fail`` show a log live and a task's own failure.
"""

from __future__ import annotations

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
