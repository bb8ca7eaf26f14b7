"""Phases, the condition and the reasons a TaskRun's status reports (README: "reasons")."""

from __future__ import annotations

QUEUED = "Queued"
PENDING = "Pending"
RUNNING = "Running"
RETRYING = "Retrying"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
CANCELLED = "Cancelled"
PHASES = (QUEUED, PENDING, RUNNING, RETRYING, SUCCEEDED, FAILED, CANCELLED)
FINAL_PHASES = frozenset({SUCCEEDED, FAILED, CANCELLED})

# The one condition: True when it succeeded, False when it ended otherwise, Unknown while it runs.
CONDITION_SUCCEEDED = "Succeeded"

# Reasons the operator itself decides (the kubelet's waiting and termination reasons are passed through).
REASON_SUCCEEDED = "Succeeded"
REASON_USER_ERROR = "UserError"
REASON_SYSTEM_ERROR = "SystemError"
REASON_USAGE_ERROR = "UsageError"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_CANCELLED = "Cancelled"
REASON_TIMEOUT = "Timeout"
REASON_PENDING_TIMEOUT = "PendingTimeout"
REASON_IMAGE_PULL_FAILED = "ImagePullFailed"
REASON_OOM_KILLED = "OOMKilled"
REASON_KILLED = "Killed"
REASON_TERMINATED = "Terminated"
REASON_POD_DELETED = "PodDeleted"
REASON_NODE_LOST = "NodeLost"
REASON_EVICTED = "Evicted"
REASON_START_ERROR = "StartError"
REASON_QUEUED = "Queued"
REASON_QUEUE_TIMEOUT = "QueueTimeout"
REASON_SCHEDULING_GATED = "SchedulingGated"
REASON_ADMITTED = "Admitted"
REASON_CACHED = "Cached"
REASON_CACHE_MISS = "CacheMiss"
REASON_WAITING_FOR_CACHE_OWNER = "WaitingForCacheOwner"

# Kinds of failure in a status error (the runtime's error document says which).
ERROR_KIND_USER = "USER"
ERROR_KIND_SYSTEM = "SYSTEM"
