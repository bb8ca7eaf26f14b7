"""TARGET of ``kubetask submit`` (``path/to/module.py:task`` or ``package.module:task``), parsed and loaded
by the runtime exactly as ``kubetask run`` does, so the module is imported under the dotted name a pod uses.
"""

from __future__ import annotations

from typing import Any

import kubetask
from kubetask_client._errors import ClientUsageError


def load_target(target: str) -> kubetask.Task[..., Any]:
    """The task TARGET names; ClientUsageError (naming TARGET) when it cannot be found or imported."""
    try:
        return kubetask.load_target(kubetask.parse_target(target))
    except kubetask.KubetaskError as error:
        message = str(error)
        raise ClientUsageError(
            message if message.startswith("TARGET") else f"TARGET {target!r}: {message}"
        ) from None
