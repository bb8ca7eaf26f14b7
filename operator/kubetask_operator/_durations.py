"""Duration strings in the Kubernetes/Go form (``30s``, ``5m``, ``1h30m``, ``1.5h``, ``250ms``).

The grammar is the TaskRun contract's (kubetask_api); this module keeps the operator's import path.
"""

from __future__ import annotations

from kubetask_api import format_duration, parse_duration

__all__ = ["format_duration", "parse_duration"]
