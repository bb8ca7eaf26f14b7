"""Duration strings in the Kubernetes/Go form (``30s``, ``5m``, ``1h30m``, ``1.5h``, ``250ms``)."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")
_WHOLE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|h|m|s))+")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raise ValueError saying what was expected when it is not a duration."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text):
        raise ValueError(f"expected a duration such as '30s', '5m' or '1h30m', got {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """A short human form of ``seconds`` for status messages (``1h2m3s``, ``45s``, ``0.5s``)."""
    if seconds < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts)
