"""Codecs of records: dataclasses and NamedTuples, a JSON object with one member per field."""

from __future__ import annotations

from kubetask._codec._base import MAX_DEPTH, Codec, Conversion, ValueProblem, too_deep

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import Any


class RecordCodec(Codec):
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


class DataclassCodec(RecordCodec):
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


class NamedTupleCodec(RecordCodec):
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
