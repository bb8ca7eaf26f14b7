"""The value codec: one class per kind of type, each knowing its values both ways and on the command line.

A task's type hint is compiled once into a tree of codecs (cached per hint), and every consumer uses that
tree: the pod decodes inputs and encodes outputs, the client encodes inputs for submission and checks them
before creating anything, ``-i name=value`` is parsed by it. A hint is supported exactly when it compiles.

Errors inside a value are raised as ValueProblem with the detail (``expected int, got '3' (str)``); the
path inside the value (``.lines[1].quantity``) is collected while the exception unwinds, so the success path
builds no path strings. The caller (the Interface) turns it into InputError, OutputError or UsageError
naming the input or output. Values nested deeper than MAX_DEPTH are refused with a problem naming the limit.

Modules for particular types (datetime, dataclasses, pathlib) are imported only for hints that use them,
which the task module has already imported: this module is on ``kubetask-execute``'s cold path.
"""

# ruff: noqa: ARG002 - every codec takes the same arguments; the simple kinds need not all of them

from __future__ import annotations

import binascii
import math
import os

from kubetask._errors import InputError, OutputError, TaskDefinitionError
from kubetask._files import Directory, File
from kubetask._hints import (
    NONE_TYPE,
    describe_hint,
    generic_parts,
    is_dataclass_type,
    is_enum_type,
    is_named_tuple_type,
    normalize,
    qualified_name,
    show,
    type_hints,
    union_members,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import Any

# How deep a value may nest (lists, dicts, records inside each other). Deeper values are refused as the
# user's mistake, naming this limit, rather than exhausting the interpreter's stack (a RecursionError
# would be a retried SYSTEM failure). Far above any real record; well inside the interpreter's limit.
MAX_DEPTH = 100
# Integers the Kubernetes API keeps exact: it decodes JSON numbers beyond int64 as float64.
INT64_MAX = 2**63 - 1
SUPPORTED = (
    "bool, int, float, str, bytes, None, Optional/Union of these, list[T], dict[str, T], tuple, Enum, "
    "datetime, date, timedelta, dataclasses, NamedTuple, kubetask.File, kubetask.Directory, pathlib.Path"
)
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class ValueProblem(Exception):
    """A value does not fit its type. ``segments`` (innermost first) say where inside the value."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.segments: list[str] = []

    def at(self, segment: str) -> ValueProblem:
        self.segments.append(segment)
        return self

    def path(self, name: str) -> str:
        return name + "".join(reversed(self.segments))


def too_deep() -> ValueProblem:
    return ValueProblem(f"nested deeper than {MAX_DEPTH} levels, the most kubetask accepts in a value")


class FileTransfer:
    """Moves file values between URIs and local paths. This one uses local paths as they are."""

    def fetch(self, uri: str, *, directory: bool, key: str) -> str:
        """A local path holding the file (or directory) at *uri*; *key* names the value (for layout)."""
        if "://" in uri and not uri.startswith("file://"):
            raise InputError(f"input '{key}': {uri!r} is remote and this run has no storage to fetch it from")
        return uri.removeprefix("file://")

    def source_uri(self, value: str) -> str | None:
        """The ``uri`` a fetched value remembers (so passing it on as an output does not copy it)."""
        return value

    def store(self, path: str, *, directory: bool, key: str) -> str:
        """The URI under which the local *path* is now stored."""
        return os.path.abspath(path)


class Conversion:
    """One conversion: the file transfer, the path of the file value being converted (tracked only inside
    values that hold files) and whether integers must survive the Kubernetes API (int64)."""

    __slots__ = ("int64", "path", "transfer")

    def __init__(self, transfer: FileTransfer, *, name: str, int64: bool = False) -> None:
        self.transfer = transfer
        self.path = [name]
        self.int64 = int64

    def key(self) -> str:
        return "".join(self.path)


class Codec:
    """One kind of type. Subclasses override what differs; ``decode`` is JSON -> Python, ``encode`` is
    Python -> JSON, ``parse_text`` is command-line text -> JSON."""

    description = "?"
    exact_type: object = None  # values of exactly this type go first in a union
    has_files = False

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        raise NotImplementedError

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        raise NotImplementedError

    def parse_text(self, text: str) -> object:
        """The JSON value for *text* given as ``-i name=text``: JSON for structured types."""
        import json  # only on the command line

        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise ValueProblem(f"expected {self.description} as JSON, got {text!r}") from None

    def shaped_like(self, value: object) -> bool:
        """Whether *value* (JSON or Python) has this container's shape: then only its insides can be wrong."""
        return False

    def children(self) -> list[Codec]:
        return []

    def mismatch(self, value: object, detail: str = "") -> ValueProblem:
        return ValueProblem(f"expected {self.description}{detail}, got {show(value)}")


# ---------------------------------------------------------------- scalars


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
        if not math.isfinite(value):
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
        if type(value) is float and math.isfinite(value):
            return value
        converted = self.decode(value, conversion, depth)
        if not math.isfinite(converted):  # type: ignore[arg-type]
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
        if isinstance(value, str):
            try:
                return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
            except (binascii.Error, UnicodeEncodeError):
                pass
        raise self.mismatch(value, " (base64 text)")

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, bytes | bytearray):
            return binascii.b2a_base64(value, newline=False).decode("ascii")
        raise self.mismatch(value)

    def parse_text(self, text: str) -> object:
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


# ---------------------------------------------------------------- files


def is_remote(uri: str) -> bool:
    """A URI some storage holds (``s3://``, ``gs://``, ``data:``...), not a path on this machine."""
    if uri.startswith("data:"):
        return True
    scheme, separator, _ = uri.partition("://")
    return bool(separator) and len(scheme) > 1 and scheme.lower() != "file"


class FileCodec(Codec):
    """kubetask.File, kubetask.Directory and pathlib.Path: a URI in JSON, a local path in the task."""

    has_files = True

    def __init__(self, hint: Any) -> None:
        self.type = hint
        self.directory = hint is Directory
        self.kubetask_type = hint is File or hint is Directory
        self.description = f"kubetask.{hint.__name__}" if self.kubetask_type else hint.__qualname__

    def shaped_like(self, value: object) -> bool:
        return isinstance(value, str | os.PathLike)

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, str) or not value:
            raise self.mismatch(value, " (a URI or path)")
        transfer = conversion.transfer
        local = transfer.fetch(value, directory=self.directory, key=conversion.key())
        if self.kubetask_type:
            return self.type(local, uri=transfer.source_uri(value))
        return self.type(local)

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if isinstance(value, File | Directory):
            if self.kubetask_type and not isinstance(value, self.type):
                raise self.mismatch(value)
            if value.uri is not None:
                return value.uri  # passed through unchanged: it is already stored
            local = value.path
        elif isinstance(value, str) and value and is_remote(value):
            return value  # already stored: a pod reads it from there
        elif isinstance(value, str | os.PathLike) and os.fspath(value):
            local = os.fspath(value)
        else:
            raise self.mismatch(value, " (a local path)")
        local = local.removeprefix("file://")
        directory = self.directory or (not self.kubetask_type and os.path.isdir(local))
        if not os.path.exists(local):
            raise ValueProblem(f"{local!r} does not exist")
        if directory != os.path.isdir(local):
            kind = "directory" if directory else "file"
            raise ValueProblem(f"expected a {kind}, but {local!r} is not one")
        return conversion.transfer.store(local, directory=directory, key=conversion.key())

    def parse_text(self, text: str) -> object:
        return text


# ---------------------------------------------------------------- records and containers


class _Fields(Codec):
    """A record (dataclass or NamedTuple): a JSON object with one member per field."""

    def __init__(self, hint: type) -> None:
        self.type = hint
        self.description = hint.__qualname__
        self.exact_type = hint
        self.fields: list[tuple[str, str, Codec]] = []  # (name, path segment, codec), filled by compile
        self.names: frozenset[str] = frozenset()
        self.required: tuple[str, ...] = ()
        self.encoders: list[tuple[str, Any]] = []  # (name, codec.encode): the fast path's loop

    def children(self) -> list[Codec]:
        return [codec for _, _, codec in self.fields]

    def shaped_like(self, value: object) -> bool:
        return isinstance(value, dict | self.type)

    def _decode_fields(self, value: Any, conversion: Conversion, depth: int) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.mismatch(value, " (a JSON object)")
        if depth > MAX_DEPTH:
            raise too_deep()
        if not value.keys() <= self.names:
            unknown = ", ".join(map(repr, sorted(set(value) - self.names)))
            raise ValueProblem(
                f"unknown field(s) {unknown} for {self.type.__name__}; "
                f"it has {', '.join(repr(name) for name, _, _ in self.fields) or 'no fields'}"
            )
        arguments = {}
        segment = ""
        try:
            if self.has_files:
                for name, segment, codec in self.fields:
                    if name in value:
                        conversion.path.append(segment)
                        arguments[name] = codec.decode(value[name], conversion, depth + 1)
                        conversion.path.pop()
            else:
                for name, segment, codec in self.fields:  # noqa: B007 - the except clause reads segment
                    if name in value:
                        arguments[name] = codec.decode(value[name], conversion, depth + 1)
        except ValueProblem as problem:
            raise problem.at(segment) from None
        if len(arguments) < len(self.fields):
            for name in self.required:
                if name not in arguments:
                    raise ValueProblem(f"missing required field {name!r} of {self.type.__name__}")
        return arguments

    def _encode_fields(self, items: list[object], conversion: Conversion, depth: int) -> dict[str, object]:
        """The fields' JSON values, *items* being the field values in field order."""
        if depth > MAX_DEPTH:
            raise too_deep()
        result = {}
        segment = ""
        depth += 1
        try:
            if self.has_files:
                for item, (name, segment, codec) in zip(items, self.fields, strict=True):
                    conversion.path.append(segment)
                    result[name] = codec.encode(item, conversion, depth)
                    conversion.path.pop()
            else:
                for item, (name, segment, codec) in zip(items, self.fields, strict=True):  # noqa: B007
                    result[name] = codec.encode(item, conversion, depth)
        except ValueProblem as problem:
            raise problem.at(segment) from None
        return result


class DataclassCodec(_Fields):
    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        arguments = self._decode_fields(value, conversion, depth)
        try:
            return self.type(**arguments)
        except Exception as error:  # __post_init__ validation: the value is wrong, say so
            raise ValueProblem(
                f"{self.type.__name__} refused the value: {type(error).__name__}: {error}"
            ) from error

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, self.type):
            raise self.mismatch(value)
        if self.has_files or depth > MAX_DEPTH:
            return self._encode_fields(
                [getattr(value, name) for name, _, _ in self.fields], conversion, depth
            )
        depth += 1
        result = {}
        name = ""
        try:
            for name, encode in self.encoders:  # the hot loop of big outputs
                result[name] = encode(getattr(value, name), conversion, depth)
        except ValueProblem as problem:
            raise problem.at(f".{name}") from None
        return result


class NamedTupleCodec(_Fields):
    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        arguments = self._decode_fields(value, conversion, depth)
        try:
            return self.type(**arguments)
        except TypeError as error:
            raise ValueProblem(str(error)) from None

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, self.type):
            raise self.mismatch(value)
        record: Any = value
        return self._encode_fields(list(record), conversion, depth)


class _Sequence(Codec):
    """Shared loop of list and tuple items: the index of a bad item is where its problem is."""

    def _items(
        self, values: Any, codecs: Any, conversion: Conversion, depth: int, *, decode: bool
    ) -> list[object]:
        if depth > MAX_DEPTH:
            raise too_deep()
        converted: list[object] = []
        try:
            for element, codec in zip(values, codecs):  # noqa: B905 - codecs may be an endless repeat
                if self.has_files:
                    conversion.path.append(f"[{len(converted)}]")
                convert = codec.decode if decode else codec.encode
                converted.append(convert(element, conversion, depth + 1))
                if self.has_files:
                    conversion.path.pop()
        except ValueProblem as problem:
            raise problem.at(f"[{len(converted)}]") from None
        return converted

    def shaped_like(self, value: object) -> bool:
        return isinstance(value, list | tuple)


class _Repeat:
    """The same codec for every item (an endless sequence for zip)."""

    __slots__ = ("codec",)

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def __iter__(self) -> _Repeat:
        return self

    def __next__(self) -> Codec:
        return self.codec


class ListCodec(_Sequence):
    exact_type = list

    def __init__(self, item: Codec, description: str) -> None:
        self.item = item
        self.description = description

    def children(self) -> list[Codec]:
        return [self.item]

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, list):
            raise self.mismatch(value)
        if self.has_files or depth > MAX_DEPTH:
            return self._items(value, _Repeat(self.item), conversion, depth, decode=True)
        decode = self.item.decode
        depth += 1
        converted: list[object] = []
        append = converted.append
        try:
            for element in value:  # the hot loop of big inputs: no path bookkeeping until something fails
                append(decode(element, conversion, depth))
        except ValueProblem as problem:
            raise problem.at(f"[{len(converted)}]") from None
        return converted

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, list | tuple):
            raise self.mismatch(value)
        if self.has_files or depth > MAX_DEPTH:
            return self._items(value, _Repeat(self.item), conversion, depth, decode=False)
        encode = self.item.encode
        depth += 1
        converted: list[object] = []
        append = converted.append
        try:
            for element in value:
                append(encode(element, conversion, depth))
        except ValueProblem as problem:
            raise problem.at(f"[{len(converted)}]") from None
        return converted


class TupleCodec(_Sequence):
    """``tuple[A, B]`` (fixed items), ``tuple[T, ...]`` (any number) or bare ``tuple``: a JSON array."""

    exact_type = tuple

    def __init__(self, items: list[Codec] | None, repeated: Codec | None, description: str) -> None:
        self.items = items
        self.repeated = repeated
        self.description = description

    def children(self) -> list[Codec]:
        return list(self.items or ()) + ([self.repeated] if self.repeated is not None else [])

    def _codecs(self, value: Any) -> Any:
        if self.items is None:
            return _Repeat(self.repeated or ANY)
        if len(value) != len(self.items):
            raise self.mismatch(value, f" ({len(self.items)} items)")
        return self.items

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, list):
            raise self.mismatch(value, " (a JSON array)")
        return tuple(self._items(value, self._codecs(value), conversion, depth, decode=True))

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, tuple | list):
            raise self.mismatch(value)
        return self._items(value, self._codecs(value), conversion, depth, decode=False)


class DictCodec(Codec):
    """``dict[str, T]``: a JSON object."""

    exact_type = dict

    def __init__(self, item: Codec, description: str) -> None:
        self.item = item
        self.description = description

    def children(self) -> list[Codec]:
        return [self.item]

    def shaped_like(self, value: object) -> bool:
        return isinstance(value, dict)

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, dict):
            raise self.mismatch(value)
        return self._convert(value, conversion, depth, decode=True)

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        if not isinstance(value, dict):
            raise self.mismatch(value)
        return self._convert(value, conversion, depth, decode=False)

    def _convert(self, value: dict[Any, Any], conversion: Conversion, depth: int, *, decode: bool) -> object:
        if depth > MAX_DEPTH:
            raise too_deep()
        convert = self.item.decode if decode else self.item.encode
        result = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise ValueProblem(f"dict keys must be str, got {show(key)}")
            try:
                if self.has_files:
                    conversion.path.append(f"[{key!r}]")
                result[key] = convert(element, conversion, depth + 1)
                if self.has_files:
                    conversion.path.pop()
            except ValueProblem as problem:
                raise problem.at(f"[{key!r}]") from None
        return result


class UnionCodec(Codec):
    """``A | B``: the first member that takes the value, those of the value's own type first, so
    ``float | int`` keeps 3 an int and ``int | str`` keeps "3" a str. ``X | None`` given something shaped
    like X can only be X: its error then says where inside the value it is wrong."""

    def __init__(self, members: list[Codec]) -> None:
        self.members = members
        self.description = " | ".join(member.description for member in members)
        others = [member for member in members if not isinstance(member, NoneCodec)]
        self.optional = others[0] if len(members) == 2 and len(others) == 1 else None

    def children(self) -> list[Codec]:
        return list(self.members)

    def _convert(self, value: Any, conversion: Conversion, depth: int, *, decode: bool) -> object:
        if self.optional is not None:
            if value is None:
                return None
            if self.optional.shaped_like(value):
                convert = self.optional.decode if decode else self.optional.encode
                return convert(value, conversion, depth)
        kind = type(value)
        ordered = sorted(self.members, key=lambda member: member.exact_type is not kind)
        path_length = len(conversion.path)
        for member in ordered:
            try:
                if decode:
                    return member.decode(value, conversion, depth)
                return member.encode(value, conversion, depth)
            except (ValueProblem, InputError, OutputError):  # not this member (storage failures propagate)
                del conversion.path[path_length:]
                continue
        raise self.mismatch(value)

    def decode(self, value: Any, conversion: Conversion, depth: int) -> object:
        return self._convert(value, conversion, depth, decode=True)

    def encode(self, value: Any, conversion: Conversion, depth: int) -> object:
        return self._convert(value, conversion, depth, decode=False)

    def parse_text(self, text: str) -> object:
        if any(isinstance(member, NoneCodec) for member in self.members) and text.lower() in ("null", "none"):
            return None
        for member in sorted(self.members, key=lambda member: isinstance(member, StrCodec)):  # str: last
            if isinstance(member, NoneCodec):
                continue
            try:
                return member.parse_text(text)
            except ValueProblem:
                continue
        raise ValueProblem(f"expected {self.description}, got {text!r}")


ANY = AnyCodec()
_SCALAR_CODECS: dict[object, Codec] = {
    object: ANY,
    NONE_TYPE: NoneCodec(),
    bool: BoolCodec(),
    int: IntCodec(),
    float: FloatCodec(),
    str: StrCodec(),
    bytes: BytesCodec(),
}

# ---------------------------------------------------------------- compiling hints

_CACHE: dict[object, Codec] = {}


def _key(hint: object) -> object:
    """The cache key of *hint*: unions compare equal whatever their order (``int | str == str | int``), but
    the order is the description and the order members are tried in, so the text is part of the key."""
    return (hint, repr(hint))


def codec_for(hint: object, *, where: str) -> Codec:
    """The codec of *hint* (compiled once, then cached); TaskDefinitionError naming *where* when the hint
    is not supported."""
    try:
        return _CACHE[_key(hint)]
    except KeyError:
        pass
    except TypeError:  # an unhashable hint: compiled each time
        pass
    built: list[Codec] = []
    try:
        codec = _compile(hint, where, built)
    except BaseException:
        for codec in built:
            for key, cached in list(_CACHE.items()):
                if cached is codec:
                    del _CACHE[key]
        raise
    _settle_file_flags(built)
    return codec


def _remember(hint: object, codec: Codec, built: list[Codec]) -> Codec:
    built.append(codec)
    try:  # noqa: SIM105 - contextlib is one more import on the cold path
        _CACHE[_key(hint)] = codec
    except TypeError:
        pass
    return codec


def _settle_file_flags(built: list[Codec]) -> None:
    """``has_files`` of new composite codecs, to a fixed point (records may contain themselves)."""
    changed = True
    while changed:
        changed = False
        for codec in built:
            if not codec.has_files and any(child.has_files for child in codec.children()):
                codec.has_files = True
                changed = True


def _compile(hint: object, where: str, built: list[Codec]) -> Codec:
    hint = normalize(hint, where=where)
    try:
        cached = _CACHE.get(_key(hint))
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    try:
        scalar = _SCALAR_CODECS.get(hint)
    except TypeError:
        scalar = None
    if scalar is not None:
        return scalar
    members = union_members(hint)
    if members is not None:
        return _remember(hint, UnionCodec([_compile(m, where, built) for m in members]), built)
    origin, args = generic_parts(hint)
    if origin in (list, dict, tuple) and (args or hint in (list, dict, tuple)):
        return _remember(hint, _container(hint, origin, args, where, built), built)
    if is_enum_type(hint):
        return _remember(hint, EnumCodec(hint), built)
    name = qualified_name(hint)
    if name in ("datetime.datetime", "datetime.date"):
        return _remember(hint, IsoTimeCodec(hint), built)
    if name == "datetime.timedelta":
        return _remember(hint, TimedeltaCodec(hint), built)
    if (
        hint is File
        or hint is Directory
        or (
            isinstance(hint, type) and hint.__module__ == "pathlib" and hint.__name__ in ("Path", "PosixPath")
        )
    ):
        return _remember(hint, FileCodec(hint), built)
    if is_dataclass_type(hint) or is_named_tuple_type(hint):
        return _record(hint, where, built)
    raise TaskDefinitionError(f"{where}: unsupported type {describe_hint(hint)}; supported: {SUPPORTED}")


def _container(
    hint: object, origin: object, args: tuple[object, ...], where: str, built: list[Codec]
) -> Codec:
    if origin is list:
        item = _compile(args[0], where, built) if args else ANY
        return ListCodec(item, f"list[{item.description}]" if args else "list")
    if origin is dict:
        if args and normalize(args[0], where=where) is not str:
            raise TaskDefinitionError(
                f"{where}: dict keys must be str (JSON object keys), got {describe_hint(hint)}"
            )
        item = _compile(args[1], where, built) if len(args) == 2 else ANY
        return DictCodec(item, f"dict[str, {item.description}]" if args else "dict")
    if not args:
        return TupleCodec(None, None, "tuple")
    if args == ((),):  # tuple[()] on Python 3.11
        return TupleCodec([], None, "tuple[()]")
    if len(args) == 2 and args[1] is Ellipsis:
        repeated = _compile(args[0], where, built)
        return TupleCodec(None, repeated, f"tuple[{repeated.description}, ...]")
    items = [_compile(arg, where, built) for arg in args]
    return TupleCodec(items, None, f"tuple[{', '.join(item.description for item in items)}]")


def _record(hint: Any, where: str, built: list[Codec]) -> Codec:
    """A dataclass or NamedTuple; remembered before its fields are compiled, so it may contain itself."""
    codec: _Fields
    if is_dataclass_type(hint):
        import dataclasses  # the task module defined the dataclass, so this is already loaded

        codec = DataclassCodec(hint)
        _remember(hint, codec, built)
        hints = type_hints(hint, label=f"dataclass {hint.__name__}")
        fields = [field for field in dataclasses.fields(hint) if field.init]
        codec.required = tuple(
            field.name
            for field in fields
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        names = [field.name for field in fields]
    else:
        codec = NamedTupleCodec(hint)
        _remember(hint, codec, built)
        hints = type_hints(hint, label=f"NamedTuple {hint.__name__}")
        names = list(hint._fields)
    codec.fields = [
        (name, f".{name}", _compile(hints.get(name, object), f"{where} field {name!r}", built))
        for name in names
    ]
    codec.names = frozenset(names)
    codec.encoders = [(name, field_codec.encode) for name, _, field_codec in codec.fields]
    return codec
