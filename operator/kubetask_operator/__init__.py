"""kubetask_operator: the kopf operator that turns TaskRuns into pods running ``kubetask-execute``.

Run it with ``kubetask-operator`` (or ``python -m kubetask_operator``); configure it with ``KUBETASK_*``
environment variables (``load_settings``). ``load_crd()`` returns the TaskRun CustomResourceDefinition,
``load_map_crd()`` the TaskMap one.
"""

from __future__ import annotations

from kubetask_operator._crd import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    load_crd,
    load_crds,
    load_map_crd,
)
from kubetask_operator._errors import ApiError, InvalidSpecError, KubetaskOperatorError, SettingsError
from kubetask_operator._main import main, run_operator
from kubetask_operator._settings import Settings, load_settings

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "ApiError",
    "InvalidSpecError",
    "KubetaskOperatorError",
    "Settings",
    "SettingsError",
    "load_crd",
    "load_crds",
    "load_map_crd",
    "load_settings",
    "main",
    "run_operator",
]
