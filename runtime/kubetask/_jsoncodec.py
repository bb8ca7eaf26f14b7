"""The runtime's JSON settings in one place: strict (no NaN or Infinity either way), compact, ASCII.

The standard library's :mod:`json` does the work. An earlier hand-made codec drove the C scanner
directly to avoid importing :mod:`re`, and turned some malformed documents (``{"x": 1,``) into a
``SystemError``; ``benchmarks/bench_execute.py`` shows that on a realistic task module (one importing
dataclasses and typing, which load :mod:`re` anyway) :mod:`json` costs its cold start nothing measurable.
Values reaching :func:`dumps` were already checked by ``_convert``; when one still cannot be encoded, the
error names where it is in the document.
"""

from __future__ import annotations

import json
import math


def _reject_constant(name: str) -> object:
    raise ValueError(f"JSON has no {name}")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False)


def loads(text: str | bytes) -> object:
    """Parse one JSON document (strict: no NaN/Infinity, nothing but whitespace around it).

    Malformed documents raise ValueError (``json.JSONDecodeError``, naming the line and column); a
    document nested too deep for the parser raises RecursionError, which callers report as such."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return _DECODER.decode(text)


def dumps(value: object) -> str:
    """Encode JSON-native values (dict with str keys, list, tuple, str, int, float, bool, None) compactly."""
    try:
        return _ENCODER.encode(value)
    except (ValueError, TypeError) as error:
        where = _unencodable(value, "")
        if where is None:
            raise
        raise type(error)(where) from None


def _unencodable(value: object, where: str) -> str | None:
    """Error path only: what in *value* JSON cannot carry, and where (``at ['x'][0]``)."""
    at = f" at {where}" if where else ""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return f"cannot encode {value!r}{at} as JSON: JSON has no NaN or Infinity"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"cannot encode key {key!r}{at} as JSON: object keys must be str"
            found = _unencodable(item, f"{where}[{key!r}]")
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _unencodable(item, f"{where}[{index}]")
            if found is not None:
                return found
        return None
    return f"cannot encode {value!r}{at} ({type(value).__name__}) as JSON"
