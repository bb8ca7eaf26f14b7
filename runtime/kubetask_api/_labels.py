"""Label and annotation keys on TaskRuns and on what the operator creates for them."""

from __future__ import annotations

LABEL_TASKRUN = "kubetask.dev/taskrun"
LABEL_TASKRUN_UID = "kubetask.dev/taskrun-uid"
LABEL_ATTEMPT = "kubetask.dev/attempt"
ANNOTATION_TASKRUN = "kubetask.dev/taskrun-name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_OPERATOR = "kubetask-operator"
MANAGED_BY_CLIENT = "kubetask-client"
