"""Durations in the Kubernetes/Go form the TaskRun's ``timeout`` and ``pendingTimeout`` take (``30s``, ``5m``,
``1h30m``, ``1.5h``, ``250ms``): the grammar the CRD's pattern also states, parsed and written."""

from __future__ import annotations

import re

DURATION_PATTERN = r"([0-9]+(\.[0-9]+)?(h|m|s|ms))+"
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")
_WHOLE = re.compile(DURATION_PATTERN)


def is_duration(text: object) -> bool:
    return isinstance(text, str) and _WHOLE.fullmatch(text) is not None


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raise ValueError saying what was expected when it is not a duration."""
    if not is_duration(text):
        raise ValueError(f"expected a duration such as '30s', '5m' or '1h30m', got {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))


def duration_of_seconds(seconds: float) -> str:
    """``seconds`` as a duration the TaskRun accepts, exact to the millisecond (``600s``, ``1500ms``)."""
    if not seconds > 0:
        raise ValueError(f"expected a positive number of seconds, got {seconds!r}")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def format_duration(seconds: float) -> str:
    """A short human form of ``seconds`` for status messages (``1h2m3s``, ``45s``, ``0.5s``)."""
    if seconds < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts)
