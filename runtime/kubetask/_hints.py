"""Reading type hints without :mod:`inspect` or :mod:`typing`: what a hint is made of, not what to do with it.

Both modules cost a third of the cold-start budget each; the code object and ``__annotations__`` carry all
the runtime needs. :mod:`typing` is used only for string annotations (``from __future__ import
annotations``) and for hints that come from it, in which case the task module has already imported it.
What each kind of hint means for values lives in :mod:`kubetask._codec`.
"""

from __future__ import annotations

import sys

from kubetask._errors import TaskDefinitionError

NONE_TYPE = type(None)
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from types import UnionType as UNION_TYPE
else:
    UNION_TYPE = type(int | str)  # types.UnionType, without importing types


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
    if isinstance(hint, UNION_TYPE):
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


def is_named_tuple_type(hint: object) -> bool:
    return isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields")


def is_enum_type(hint: object) -> bool:
    enum = sys.modules.get("enum")
    return enum is not None and isinstance(hint, type) and issubclass(hint, enum.Enum)


def qualified_name(hint: object) -> str:
    module = getattr(hint, "__module__", "")
    name = getattr(hint, "__qualname__", "")
    if module == "kubetask._files":
        module = "kubetask"
    return f"{module}.{name}"


def describe_hint(hint: object) -> str:
    """A hint as a user writes it (``list[int]``, ``int | None``), for hints that may not be supported;
    a supported hint's codec carries its own description."""
    if hint is NONE_TYPE or hint is None:
        return "None"
    if hint is object:
        return "any JSON value"
    members = union_members(hint)
    if members is not None:
        return " | ".join(describe_hint(member) for member in members)
    origin, args = generic_parts(hint)
    if args:
        inner = ", ".join("..." if a is Ellipsis else describe_hint(a) for a in args)
        return f"{describe_hint(origin)}[{inner}]"
    if isinstance(hint, type):
        return "kubetask." + hint.__name__ if hint.__module__ == "kubetask._files" else hint.__qualname__
    return repr(hint).replace("typing.", "")


def show(value: object) -> str:
    """A bad value for an error message: its repr (cut) and its type."""
    try:
        text = repr(value)
    except Exception as error:  # a broken __repr__ must not hide the real problem
        text = f"<unrepresentable: {type(error).__name__}>"
    if len(text) > 120:
        text = text[:100] + "..." + text[-10:]
    return f"{text} ({type(value).__name__})"
