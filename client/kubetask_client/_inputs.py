"""Inputs for a TaskRun, as the JSON values its ``spec.inputs`` holds, converted by the runtime itself.

``-i NAME=VALUE`` is parsed by the parameter's type with exactly the function ``kubetask run`` uses, and
Python values go through the runtime's own JSON conversion and are read back the way the pod will read them,
so a value means the same thing locally and on the cluster and a bad one is refused here, before any TaskRun
exists. (The runtime keeps these in private modules; this is the one place the client touches them.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import kubetask
from kubetask._convert import FileTransfer, input_value, output_value
from kubetask._local import parse_input_assignments
from kubetask_client._errors import ClientUsageError


def _check_required(task: kubetask.Task[..., Any], given: Sequence[str]) -> None:
    expected = task.interface.inputs
    unknown = [name for name in given if name not in expected]
    if unknown:
        raise ClientUsageError(
            f"input {unknown[0]!r}: task {task.name!r} has no such input; "
            f"its inputs: {list(expected) or 'none'}"
        )
    missing = [name for name, parameter in expected.items() if parameter.required and name not in given]
    if missing:
        raise ClientUsageError(
            f"input {missing[0]!r} is required by task {task.name!r} and was not given "
            f"(-i {missing[0]}=VALUE)"
        )


def inputs_from_values(task: kubetask.Task[..., Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Python values by input name -> JSON values, checked against the task's types."""
    _check_required(task, list(values))
    parameters = task.interface.inputs
    transfer = FileTransfer()
    converted: dict[str, Any] = {}
    for name, value in values.items():
        hint = parameters[name].hint
        try:
            converted[name] = output_value(value, hint, name=name, transfer=transfer)
        except kubetask.OutputError as error:  # the runtime words it for outputs; this is an input
            raise ClientUsageError(str(error).replace("output '", "input '", 1)) from None
        try:
            input_value(converted[name], hint, name=name, transfer=transfer)
        except kubetask.InputError as error:
            raise ClientUsageError(str(error)) from None
    return converted


def inputs_from_assignments(task: kubetask.Task[..., Any], assignments: Sequence[str]) -> dict[str, Any]:
    """``["name=value", ...]`` from the command line -> JSON values, each parsed by its parameter's type."""
    try:
        values = parse_input_assignments(list(assignments), task.interface)
    except kubetask.UsageError as error:
        raise ClientUsageError(str(error)) from None
    _check_required(task, list(values))
    return values


def inputs_from_json(task: kubetask.Task[..., Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON values by input name (``--inputs-file``), checked as the pod will read them."""
    _check_required(task, list(values))
    transfer = FileTransfer()
    for name, value in values.items():
        try:
            input_value(value, task.interface.inputs[name].hint, name=name, transfer=transfer)
        except kubetask.InputError as error:
            raise ClientUsageError(f"--inputs-file: {error}") from None
    return dict(values)


def check_inputs(task: kubetask.Task[..., Any], given: Sequence[str]) -> None:
    """Unknown or missing inputs among ``given`` names: ClientUsageError (``kubetask run`` checks with it)."""
    _check_required(task, given)
