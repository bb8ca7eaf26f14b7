"""A custom resolver: tasks registered under stable keys instead of found by module and name.

Pods run `kubetask-execute --resolver registry.resolver -- key <KEY>`: the key survives renaming or
moving the function, and one key can be pointed at a new implementation (versions).

    kubetask run examples/custom_resolver/registry.py:greet_v2 -i name=Ada
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import kubetask
from kubetask import SerializationSettings, Task


class RegistryResolver(kubetask.TaskResolverMixin):
    """Finds tasks by key in a registry filled by the `register` decorator."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task[..., Any]] = {}

    def register(self, key: str, **options: Any) -> Callable[[Callable[..., Any]], Task[..., Any]]:
        """Decorator: make the function a task resolved by this registry under *key*."""
        if not key or "/" not in key:
            raise ValueError(f"key: expected 'name/version', got {key!r}")

        def decorate(function: Callable[..., Any]) -> Task[..., Any]:
            if key in self._tasks:
                raise ValueError(f"key {key!r} is already registered to {self._tasks[key]!r}")
            task = kubetask.task(resolver=self, **options)(function)
            self._tasks[key] = task
            return task

        return decorate

    def name(self) -> str:
        return "registry"

    def load_task(self, loader_args: Sequence[str]) -> Task[..., Any]:
        key = kubetask.parse_loader_args(loader_args, keys=["key"])["key"]
        try:
            return self._tasks[key]
        except KeyError:
            known = ", ".join(sorted(self._tasks)) or "none"
            raise kubetask.TaskLoadError(
                f"no task registered under key {key!r}; registered: {known}"
            ) from None

    def loader_args(self, settings: SerializationSettings, task: Task[..., Any]) -> list[str]:
        del settings  # the key is all a pod needs; settings would matter for, e.g., image-specific keys
        for key, registered in self._tasks.items():
            if registered is task:
                return ["key", key]
        raise kubetask.TaskDefinitionError(f"{task!r} is not registered with this registry")

    def get_all_tasks(self) -> list[Task[..., Any]]:
        return list(self._tasks.values())

    def task_name(self, task: Task[..., Any]) -> str | None:
        for key, registered in self._tasks.items():
            if registered is task:
                return key
        return None


resolver = RegistryResolver()


@resolver.register("greet/v1")
def greet_v1(name: str) -> str:
    return f"Hello, {name}."


@resolver.register("greet/v2", retries=2)
def greet_v2(name: str, excited: bool = True) -> str:
    return f"Hello, {name}{'!' if excited else '.'}"


@resolver.register("whoami/v1")
def whoami() -> str:
    """The name the run knows this task by: the resolver's task_name, i.e. its key."""
    return kubetask.current_context().task_name or "unknown"
