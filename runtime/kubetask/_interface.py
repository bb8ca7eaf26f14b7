"""A task's typed interface, read from its function's type hints without :mod:`inspect` or :mod:`typing`.

Both cost a third of the cold-start budget each; the code object and ``__annotations__`` carry all the
runtime needs. :mod:`typing` is imported only for string annotations (``from __future__ import
annotations``) and for hints that come from it, in which case the task module has already imported it.
"""

from __future__ import annotations

import sys
import types

from kubetask._errors import OutputError, TaskDefinitionError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

NONE_TYPE = type(None)
_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: object = _Required()  # the default of a parameter that has none


class Parameter:
    """One input: its name, type hint, default (or REQUIRED) and whether it is positional-only."""

    __slots__ = ("default", "hint", "name", "positional_only")

    def __init__(self, name: str, hint: object, *, default: object = REQUIRED, positional_only: bool = False):
        self.name = name
        self.hint = hint
        self.default = default
        self.positional_only = positional_only

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def __repr__(self) -> str:
        default = "" if self.required else f" = {self.default!r}"
        return f"<Parameter {self.name}: {describe(self.hint)}{default}>"


# How a return value maps to named outputs.
RETURNS_NOTHING = "nothing"  # -> None: outputs {}
RETURNS_ONE = "one"  # -> T: o0
RETURNS_TUPLE = "tuple"  # -> tuple[A, B]: o0, o1
RETURNS_NAMED = "named"  # -> a NamedTuple: its field names
RETURNS_ANY = "any"  # no annotation: {} for None, o0, o1... for a tuple, else o0
RETURNS_ANY_TUPLE = "any-tuple"  # -> tuple: o0, o1... as many as returned


class Interface:
    """Named, typed inputs and outputs of a task."""

    __slots__ = ("inputs", "outputs", "returns")

    def __init__(self, inputs: dict[str, Parameter], outputs: dict[str, object], returns: str) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.returns = returns

    def __repr__(self) -> str:
        inputs = ", ".join(f"{p.name}: {describe(p.hint)}" for p in self.inputs.values())
        outputs = ", ".join(f"{name}: {describe(hint)}" for name, hint in self.outputs.items())
        return f"<Interface ({inputs}) -> ({outputs})>"

    def call_arguments(self, values: Mapping[str, object]) -> tuple[list[object], dict[str, object]]:
        """Positional and keyword arguments for the function from input values by name."""
        args = [values[p.name] for p in self.inputs.values() if p.positional_only and p.name in values]
        kwargs = {name: value for name, value in values.items() if not self.inputs[name].positional_only}
        return args, kwargs

    def split_outputs(self, returned: object) -> dict[str, object]:
        """The function's return value as ``{output name: value}``."""
        if self.returns == RETURNS_NOTHING:
            if returned is not None:
                raise OutputError(f"output: the task is annotated '-> None' but returned {show(returned)}")
            return {}
        if self.returns == RETURNS_ANY:
            if isinstance(returned, tuple) and not hasattr(returned, "_fields"):
                return {f"o{index}": value for index, value in enumerate(returned)}
            return {} if returned is None else {"o0": returned}
        if self.returns == RETURNS_ONE:
            return {"o0": returned}
        if not isinstance(returned, tuple):
            raise OutputError(f"output: expected a tuple of {len(self.outputs)} values, got {show(returned)}")
        if self.returns == RETURNS_ANY_TUPLE:
            return {f"o{index}": value for index, value in enumerate(returned)}
        if len(returned) != len(self.outputs):
            raise OutputError(
                f"output: expected a tuple of {len(self.outputs)} values ({', '.join(self.outputs)}), "
                f"got {len(returned)}: {show(returned)}"
            )
        return dict(zip(self.outputs, returned, strict=True))


def interface_of(function: Callable[..., object]) -> Interface:
    """Read the interface of *function* from its signature and type hints."""
    code = getattr(function, "__code__", None)
    if code is None:
        raise TaskDefinitionError(f"{function!r} is not a Python function: it has no code object")
    label = getattr(function, "__qualname__", repr(function))
    if code.co_flags & (_CO_VARARGS | _CO_VARKEYWORDS):
        raise TaskDefinitionError(
            f"task {label!r}: *args and **kwargs are not supported; every input must be a named parameter"
        )
    hints = type_hints(function, label=f"task {label!r}")
    positional = code.co_argcount
    names = code.co_varnames[: positional + code.co_kwonlyargcount]
    defaults = dict(zip(names[positional - len(function.__defaults__ or ()) : positional],
                        function.__defaults__ or (), strict=True))  # fmt: skip
    defaults.update(function.__kwdefaults__ or {})
    inputs = {
        name: Parameter(
            name,
            normalize(hints.get(name, object), where=f"input {name!r}"),
            default=defaults.get(name, REQUIRED),
            positional_only=index < code.co_posonlyargcount,
        )
        for index, name in enumerate(names)
    }
    for parameter in inputs.values():
        check_supported(parameter.hint, where=f"input {parameter.name!r}")
    returns, outputs = _outputs(hints)
    for name, hint in outputs.items():
        check_supported(hint, where=f"output {name!r}")
    return Interface(inputs, outputs, returns)


def _outputs(hints: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    if "return" not in hints:
        return RETURNS_ANY, {}
    hint = normalize(hints["return"], where="output")
    if hint is NONE_TYPE:
        return RETURNS_NOTHING, {}
    if hint is tuple:
        return RETURNS_ANY_TUPLE, {}
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        field_hints = type_hints(hint, label=f"NamedTuple {hint.__name__}")
        return RETURNS_NAMED, {
            name: normalize(field_hints.get(name, object), where=f"output {name!r}") for name in hint._fields
        }
    if getattr(hint, "__origin__", None) is tuple:
        members = hint.__args__  # type: ignore[attr-defined]
        if members and members[-1] is not Ellipsis and members != ((),):
            return RETURNS_TUPLE, {
                f"o{index}": normalize(member, where=f"output 'o{index}'")
                for index, member in enumerate(members)
            }
    return RETURNS_ONE, {"o0": hint}


def type_hints(owner: object, *, label: str) -> dict[str, object]:
    """``__annotations__`` of a function or class (with its bases), string annotations evaluated."""
    if isinstance(owner, type):
        annotations: dict[str, object] = {}
        for base in reversed(owner.__mro__):
            # not inspect.get_annotations: inspect costs ~12 ms of cold start
            annotations.update(base.__dict__.get("__annotations__", {}))  # noqa: RUF063
    else:
        annotations = dict(getattr(owner, "__annotations__", None) or {})
    if not any(isinstance(hint, str) or type(hint).__name__ == "ForwardRef" for hint in annotations.values()):
        return annotations
    import typing  # string annotations need evaluating in their module: typing knows how

    try:
        return dict(typing.get_type_hints(owner))
    except Exception as error:
        raise TaskDefinitionError(
            f"{label}: cannot evaluate its type hints: {type(error).__name__}: {error}"
        ) from error


def normalize(hint: object, *, where: str) -> object:
    """The runtime's view of a hint: ``None`` -> NoneType, ``Any`` -> object, Annotated/NewType unwrapped."""
    if hint is None:
        return NONE_TYPE
    if isinstance(hint, str):
        raise TaskDefinitionError(f"{where}: unresolved type hint {hint!r}")
    typing = sys.modules.get("typing")
    if typing is not None and hint is typing.Any:
        return object
    if hasattr(hint, "__metadata__") and hasattr(hint, "__origin__"):  # Annotated[T, ...]
        return normalize(hint.__origin__, where=where)
    supertype = getattr(hint, "__supertype__", None)  # NewType
    if supertype is not None:
        return normalize(supertype, where=where)
    return hint


def union_members(hint: object) -> tuple[object, ...] | None:
    """The members of ``A | B`` or ``typing.Union[A, B]`` / ``Optional[A]``, else None."""
    if isinstance(hint, types.UnionType):
        return tuple(hint.__args__)
    typing = sys.modules.get("typing")
    if typing is not None and getattr(hint, "__origin__", None) is typing.Union:
        return tuple(hint.__args__)  # type: ignore[attr-defined]
    return None


def generic_parts(hint: object) -> tuple[object, tuple[object, ...]]:
    """``(origin, args)`` of ``list[int]`` / ``typing.List[int]``; ``(hint, ())`` for a plain class."""
    origin = getattr(hint, "__origin__", None)
    if origin is None:
        return hint, ()
    return origin, tuple(getattr(hint, "__args__", ()))


def is_dataclass_type(hint: object) -> bool:
    return isinstance(hint, type) and hasattr(hint, "__dataclass_fields__")


def is_enum_type(hint: object) -> bool:
    enum = sys.modules.get("enum")
    return enum is not None and isinstance(hint, type) and issubclass(hint, enum.Enum)


_SCALARS = (bool, int, float, str, bytes, NONE_TYPE, object)
_TIME_TYPES = ("datetime.datetime", "datetime.date", "datetime.timedelta")
SUPPORTED = (
    "bool, int, float, str, bytes, None, Optional/Union of these, list[T], dict[str, T], tuple, Enum, "
    "datetime, date, timedelta, dataclasses, NamedTuple, kubetask.File, kubetask.Directory, pathlib.Path"
)


def check_supported(hint: object, *, where: str) -> None:
    """Raise TaskDefinitionError unless the runtime can convert values of *hint* both ways."""
    members = union_members(hint)
    if members is not None:
        for member in members:
            check_supported(normalize(member, where=where), where=where)
        return
    origin, args = generic_parts(hint)
    if origin in (list, dict, tuple) and not isinstance(hint, type):
        if origin is dict and args and normalize(args[0], where=where) is not str:
            raise TaskDefinitionError(
                f"{where}: dict keys must be str (JSON object keys), got {describe(hint)}"
            )
        for arg in args[1:] if origin is dict else args:
            if arg is not Ellipsis and arg != ():
                check_supported(normalize(arg, where=where), where=where)
        return
    if (
        hint in _SCALARS
        or hint in (list, dict, tuple)
        or is_enum_type(hint)
        or qualified_name(hint) in _TIME_TYPES
    ):
        return
    if is_file_type(hint):
        return
    if is_dataclass_type(hint):
        assert isinstance(hint, type)
        for name, field_hint in dataclass_field_hints(hint).items():
            check_supported(field_hint, where=f"{where} field {name!r}")
        return
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        for name, field_hint in type_hints(hint, label=describe(hint)).items():
            check_supported(normalize(field_hint, where=where), where=f"{where} field {name!r}")
        return
    raise TaskDefinitionError(f"{where}: unsupported type {describe(hint)}; supported: {SUPPORTED}")


def is_file_type(hint: object) -> bool:
    return qualified_name(hint) in ("kubetask.File", "kubetask.Directory") or (
        isinstance(hint, type) and hint.__module__ == "pathlib" and hint.__name__ in ("Path", "PosixPath")
    )


def dataclass_field_hints(cls: type) -> dict[str, object]:
    """Field name -> normalized hint of a dataclass (init fields only), string annotations evaluated."""
    import dataclasses  # the task module defined a dataclass, so this is already loaded

    hints = type_hints(cls, label=f"dataclass {cls.__name__}")
    return {
        field.name: normalize(hints.get(field.name, object), where=f"field {field.name!r}")
        for field in dataclasses.fields(cls)
        if field.init
    }


def qualified_name(hint: object) -> str:
    module = getattr(hint, "__module__", "")
    name = getattr(hint, "__qualname__", "")
    if module == "kubetask._files":
        module = "kubetask"
    return f"{module}.{name}"


def describe(hint: object) -> str:
    """A type as a user writes it: ``int``, ``list[int]``, ``int | None``, ``Color``."""
    if hint is NONE_TYPE:
        return "None"
    if hint is object:
        return "any JSON value"
    members = union_members(hint)
    if members is not None:
        return " | ".join(describe(member) for member in members)
    origin, args = generic_parts(hint)
    if args:
        return f"{describe(origin)}[{', '.join('...' if a is Ellipsis else describe(a) for a in args)}]"
    if isinstance(hint, type):
        return "kubetask." + hint.__name__ if hint.__module__ == "kubetask._files" else hint.__qualname__
    return repr(hint).replace("typing.", "")


def show(value: object) -> str:
    """A bad value for an error message: its repr (cut) and its type."""
    text = repr(value)
    if len(text) > 120:
        text = text[:100] + "..." + text[-10:]
    return f"{text} ({type(value).__name__})"
