"""Converting values between JSON documents and a task's typed Python values, in both directions.

Pure functions: moving files is delegated to a FileTransfer the caller supplies (the execute edge uses
storage; tests and ``kubetask run`` can use the local one). Errors name the input or output, the path
inside it, the expected type and the bad value: ``input 'a': expected int, got 'x' (str)``.
Modules for particular types (datetime, dataclasses, pathlib) are imported only for hints that use them,
which the task module has already imported.
"""

from __future__ import annotations

import binascii
import math
import os

from kubetask._errors import InputError, OutputError
from kubetask._files import Directory, File
from kubetask._interface import (
    NONE_TYPE,
    describe,
    generic_parts,
    is_dataclass_type,
    is_enum_type,
    is_file_type,
    normalize,
    qualified_name,
    show,
    type_hints,
    union_members,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class FileTransfer:
    """Moves file values between URIs and local paths. This one only accepts local paths."""

    def fetch(self, uri: str, *, directory: bool, key: str) -> str:  # noqa: ARG002 - part of the protocol
        """A local path holding the file (or directory) at *uri*; *key* names the value (for layout)."""
        if "://" in uri and not uri.startswith("file://"):
            raise InputError(f"input '{key}': {uri!r} is remote and this run has no storage to fetch it from")
        return uri.removeprefix("file://")

    def store(self, path: str, *, directory: bool, key: str) -> str:  # noqa: ARG002 - part of the protocol
        """The URI under which the local *path* is now stored."""
        return os.path.abspath(path)


# ---------------------------------------------------------------- scalars: the same rules both ways

_SCALARS = (NONE_TYPE, bool, int, float, str)
_NOT_A_MATCH = object()


def _scalar(value: object, hint: object) -> object:
    """*value* as the scalar type *hint*, or _NOT_A_MATCH. A bool is never an int or a float; an int is a
    float; subclasses (IntEnum members, str subclasses) become the plain type JSON carries."""
    if hint is NONE_TYPE:
        return None if value is None else _NOT_A_MATCH
    if isinstance(value, bool):
        return value if hint is bool else _NOT_A_MATCH
    if hint is int:
        return int(value) if isinstance(value, int) else _NOT_A_MATCH
    if hint is float:
        return float(value) if isinstance(value, int | float) else _NOT_A_MATCH
    if hint is str:
        return str(value) if isinstance(value, str) else _NOT_A_MATCH
    return _NOT_A_MATCH


# ---------------------------------------------------------------- JSON -> Python (inputs)


def input_value(value: object, hint: object, *, name: str, transfer: FileTransfer) -> object:
    """The Python value of input *name* given as JSON *value*."""
    return _from_json(value, hint, name, transfer)


def _mismatch(path: str, hint: object, value: object, detail: str = "") -> InputError:
    return InputError(f"input '{path}': expected {describe(hint)}{detail}, got {show(value)}")


def _from_json(value: object, hint: object, path: str, transfer: FileTransfer) -> object:
    hint = normalize(hint, where=f"input '{path}'")
    if hint is object:
        return value
    members = union_members(hint)
    if members is not None:
        return _first_member(
            value,
            members,
            path,
            lambda member: _from_json(value, member, path, transfer),
            _mismatch(path, hint, value),
        )
    if hint in _SCALARS:
        converted = _scalar(value, hint)
        if converted is _NOT_A_MATCH:
            raise _mismatch(path, hint, value)
        return converted
    if hint is bytes:
        if isinstance(value, str):
            try:
                return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
            except (binascii.Error, UnicodeEncodeError):
                pass
        raise _mismatch(path, hint, value, " (base64 text)")
    if is_enum_type(hint):
        enum_type: Any = hint
        for member in enum_type:
            if member.value == value and type(member.value) is type(value):
                return member
        allowed = ", ".join(repr(member.value) for member in enum_type)
        raise _mismatch(path, hint, value, f" (one of {allowed})")
    time_type = qualified_name(hint)
    if time_type in ("datetime.datetime", "datetime.date"):
        assert isinstance(hint, type)
        if isinstance(value, str):
            try:
                return hint.fromisoformat(value)  # type: ignore[attr-defined]
            except ValueError:
                pass
        raise _mismatch(path, hint, value, " (ISO 8601 text)")
    if time_type == "datetime.timedelta":
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert callable(hint)
            return hint(seconds=value)
        raise _mismatch(path, hint, value, " (a number of seconds)")
    if is_file_type(hint):
        return _fetch_file(value, hint, path, transfer)
    if is_dataclass_type(hint):
        return _dataclass_from_json(value, hint, path, transfer)
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        return _named_tuple_from_json(value, hint, path, transfer)
    return _container_from_json(value, hint, path, transfer)


def _first_member(
    value: object,
    members: tuple[object, ...],
    path: str,
    convert: Callable[[object], object],
    mismatch: InputError | OutputError,
) -> object:
    optional = [member for member in (normalize(m, where=path) for m in members) if member is not NONE_TYPE]
    if len(members) == 2 and len(optional) == 1 and _has_the_shape_of(value, optional[0]):
        # `list[int] | None` given a list can only be the list: its error says where inside the value it
        # is wrong (`input 'x[1]': expected int, got '2' (str)`), which "expected list[int] | None" would not.
        return convert(optional[0])
    # Members whose kind matches go first, so `float | int` keeps 3 an int and `int | str` keeps "3" a str.
    ordered = sorted(members, key=lambda member: not _same_kind(value, normalize(member, where=path)))
    for member in ordered:
        try:
            return convert(normalize(member, where=path))
        except (InputError, OutputError):  # not this member; storage failures are not mismatches
            continue
    raise mismatch


def _has_the_shape_of(value: object, hint: object) -> bool:
    """Whether *value* is shaped like the container, record or file type *hint* (JSON or Python side):
    its conversion can then only fail somewhere inside the value."""
    if is_dataclass_type(hint) or (
        isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields")
    ):
        return isinstance(value, dict | hint)
    if is_file_type(hint):
        return isinstance(value, str | os.PathLike)
    origin = generic_parts(hint)[0]
    if origin in (list, tuple):
        return isinstance(value, list | tuple)
    return origin is dict and isinstance(value, dict)


def _same_kind(value: object, hint: object) -> bool:
    if value is None:
        return hint is NONE_TYPE
    return isinstance(hint, type) and type(value) is hint


def _fetch_file(value: object, hint: object, path: str, transfer: FileTransfer) -> object:
    if not isinstance(value, str) or not value:
        raise _mismatch(path, hint, value, " (a URI or path)")
    directory = qualified_name(hint) == "kubetask.Directory"
    local = transfer.fetch(value, directory=directory, key=path)
    if hint is File or hint is Directory:
        return hint(local, uri=value)
    assert callable(hint)
    return hint(local)  # pathlib.Path


def _dataclass_from_json(value: object, hint: object, path: str, transfer: FileTransfer) -> object:
    import dataclasses  # the task module defined the dataclass, so this is already loaded

    assert isinstance(hint, type)
    if not isinstance(value, dict):
        raise _mismatch(path, hint, value, " (a JSON object)")
    hints = type_hints(hint, label=f"dataclass {hint.__name__}")
    fields = {field.name: field for field in dataclasses.fields(hint) if field.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise InputError(
            f"input '{path}': unknown field(s) {', '.join(map(repr, unknown))} for {hint.__name__}; "
            f"it has {', '.join(map(repr, fields)) or 'no fields'}"
        )
    arguments = {}
    for name, field in fields.items():
        if name in value:
            field_hint = normalize(hints.get(name, object), where=f"input '{path}.{name}'")
            arguments[name] = _from_json(value[name], field_hint, f"{path}.{name}", transfer)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise InputError(f"input '{path}': missing required field {name!r} of {hint.__name__}")
    try:
        return hint(**arguments)
    except Exception as error:  # __post_init__ validation: the value is wrong, say so
        raise InputError(
            f"input '{path}': {hint.__name__} refused the value: {type(error).__name__}: {error}"
        ) from error


def _named_tuple_from_json(value: object, hint: type, path: str, transfer: FileTransfer) -> object:
    if not isinstance(value, dict):
        raise _mismatch(path, hint, value, " (a JSON object)")
    hints = type_hints(hint, label=f"NamedTuple {hint.__name__}")
    fields: tuple[str, ...] = hint._fields  # type: ignore[attr-defined]
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise InputError(
            f"input '{path}': unknown field(s) {', '.join(map(repr, unknown))} for {hint.__name__}"
        )
    arguments = {
        name: _from_json(
            value[name], normalize(hints.get(name, object), where=path), f"{path}.{name}", transfer
        )
        for name in fields
        if name in value
    }
    try:
        return hint(**arguments)
    except TypeError as error:
        raise InputError(f"input '{path}': {error}") from error


def _container_from_json(value: object, hint: object, path: str, transfer: FileTransfer) -> object:
    origin, args = generic_parts(hint)
    if origin is list:
        if not isinstance(value, list):
            raise _mismatch(path, hint, value)
        item = args[0] if args else object
        return [
            _from_json(element, item, f"{path}[{index}]", transfer) for index, element in enumerate(value)
        ]
    if origin is tuple:
        if not isinstance(value, list):
            raise _mismatch(path, hint, value, " (a JSON array)")
        if not args or args == ((),):
            if args == ((),) and value:
                raise _mismatch(path, hint, value)
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(e, args[0], f"{path}[{i}]", transfer) for i, e in enumerate(value))
        if len(value) != len(args):
            raise _mismatch(path, hint, value, f" ({len(args)} items)")
        return tuple(
            _from_json(e, a, f"{path}[{i}]", transfer)
            for i, (e, a) in enumerate(zip(value, args, strict=True))
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise _mismatch(path, hint, value)
        item = args[1] if len(args) == 2 else object
        return {
            key: _from_json(element, item, f"{path}[{key!r}]", transfer) for key, element in value.items()
        }
    raise InputError(f"input '{path}': unsupported type {describe(hint)}")


# ---------------------------------------------------------------- Python -> JSON (outputs)


def output_value(value: object, hint: object, *, name: str, transfer: FileTransfer) -> object:
    """The JSON value of output *name* returned as Python *value*."""
    return _to_json(value, hint, name, transfer)


def _wrong(path: str, hint: object, value: object, detail: str = "") -> OutputError:
    return OutputError(f"output '{path}': expected {describe(hint)}{detail}, got {show(value)}")


def _to_json(value: object, hint: object, path: str, transfer: FileTransfer) -> object:
    hint = normalize(hint, where=f"output '{path}'")
    if hint is object:
        return _json_native(value, path)
    members = union_members(hint)
    if members is not None:
        return _first_member(
            value,
            members,
            path,
            lambda member: _to_json(value, member, path, transfer),
            _wrong(path, hint, value),
        )
    if hint in _SCALARS:
        converted = _scalar(value, hint)
        if converted is _NOT_A_MATCH:
            raise _wrong(path, hint, value)
        if isinstance(converted, float) and not math.isfinite(converted):
            raise _wrong(path, hint, value, " (finite: JSON has no NaN or Infinity)")
        return converted
    if hint is bytes:
        if isinstance(value, bytes | bytearray):
            return binascii.b2a_base64(value, newline=False).decode("ascii")
        raise _wrong(path, hint, value)
    if is_enum_type(hint):
        assert isinstance(hint, type)
        if isinstance(value, hint):
            return _json_native(value.value, path)  # type: ignore[attr-defined]
        raise _wrong(path, hint, value)
    time_type = qualified_name(hint)
    if time_type in ("datetime.datetime", "datetime.date"):
        assert isinstance(hint, type)
        exact = time_type == "datetime.datetime" or type(value).__name__ != "datetime"
        if isinstance(value, hint) and exact:
            return value.isoformat()  # type: ignore[attr-defined]
        raise _wrong(path, hint, value)
    if time_type == "datetime.timedelta":
        assert isinstance(hint, type)
        if isinstance(value, hint):
            return value.total_seconds()  # type: ignore[attr-defined]
        raise _wrong(path, hint, value)
    if is_file_type(hint):
        return _store_file(value, hint, path, transfer)
    if is_dataclass_type(hint):
        import dataclasses  # the task module defined the dataclass, so this is already loaded

        assert isinstance(hint, type)
        if not isinstance(value, hint):
            raise _wrong(path, hint, value)
        hints = type_hints(hint, label=f"dataclass {hint.__name__}")
        return {
            field.name: _to_json(
                getattr(value, field.name),
                normalize(hints.get(field.name, object), where=path),
                f"{path}.{field.name}",
                transfer,
            )
            for field in dataclasses.fields(hint)
            if field.init
        }
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        if not isinstance(value, hint):
            raise _wrong(path, hint, value)
        hints = type_hints(hint, label=f"NamedTuple {hint.__name__}")
        return {
            name: _to_json(item, normalize(hints.get(name, object), where=path), f"{path}.{name}", transfer)
            for name, item in zip(hint._fields, value, strict=True)
        }
    return _container_to_json(value, hint, path, transfer)


def _store_file(value: object, hint: object, path: str, transfer: FileTransfer) -> object:
    expected = File if hint is File else Directory if hint is Directory else None
    if isinstance(value, File | Directory):
        if expected is not None and not isinstance(value, expected):
            raise _wrong(path, hint, value)
        if value.uri is not None:
            return value.uri  # passed through unchanged: it is already stored
        local = value.path
    elif isinstance(value, str | os.PathLike):
        local = os.fspath(value)
    else:
        raise _wrong(path, hint, value, " (a local path)")
    directory = qualified_name(hint) == "kubetask.Directory" or (expected is None and os.path.isdir(local))
    if not os.path.exists(local):
        raise OutputError(f"output '{path}': {local!r} does not exist")
    if directory != os.path.isdir(local):
        kind = "directory" if directory else "file"
        raise OutputError(f"output '{path}': expected a {kind}, but {local!r} is not one")
    return transfer.store(local, directory=directory, key=path)


def _container_to_json(value: object, hint: object, path: str, transfer: FileTransfer) -> object:
    origin, args = generic_parts(hint)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise _wrong(path, hint, value)
        item = args[0] if args else object
        return [_to_json(element, item, f"{path}[{index}]", transfer) for index, element in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, tuple | list):
            raise _wrong(path, hint, value)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = args[0] if args else object
            return [_to_json(e, item, f"{path}[{i}]", transfer) for i, e in enumerate(value)]
        if args == ((),):
            args = ()
        if len(value) != len(args):
            raise _wrong(path, hint, value, f" ({len(args)} items)")
        return [
            _to_json(e, a, f"{path}[{i}]", transfer) for i, (e, a) in enumerate(zip(value, args, strict=True))
        ]
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong(path, hint, value)
        item = args[1] if len(args) == 2 else object
        converted = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise OutputError(f"output '{path}': dict keys must be str, got {show(key)}")
            converted[key] = _to_json(element, item, f"{path}[{key!r}]", transfer)
        return converted
    raise OutputError(f"output '{path}': unsupported type {describe(hint)}")


def _json_native(value: object, path: str) -> object:
    """*value* itself when JSON can carry it (tuples become lists), else an OutputError naming where."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise OutputError(f"output '{path}': JSON has no NaN or Infinity, got {show(value)}")
        return value
    if isinstance(value, list | tuple):
        return [_json_native(element, f"{path}[{index}]") for index, element in enumerate(value)]
    if isinstance(value, dict):
        converted = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise OutputError(f"output '{path}': dict keys must be str, got {show(key)}")
            converted[key] = _json_native(element, f"{path}[{key!r}]")
        return converted
    raise OutputError(
        f"output '{path}': expected a JSON value (dict, list, str, int, float, bool, None) since the task "
        f"has no type hint for it, got {show(value)}"
    )
