"""The runtime's JSON settings in one place: strict (no NaN or Infinity either way), compact, ASCII.

The standard library's :mod:`json` defines every result and every error. Its C accelerator :mod:`_json`,
the very scanner and encoder ``json.JSONDecoder`` and ``json.JSONEncoder`` run, is called directly on
the way that succeeds: importing :mod:`json` imports :mod:`re` and :mod:`enum`, a quarter of a trivial
task's cold start (``benchmarks/bench_execute.py``). Whenever that way fails in any manner (a malformed
document, NaN, an object JSON cannot carry), the document is handed to :mod:`json` itself, which raises
its own error: the C scanner alone raises ``SystemError`` on some malformed documents (``{"x": 1,``),
which is why an earlier codec that drove it without that fallback was replaced. Values reaching
:func:`dumps` were already checked by the codec; when one still cannot be encoded, the error names where
it is in the document.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Callable

_WHITESPACE = " \t\n\r"  # what json skips around a document (json.decoder.WHITESPACE)


def _reject_constant(name: str) -> object:
    raise ValueError(f"JSON has no {name}")


def _not_serializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _DecoderSettings:
    """The attributes ``json.JSONDecoder(parse_constant=_reject_constant)`` gives its C scanner."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    array_hook = None  # read from Python 3.15 on
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)


def _accelerated() -> tuple[Callable[[str, int], tuple[object, int]], Callable[[object, int], object]] | None:
    """The C scanner and encoder json would build for these settings; None where they cannot be built
    (another interpreter, a changed accelerator): then :mod:`json` does everything."""
    try:
        from _json import encode_basestring_ascii, make_encoder, make_scanner

        # duck-typed settings: json passes its JSONDecoder the same way
        scanner = make_scanner(_DecoderSettings())  # type: ignore[arg-type]
        # json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False).encode's encoder
        encoder = make_encoder(
            None, _not_serializable, encode_basestring_ascii, None, ":", ",", False, False, False
        )
    except Exception:  # any failure here only means the slower way
        return None
    return scanner, encoder


_ACCELERATED = _accelerated()


def loads(text: str | bytes) -> object:
    """Parse one JSON document (strict: no NaN/Infinity, nothing but whitespace around it).

    Malformed documents raise ValueError (``json.JSONDecodeError``, naming the line and column); a
    document nested too deep for the parser raises RecursionError, which callers report as such."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if _ACCELERATED is not None:
        try:
            # where the document starts; lstrip copies the text, so only when it starts with whitespace
            start = len(text) - len(text.lstrip(_WHITESPACE)) if text[:1] in _WHITESPACE else 0
            value, end = _ACCELERATED[0](text, start)
        except Exception:  # json, below, raises the error this document deserves
            pass
        else:
            if end == len(text) or not text[end:].strip(_WHITESPACE):
                return value
    import json  # a document the fast way refused (or no accelerator): json decides, and says why

    return json.JSONDecoder(parse_constant=_reject_constant).decode(text)


def dumps(value: object) -> str:
    """Encode JSON-native values (dict with str keys, list, tuple, str, int, float, bool, None) compactly."""
    if _ACCELERATED is not None:
        try:
            return "".join(_ACCELERATED[1](value, 0))  # type: ignore[arg-type] # a list of str
        except (ValueError, TypeError):
            pass  # json, below, raises the error
    import json

    try:
        return json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False).encode(value)
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
        import math

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
