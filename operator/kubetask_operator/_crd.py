"""The TaskRun CRD: its constants and the manifest shipped with the package.

The manifest's single source is ``charts/kubetask/files/taskrun-crd.yaml``; the package holds a symlink to it,
so the chart, the manifests and ``kubetask dev`` all apply exactly the same document.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

GROUP = "kubetask.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "TaskRun"
PLURAL = "taskruns"
CRD_NAME = f"{PLURAL}.{GROUP}"


@functools.cache
def _read_crd_text() -> str:
    return resources.files(__package__).joinpath("taskrun-crd.yaml").read_text(encoding="utf-8")


def load_crd() -> dict[str, Any]:
    """Return the TaskRun CustomResourceDefinition manifest as a fresh dict (safe to modify)."""
    document = yaml.safe_load(_read_crd_text())
    if not isinstance(document, dict):  # pragma: no cover - the file is ours and tested
        raise TypeError(f"taskrun-crd.yaml must hold one mapping, got {type(document).__name__}")
    return copy.deepcopy(document)
