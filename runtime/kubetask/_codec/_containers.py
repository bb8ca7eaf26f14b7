"""Codecs of containers (list, tuple, dict) and of unions of other codecs."""

from __future__ import annotations

from kubetask._codec._base import MAX_DEPTH, Codec, Conversion, ValueProblem, too_deep
from kubetask._codec._scalars import ANY, NoneCodec, StrCodec
from kubetask._errors import InputError, OutputError
from kubetask._hints import show

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import Any


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
