"""The TaskRun and TaskMap CRDs: the manifests shipped with the package (names from kubetask_api).

The manifest's single source is ``charts/kubetask/files/taskrun-crd.yaml``; the package holds a symlink to it,
so the chart, the manifests and ``kubetask dev`` all apply exactly the same document.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

from kubetask_api import API_VERSION, CRD_NAME, GROUP, KIND, PLURAL, VERSION

__all__ = ["API_VERSION", "CRD_NAME", "GROUP", "KIND", "PLURAL", "VERSION", "load_crd", "load_map_crd"]


@functools.cache
def _read_crd_text(file_name: str = "taskrun-crd.yaml") -> str:
    return resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")


def load_crd(file_name: str = "taskrun-crd.yaml") -> dict[str, Any]:
    """Return the TaskRun CustomResourceDefinition manifest (or the one in ``file_name`` beside it) as a
    fresh dict (safe to modify)."""
    document = yaml.safe_load(_read_crd_text(file_name))
    if not isinstance(document, dict):  # pragma: no cover - the file is ours and tested
        raise TypeError(f"{file_name} must hold one mapping, got {type(document).__name__}")
    return copy.deepcopy(document)


def load_map_crd() -> dict[str, Any]:
    """Return the TaskMap CustomResourceDefinition (generated from the TaskRun one) as a fresh dict."""
    return load_crd("taskmap-crd.yaml")
