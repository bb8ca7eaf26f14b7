"""Codecs of values JSON carries as they are (and ``Any``), and of the types JSON carries as text or numbers:
bytes (base64), Enum (its value), datetime and date (ISO 8601), timedelta (seconds)."""

# ruff: noqa: ARG002 - every codec takes the same arguments; the simple kinds need not all of them
from __future__ import annotations

from kubetask._codec._base import INT64_MAX, MAX_DEPTH, Codec, Conversion, ValueProblem, too_deep
from kubetask._hints import NONE_TYPE, show

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import Any

# math and binascii are shared libraries (~0.3 ms each of the pod's cold start): finite is -inf < x < inf
# (NaN compares false), and bytes codecs import binascii when they convert.
_INFINITY = float("inf")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class AnyCodec(Codec):
    """No hint (or Any): any JSON value, unchanged; checked for depth both ways, for JSON-ness out."""

    description = "any JSON value"

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, list | dict):
            _check_depth(value, depth)
        return value

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        return _json_native(value, depth)

    def parse_text(self, text: str) -> object:
        try:
            return super().parse_text(text)
        except ValueProblem:
            return text  # untyped: a bare word is a string


def _check_depth(value: object, depth: int) -> None:
    """Refuse JSON nested past MAX_DEPTH, without recursing (the value may be arbitrarily deep)."""
    pending: list[tuple[object, int]] = [(value, depth)]
    while pending:
        item, level = pending.pop()
        if level > MAX_DEPTH:
            raise too_deep()
        children: Any = item.values() if isinstance(item, dict) else item
        pending.extend((child, level + 1) for child in children if isinstance(child, list | dict))


def _json_native(value: object, depth: int) -> object:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not -_INFINITY < value < _INFINITY:
            raise ValueProblem(f"JSON has no NaN or Infinity, got {show(value)}")
        return value
    if depth > MAX_DEPTH:
        raise too_deep()
    if isinstance(value, list | tuple):
        converted: list[object] = []
        try:
            for element in value:
                converted.append(_json_native(element, depth + 1))
        except ValueProblem as problem:
            raise problem.at(f"[{len(converted)}]") from None
        return converted
    if isinstance(value, dict):
        result = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise ValueProblem(f"dict keys must be str, got {show(key)}")
            try:
                result[key] = _json_native(element, depth + 1)
            except ValueProblem as problem:
                raise problem.at(f"[{key!r}]") from None
        return result
    raise ValueProblem(
        "expected a JSON value (dict, list, str, int, float, bool, None) since the task has no type hint "
        f"for it, got {show(value)}"
    )


class NoneCodec(Codec):
    description = "None"
    exact_type = NONE_TYPE

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if value is None:
            return None
        raise self.mismatch(value)

    encode = decode

    def parse_text(self, text: str) -> object:
        if text.lower() in ("null", "none", ""):
            return None
        raise ValueProblem(f"expected null, got {text!r}")


class BoolCodec(Codec):
    description = "bool"
    exact_type = bool

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, bool):
            return bool(value)
        raise self.mismatch(value)

    encode = decode

    def parse_text(self, text: str) -> object:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueProblem(f"expected bool (true/false, yes/no, 1/0), got {text!r}")


class IntCodec(Codec):
    description = "int"
    exact_type = int

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if type(value) is int:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        if type(value) is float and value.is_integer() and abs(value) > INT64_MAX:
            raise self.mismatch(
                value,
                " (whole numbers beyond 64 bits, +-9223372036854775807, reach the task as floats when they "
                "pass through the Kubernetes API; give such a number as a str)",
            )
        raise self.mismatch(value)

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if type(value) is int and not conversion.int64:
            return value
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.mismatch(value)
        if conversion.int64 and abs(value) > INT64_MAX:
            raise self.mismatch(
                value,
                " within 64 bits (+-9223372036854775807): the Kubernetes API turns larger whole numbers "
                "into floats, losing digits; give such a number as a str",
            )
        return int(value)

    def parse_text(self, text: str) -> object:
        try:
            return int(text)
        except ValueError:
            raise ValueProblem(f"expected int, got {text!r}") from None


class FloatCodec(Codec):
    description = "float"
    exact_type = float

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise self.mismatch(value)

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if type(value) is float and -_INFINITY < value < _INFINITY:
            return value
        converted: Any = self.decode(value, conversion, depth)
        if not -_INFINITY < converted < _INFINITY:
            raise self.mismatch(value, " (finite: JSON has no NaN or Infinity)")
        return converted

    def parse_text(self, text: str) -> object:
        try:
            return float(text)
        except ValueError:
            raise ValueProblem(f"expected a number, got {text!r}") from None


class StrCodec(Codec):
    description = "str"
    exact_type = str

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if type(value) is str:
            return value
        if isinstance(value, str):
            return str(value)
        raise self.mismatch(value)

    encode = decode

    def parse_text(self, text: str) -> object:
        return text


class BytesCodec(Codec):
    """bytes travel as base64 text."""

    description = "bytes"
    exact_type = bytes

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        import binascii

        if isinstance(value, str):
            try:
                return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
            except (binascii.Error, UnicodeEncodeError):
                pass
        raise self.mismatch(value, " (base64 text)")

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        import binascii

        if isinstance(value, bytes | bytearray):
            return binascii.b2a_base64(value, newline=False).decode("ascii")
        raise self.mismatch(value)

    def parse_text(self, text: str) -> object:
        import binascii

        return binascii.b2a_base64(text.encode(), newline=False).decode("ascii")


class EnumCodec(Codec):
    """An Enum travels as its member's value; on the command line, its value or its name."""

    def __init__(self, hint: Any) -> None:
        self.enum = hint
        self.description = hint.__qualname__
        self.exact_type = hint
        # (type, value) -> member: JSON 1 is not True, and 1.0 is not the member whose value is 1
        try:
            self.by_value = {(type(member.value), member.value): member for member in hint}
        except TypeError:  # unhashable member values: found by the loop below
            self.by_value = {}

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        try:
            member = self.by_value.get((type(value), value))
        except TypeError:  # an unhashable value is no member's value
            member = None
        if member is not None:
            return member
        for member in self.enum:
            if member.value == value and type(member.value) is type(value):
                return member
        allowed = ", ".join(repr(member.value) for member in self.enum)
        raise self.mismatch(value, f" (one of {allowed})")

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, self.enum):
            plain = value.value
            return plain if type(plain) is str else _json_native(plain, depth)
        raise self.mismatch(value)

    def parse_text(self, text: str) -> object:
        for member in self.enum:
            if str(member.value) == text or member.name == text:
                return member.value
        raise ValueProblem(f"expected one of {', '.join(str(m.value) for m in self.enum)}, got {text!r}")


class IsoTimeCodec(Codec):
    """datetime and date travel as ISO 8601 text; a datetime is not accepted where a date is expected."""

    def __init__(self, hint: Any) -> None:
        self.type = hint
        self.description = hint.__qualname__
        self.exact_type = hint
        self.is_date = hint.__name__ == "date"

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, str):
            try:
                return self.type.fromisoformat(value)
            except ValueError:
                pass
        raise self.mismatch(value, " (ISO 8601 text)")

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, self.type) and not (self.is_date and type(value).__name__ == "datetime"):
            return value.isoformat()
        raise self.mismatch(value)

    def parse_text(self, text: str) -> object:
        return text


class TimedeltaCodec(Codec):
    """timedelta travels as a number of seconds."""

    def __init__(self, hint: Any) -> None:
        self.type = hint
        self.description = hint.__qualname__
        self.exact_type = hint

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self.type(seconds=value)
        raise self.mismatch(value, " (a number of seconds)")

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, self.type):
            return value.total_seconds()
        raise self.mismatch(value)

    def parse_text(self, text: str) -> object:
        try:
            return float(text)
        except ValueError:
            raise ValueProblem(f"expected a number of seconds, got {text!r}") from None


ANY = AnyCodec()
