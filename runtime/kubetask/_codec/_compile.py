"""Compiling a type hint into its codec, once: the cache, and the rules of which hint is which codec.

A hint is supported exactly when it compiles. The codecs of containers, unions, records and files are
imported by the first hint that needs them: a task of scalars (the trivial task's cold start) loads none.
"""

from __future__ import annotations

from kubetask._codec._base import Codec
from kubetask._codec._scalars import (
    ANY,
    BoolCodec,
    BytesCodec,
    EnumCodec,
    FloatCodec,
    IntCodec,
    IsoTimeCodec,
    NoneCodec,
    StrCodec,
    TimedeltaCodec,
)
from kubetask._errors import TaskDefinitionError
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
    type_hints,
    union_members,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from typing import Any

    from kubetask._codec._records import RecordCodec

SUPPORTED = (
    "bool, int, float, str, bytes, None, Optional/Union of these, list[T], dict[str, T], tuple, Enum, "
    "datetime, date, timedelta, dataclasses, NamedTuple, kubetask.File, kubetask.Directory, pathlib.Path"
)

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
        from kubetask._codec._containers import UnionCodec

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
        from kubetask._codec._files import FileCodec

        return _remember(hint, FileCodec(hint), built)
    if is_dataclass_type(hint) or is_named_tuple_type(hint):
        return _record(hint, where, built)
    raise TaskDefinitionError(f"{where}: unsupported type {describe_hint(hint)}; supported: {SUPPORTED}")


def _container(
    hint: object, origin: object, args: tuple[object, ...], where: str, built: list[Codec]
) -> Codec:
    from kubetask._codec._containers import DictCodec, ListCodec, TupleCodec

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
    from kubetask._codec._records import DataclassCodec, NamedTupleCodec

    codec: RecordCodec
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
