"""Resolvers for the resolver tests: a broken one and one that is not a resolver."""

from __future__ import annotations

from collections.abc import Sequence

import kubetask
from kubetask import SerializationSettings, Task


class Exploding(kubetask.TaskResolverMixin):
    def load_task(self, loader_args: Sequence[str]) -> Task[..., object]:
        raise LookupError(f"no task for {list(loader_args)}")

    def loader_args(self, settings: SerializationSettings, task: Task[..., object]) -> list[str]:
        return ["anything"]

    def get_all_tasks(self) -> list[Task[..., object]]:
        return []


exploding = Exploding()


class ReturnsNothing(Exploding):
    def load_task(self, loader_args: Sequence[str]) -> Task[..., object]:
        return None  # type: ignore[return-value] - the mistake under test


returns_nothing = ReturnsNothing()
not_a_resolver = "just a string"
