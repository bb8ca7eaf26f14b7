"""The CRDs (TaskRun, TaskMap, TaskQueue): the manifests shipped with the package (names from kubetask_api).

Each manifest's single source is in ``charts/kubetask/files/``; the package holds symlinks to them,
so the chart, the manifests and ``kubetask dev`` all apply exactly the same document.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

from kubetask_api import API_VERSION, CRD_NAME, GROUP, KIND, PLURAL, VERSION

__all__ = [
    "API_VERSION",
    "CRD_NAME",
    "GROUP",
    "KIND",
    "PLURAL",
    "QUEUE_PLURAL",
    "VERSION",
    "load_crd",
    "load_crds",
    "load_map_crd",
]

QUEUE_PLURAL = "taskqueues"
_CRD_FILES = ("taskrun-crd.yaml", "taskmap-crd.yaml", "taskqueue-crd.yaml")


@functools.cache
def _read_crd_text(file: str) -> str:
    return resources.files(__package__).joinpath(file).read_text(encoding="utf-8")


def _load(file: str) -> dict[str, Any]:
    document = yaml.safe_load(_read_crd_text(file))
    if not isinstance(document, dict):  # pragma: no cover - the file is ours and tested
        raise TypeError(f"{file} must hold one mapping, got {type(document).__name__}")
    return copy.deepcopy(document)


def load_crd() -> dict[str, Any]:
    """Return the TaskRun CustomResourceDefinition manifest as a fresh dict (safe to modify)."""
    return _load(_CRD_FILES[0])


def load_map_crd() -> dict[str, Any]:
    """Return the TaskMap CustomResourceDefinition (generated from the TaskRun one) as a fresh dict."""
    return _load(_CRD_FILES[1])


def load_crds() -> list[dict[str, Any]]:
    """Every CustomResourceDefinition the operator serves (TaskRun, TaskMap, TaskQueue), as fresh dicts."""
    return [_load(file) for file in _CRD_FILES]
