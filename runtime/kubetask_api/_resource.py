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
