"""Stand-ins for the few :mod:`typing` names the runtime's own classes need at run time.

:mod:`typing` costs ~9 ms to import (it pulls in :mod:`re`), a third of ``kubetask-execute``'s whole cold
start, and task modules import ``kubetask``. mypy sees the real names; at run time these do nothing,
which is all ``typing`` does with them at run time too (generic parameters are erased).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
__all__ = ["Generic", "ParamSpec", "TypeVar", "overload"]

if TYPE_CHECKING:
    from typing import Generic, ParamSpec, TypeVar, overload
else:

    class Generic:
        """Subscripting returns the class itself: ``class Task(Generic[P, R])`` works unchanged."""

        __slots__ = ()

        def __class_getitem__(cls, parameters):
            return cls

    def TypeVar(name, *_constraints, **_options):
        return name

    def ParamSpec(name, **_options):
        return name

    def overload(function):
        return function
