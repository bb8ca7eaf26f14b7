"""Compact JSON without importing :mod:`json`.

``json.decoder`` imports :mod:`re` (and with it :mod:`enum`), which is about 7 ms of a cold start whose
whole budget is ~30 ms. The C accelerator ``_json`` that :mod:`json` itself uses does the real work here:
its scanner parses (the same code ``json.loads`` runs) and its string escaper encodes. Only error
reporting falls back to :mod:`json`, so bad documents get the standard message with line and column.
On an interpreter without ``_json`` everything falls back to :mod:`json`.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Callable


def _reject_constant(name: str) -> object:
    raise ValueError(f"JSON has no {name}")


class _StrictContext:
    """The attributes ``_json.make_scanner`` reads, as ``json.JSONDecoder`` would set them (strict)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)


try:
    from _json import encode_basestring_ascii as _escape_string
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - other interpreters
    from json.encoder import encode_basestring_ascii as _escape_string
    from json.scanner import make_scanner as _make_scanner

# The scanner only reads the context's attributes; typeshed wants a JSONDecoder.
_scan: Callable[[str, int], tuple[object, int]] = _make_scanner(_StrictContext())  # type: ignore[arg-type]

_WHITESPACE = " \t\n\r"


def loads(text: str | bytes) -> object:
    """Parse one JSON document (strict: no NaN/Infinity, nothing but whitespace around it)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    stripped = text.strip(_WHITESPACE)
    try:
        value, end = _scan(stripped, 0)
    except (StopIteration, ValueError):
        end = -1
    if end != len(stripped):
        import json  # error path only: the standard message names the line and column

        json.loads(stripped, parse_constant=_reject_constant)
        raise ValueError("not a single JSON document")  # pragma: no cover - json.loads raised above
    return value


def dumps(value: object) -> str:
    """Encode JSON-native values (dict with str keys, list, tuple, str, int, float, bool, None) compactly."""
    parts: list[str] = []
    _encode(value, parts.append, "")
    return "".join(parts)


def _encode(value: object, emit: Callable[[str], object], where: str) -> None:
    if value is None:
        emit("null")
    elif value is True:
        emit("true")
    elif value is False:
        emit("false")
    elif isinstance(value, str):
        emit(_escape_string(value))
    elif isinstance(value, int):
        emit(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot encode {value!r}{_at(where)} as JSON: JSON has no NaN or Infinity")
        emit(float.__repr__(value))
    elif isinstance(value, dict):
        emit("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"cannot encode key {key!r}{_at(where)} as JSON: object keys must be str")
            if not first:
                emit(",")
            first = False
            emit(_escape_string(key))
            emit(":")
            _encode(item, emit, f"{where}[{key!r}]")
        emit("}")
    elif isinstance(value, list | tuple):
        emit("[")
        for index, item in enumerate(value):
            if index:
                emit(",")
            _encode(item, emit, f"{where}[{index}]")
        emit("]")
    else:
        raise TypeError(f"cannot encode {value!r}{_at(where)} ({type(value).__name__}) as JSON")


def _at(where: str) -> str:
    return f" at {where}" if where else ""
