"""Inputs for a TaskRun, as the JSON values its ``spec.inputs`` holds.

The conversions are the runtime's own (the same ones ``kubetask run`` uses), so a value means the same thing
whether a task runs locally or on the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import kubetask
from kubetask_client._errors import ClientUsageError


def _check_names(task: kubetask.Task[..., Any], names: Sequence[str]) -> None:
    expected = task.interface.inputs
    unknown = [name for name in names if name not in expected]
    if unknown:
        raise ClientUsageError(
            f"input {unknown[0]!r}: task {task.name!r} has no such input; "
            f"its inputs: {list(expected) or 'none'}"
        )
    missing = [name for name, parameter in expected.items() if parameter.required and name not in names]
    if missing:
        raise ClientUsageError(
            f"input {missing[0]!r} is required by task {task.name!r} and was not given "
            f"(-i {missing[0]}=VALUE)"
        )


def inputs_from_values(task: kubetask.Task[..., Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Python values by input name -> JSON values."""
    _check_names(task, list(values))
    return dict(values)


def inputs_from_assignments(task: kubetask.Task[..., Any], assignments: Sequence[str]) -> dict[str, Any]:
    """``["name=value", ...]`` from the command line -> JSON values."""
    values: dict[str, Any] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals or not name:
            raise ClientUsageError(f"-i: expected NAME=VALUE, got {assignment!r}")
        values[name] = value
    return inputs_from_values(task, values)
