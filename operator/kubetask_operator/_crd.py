"""The TaskRun CRD: the manifest shipped with the package (its names are the contract's, in kubetask_api).

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

__all__ = ["API_VERSION", "CRD_NAME", "GROUP", "KIND", "PLURAL", "VERSION", "load_crd"]


@functools.cache
def _read_crd_text() -> str:
    return resources.files(__package__).joinpath("taskrun-crd.yaml").read_text(encoding="utf-8")


def load_crd() -> dict[str, Any]:
    """Return the TaskRun CustomResourceDefinition manifest as a fresh dict (safe to modify)."""
    document = yaml.safe_load(_read_crd_text())
    if not isinstance(document, dict):  # pragma: no cover - the file is ours and tested
        raise TypeError(f"taskrun-crd.yaml must hold one mapping, got {type(document).__name__}")
    return copy.deepcopy(document)
