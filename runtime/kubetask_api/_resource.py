"""The TaskRun resource's identity in the Kubernetes API: group, version, kind and names."""

from __future__ import annotations

GROUP = "kubetask.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "TaskRun"
LIST_KIND = "TaskRunList"
PLURAL = "taskruns"
SINGULAR = "taskrun"
SHORT_NAMES = ("ktr",)
CATEGORIES = ("kubetask",)
CRD_NAME = f"{PLURAL}.{GROUP}"

# What the operator keeps for itself in every task pod: a TaskRun may not use these.
RESERVED_ENV_PREFIX = "KUBETASK_"
RESERVED_MOUNT_ROOT = "/var/run/kubetask"
RESERVED_VOLUMES = ("kubetask-scratch", "kubetask-inputs")
