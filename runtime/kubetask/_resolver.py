"""The resolver protocol (flytekit-shaped) and the default resolver.

A resolver turns a task into ``loader_args`` at serialization time and back into the task inside the pod
(``kubetask-execute --resolver <location> -- <loader_args>``). Any module-level instance of a
TaskResolverMixin subclass works; its ``location`` is the dotted path ``--resolver`` accepts.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod

from kubetask._errors import TaskDefinitionError, TaskLoadError
from kubetask._modules import import_task_module, real_module_name
from kubetask._protocol import DEFAULT_RESOLVER
from kubetask._task import Task

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

    from kubetask._settings import SerializationSettings

TASK_MODULE = "task-module"
TASK_NAME = "task-name"


class TaskResolverMixin(ABC):
    """Finds tasks from a list of strings: ``loader_args(settings, task)`` out, ``load_task(args)`` back."""

    _defined_in: str | None = None

    def __new__(cls, *args: object, **kwargs: object) -> TaskResolverMixin:  # noqa: ARG004 - for __init__
        instance = super().__new__(cls)
        # The module that created the instance (type.__call__ is C, so frame 1 is the caller): `location`
        # looks for the instance there, as flytekit's TrackedInstance does.
        instance._defined_in = sys._getframe(1).f_globals.get("__name__")
        return instance

    @property
    def location(self) -> str:
        """The dotted import path of this instance (``package.module.attribute``) for ``--resolver``."""
        module_name = self._defined_in or type(self).__module__
        module = sys.modules.get(module_name)
        for attribute, value in vars(module).items() if module is not None else ():
            if value is self:
                return f"{real_module_name(module_name)}.{attribute}"
        raise TaskDefinitionError(
            f"resolver {self!r} is not bound to a module-level name in module {module_name!r}: "
            "--resolver needs a dotted path to a module-level instance"
        )

    def name(self) -> str:
        """A short human-readable name of the resolver."""
        return type(self).__name__

    @abstractmethod
    def load_task(self, loader_args: Sequence[str]) -> Task[..., object]:
        """The task that *loader_args* designate; raise TaskLoadError with a clear message if none."""

    @abstractmethod
    def loader_args(self, settings: SerializationSettings, task: Task[..., object]) -> list[str]:
        """The strings that let ``load_task`` find *task* again inside the pod."""

    @abstractmethod
    def get_all_tasks(self) -> list[Task[..., object]]:
        """Every task this resolver knows about."""

    def task_name(self, task: Task[..., object]) -> str | None:  # noqa: ARG002 - for subclasses
        """A custom name for *task*, or None to use ``task.name``."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} resolver>"


def parse_loader_args(loader_args: Sequence[str], *, keys: Sequence[str]) -> dict[str, str]:
    """``["k1", v1, "k2", v2]`` -> ``{k1: v1, k2: v2}``: by key, in any order, each key exactly once."""
    if isinstance(loader_args, str) or len(loader_args) % 2:
        raise TaskLoadError(
            f"loader args: expected key/value pairs ({', '.join(keys)}), got {list(loader_args)!r}"
        )
    parsed: dict[str, str] = {}
    for key, value in zip(loader_args[::2], loader_args[1::2], strict=True):
        if key not in keys:
            raise TaskLoadError(
                f"loader args: unknown key {key!r} in {list(loader_args)!r}; expected {list(keys)!r}"
            )
        if key in parsed:
            raise TaskLoadError(f"loader args: key {key!r} given twice in {list(loader_args)!r}")
        parsed[key] = value
    missing = [key for key in keys if key not in parsed]
    if missing:
        raise TaskLoadError(f"loader args: missing {', '.join(map(repr, missing))} in {list(loader_args)!r}")
    return parsed


def tasks_in(module: ModuleType) -> dict[str, Task[..., object]]:
    """The module-level names of *module* bound to tasks."""
    return {name: value for name, value in vars(module).items() if isinstance(value, Task)}


class DefaultTaskResolver(TaskResolverMixin):
    """Finds a task by module and attribute: ``["task-module", M, "task-name", N]``."""

    @property
    def location(self) -> str:
        return DEFAULT_RESOLVER

    def name(self) -> str:
        return "default"

    def loader_args(self, settings: SerializationSettings, task: Task[..., object]) -> list[str]:  # noqa: ARG002
        if not isinstance(task, Task):
            raise TypeError(f"task: expected a kubetask.Task, got {task!r} ({type(task).__name__})")
        function = task.function
        qualname = function.__qualname__
        if function.__name__ == "<lambda>":
            raise TaskDefinitionError(
                f"task {qualname!r} is a lambda: a pod cannot find it by name; "
                "define it with def at module level"
            )
        if "<locals>" in qualname:
            enclosing = qualname.rsplit(".<locals>.", 1)[0].rsplit(".", 1)[-1]
            raise TaskDefinitionError(
                f"task {qualname!r} is defined inside {enclosing!r}: a pod can only "
                "import tasks bound to module-level names; move it to module level"
            )
        module_name = function.__module__
        module = sys.modules.get(module_name)
        names = sorted(name for name, value in vars(module).items() if value is task) if module else []
        if not names:
            raise TaskDefinitionError(
                f"task {qualname!r} is not bound to any module-level name in module {module_name!r}: "
                f"assign it to one (e.g. `{function.__name__} = kubetask.task({function.__name__})`)"
            )
        # The name the task is bound to, not its function's name: `mul_task = task(mul)` is "mul_task".
        name = function.__name__ if function.__name__ in names else names[0]
        return [TASK_MODULE, real_module_name(module_name), TASK_NAME, name]

    def load_task(self, loader_args: Sequence[str]) -> Task[..., object]:
        parsed = parse_loader_args(loader_args, keys=(TASK_MODULE, TASK_NAME))
        module_name, name = parsed[TASK_MODULE], parsed[TASK_NAME]
        module = import_task_module(module_name)
        try:
            found = vars(module)[name]
        except KeyError:
            tasks = (
                ", ".join(sorted(tasks_in(module))) or "none (nothing in it is decorated with @kubetask.task)"
            )
            raise TaskLoadError(
                f"module {module_name!r} has no attribute {name!r}; its tasks: {tasks}"
            ) from None
        if not isinstance(found, Task):
            raise TaskLoadError(
                f"{module_name}.{name} is {type(found).__name__} {found!r}, not a kubetask task: "
                "decorate it with @kubetask.task"
            )
        return found

    def get_all_tasks(self) -> list[Task[..., object]]:
        """Every task bound to a module-level name in the modules imported so far."""
        found: dict[int, Task[..., object]] = {}
        for module in list(sys.modules.values()):
            for task in tasks_in(module).values() if hasattr(module, "__dict__") else ():
                found.setdefault(id(task), task)
        return list(found.values())


default_task_resolver = DefaultTaskResolver()


def load_resolver(location: str) -> TaskResolverMixin:
    """The resolver instance at dotted path *location* (``package.module.attribute``)."""
    module_name, _, attribute = location.rpartition(".")
    if not module_name or not attribute:
        raise TaskLoadError(
            f"--resolver: expected a dotted path like 'package.module.resolver', got {location!r}"
        )
    module = import_task_module(module_name)
    try:
        resolver = getattr(module, attribute)
    except AttributeError:
        raise TaskLoadError(
            f"--resolver {location!r}: module {module_name!r} has no attribute {attribute!r}"
        ) from None
    if not isinstance(resolver, TaskResolverMixin):
        raise TaskLoadError(
            f"--resolver {location!r} is {type(resolver).__name__} {resolver!r}, "
            "not a TaskResolverMixin instance"
        )
    return resolver


def resolve_task(location: str, loader_args: Sequence[str]) -> tuple[TaskResolverMixin, Task[..., object]]:
    """The resolver at *location* and the task it finds from *loader_args*, checked to be a task."""
    resolver = load_resolver(location)
    task = resolver.load_task(loader_args)
    if not isinstance(task, Task):
        raise TaskLoadError(
            f"--resolver {location!r}: load_task({list(loader_args)!r}) returned "
            f"{type(task).__name__} {task!r}, not a kubetask task"
        )
    return resolver, task
