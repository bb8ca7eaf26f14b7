"""Tasks for the codec's limits, run through real kubetask-execute subprocesses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import kubetask


@dataclass
class Tree:
    name: str
    children: list[Tree] = field(default_factory=list)


@kubetask.task
def echo_any(x: Any) -> Any:
    return x


@kubetask.task
def tree_size(tree: Tree) -> int:
    return 1 + sum(tree_size(child) for child in tree.children)


@kubetask.task
def nested_list(depth: int) -> Any:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value
