"""A base for the runtime's small immutable value objects.

Not dataclasses: :mod:`dataclasses` imports :mod:`inspect` and costs ~15 ms of a task pod's cold start.
"""

from __future__ import annotations


class Frozen:
    """Fields are the ``__slots__`` of the subclass, set once by ``_set_fields``; equality by fields."""

    __slots__: tuple[str, ...] = ()

    def _set_fields(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _field_names(self) -> tuple[str, ...]:
        """The slots of every class in the hierarchy, base classes first."""
        names: list[str] = []
        for cls in reversed(type(self).__mro__):
            names.extend(cls.__dict__.get("__slots__", ()))
        return tuple(names)

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._field_names())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._field_names())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))
