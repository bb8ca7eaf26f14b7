"""Names and labels of what the operator creates, all derived deterministically from the TaskRun.

A pod's name depends only on the TaskRun (name and uid) and the attempt number, so creating it twice gives
409 Conflict instead of a second pod, whatever the operator remembers or forgot.
"""

from __future__ import annotations

import hashlib
import re

from kubetask_api import (
    ANNOTATION_TASKRUN,
    LABEL_ATTEMPT,
    LABEL_MANAGED_BY,
    LABEL_TASKRUN,
    LABEL_TASKRUN_UID,
)
from kubetask_api import MANAGED_BY_OPERATOR as MANAGED_BY

# The label keys are the TaskRun contract's (kubetask_api), re-exported for the operator's modules.
__all__ = [
    "ANNOTATION_TASKRUN",
    "LABEL_ATTEMPT",
    "LABEL_MANAGED_BY",
    "LABEL_TASKRUN",
    "LABEL_TASKRUN_UID",
    "MANAGED_BY",
    "inputs_configmap_name",
    "owned_labels",
    "pod_name",
    "taskrun_label_value",
]

_DNS_LABEL_MAX = 63
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _dns_stem(name: str, room: int) -> str:
    """``name`` made DNS-label safe (dots and other characters become ``-``), cut to ``room`` characters."""
    stem = _NOT_DNS.sub("-", name.lower())[:room].strip("-")
    return stem or "taskrun"


def pod_name(taskrun_name: str, taskrun_uid: str, attempt: int) -> str:
    """``<name>-<uid hash>-<attempt>``, a DNS label of at most 63 characters.

    The uid hash keeps a TaskRun recreated under the same name from colliding with its predecessor's pods
    while those are still being garbage-collected.
    """
    suffix = f"-{_digest(taskrun_uid, 5)}-{attempt}"
    return _dns_stem(taskrun_name, _DNS_LABEL_MAX - len(suffix)) + suffix


def inputs_configmap_name(taskrun_name: str, taskrun_uid: str) -> str:
    """The ConfigMap holding inputs too large for the pod's command (one per TaskRun, shared by attempts)."""
    suffix = f"-{_digest(taskrun_uid, 5)}-inputs"
    return _dns_stem(taskrun_name, _DNS_LABEL_MAX - len(suffix)) + suffix


def taskrun_label_value(taskrun_name: str) -> str:
    """The TaskRun's name as a label value (at most 63 characters; longer names end in a hash)."""
    if len(taskrun_name) <= _DNS_LABEL_MAX:
        return taskrun_name
    return f"{taskrun_name[: _DNS_LABEL_MAX - 11].rstrip('.-_')}-{_digest(taskrun_name, 10)}"


def owned_labels(taskrun_name: str, taskrun_uid: str) -> dict[str, str]:
    """Labels on everything the operator creates for a TaskRun, so ``kubectl get pods -l`` finds it."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_TASKRUN: taskrun_label_value(taskrun_name),
        LABEL_TASKRUN_UID: taskrun_uid,
    }
