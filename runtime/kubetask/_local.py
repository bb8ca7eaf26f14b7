"""``kubetask run``: a task run on this machine through exactly the command a pod runs.

The task is loaded here only to learn its interface (so ``-i a=1`` is parsed by the parameter's type)
and its loader args; the run itself is a ``kubetask-execute`` subprocess with a local store under
``.kubetask/runs/<run-id>/`` (inputs.json, outputs.json or error.json, raw/, termination-log).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

from kubetask._errors import InputError, TaskLoadError, UsageError
from kubetask._interface import RETURNS_ANY, Interface, Parameter
from kubetask._modules import import_task_module, module_name_for_file
from kubetask._protocol import EXECUTE_PROGRAM, build_execute_command
from kubetask._resolver import default_task_resolver, tasks_in
from kubetask._settings import SerializationSettings
from kubetask._task import Task

DEFAULT_STORE = os.path.join(".kubetask", "runs")


@dataclass(frozen=True)
class Target:
    """Where a task lives: an import root to put on sys.path (for file targets), a module and a name."""

    import_root: str | None
    module: str
    name: str


def parse_target(text: str) -> Target:
    """``path/to/file.py:task`` or ``package.module:task``."""
    location, separator, name = text.rpartition(":")
    if not separator or not location or not name.isidentifier():
        raise UsageError(f"TARGET: expected 'path/to/file.py:task' or 'package.module:task', got {text!r}")
    if location.endswith(".py") or os.sep in location or "/" in location:
        if not os.path.isfile(location):
            raise UsageError(f"TARGET: no such file {location!r} (in {os.getcwd()!r})")
        root, module = module_name_for_file(location)
        return Target(root, module, name)
    if not all(part.isidentifier() for part in location.split(".")):
        raise UsageError(f"TARGET: {location!r} is neither a .py file nor a dotted module name")
    return Target(None, location, name)


def load_target(target: Target) -> Task[..., object]:
    """Import the target's module (its import root first on sys.path) and return the task."""
    if target.import_root is not None and target.import_root not in sys.path:
        sys.path.insert(0, target.import_root)
    module = import_task_module(target.module)
    found = vars(module).get(target.name)
    if found is None:
        tasks = ", ".join(sorted(tasks_in(module))) or "none"
        raise TaskLoadError(f"module {target.module!r} has no attribute {target.name!r}; its tasks: {tasks}")
    if not isinstance(found, Task):
        raise TaskLoadError(
            f"{target.module}.{target.name} is {type(found).__name__}, not a kubetask task: "
            "decorate it with @kubetask.task"
        )
    return found


def parse_input_assignments(assignments: list[str], interface: Interface) -> dict[str, object]:
    """``["a=1", "name=world"]`` -> JSON values for a local run, each parsed and checked by its input's
    type (local files kept as absolute paths: the run is on this machine)."""
    values = interface.parse_assignments(assignments)
    try:
        return interface.encode_inputs(values, local_paths=True, complete=False) if values else {}
    except InputError as error:
        raise UsageError(str(error)) from None


def parse_cli_value(text: str, hint: object, *, name: str) -> object:
    """The JSON value for *text* given on the command line for an input of type *hint*."""
    interface = Interface({name: Parameter(name, hint)}, {}, RETURNS_ANY)
    return parse_input_assignments([f"{name}={text}"], interface)[name]


@dataclass(frozen=True)
class LocalRun:
    """The outcome of one local run."""

    run_id: str
    directory: str
    exit_code: int
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None


def run_locally(
    task: Task[..., object],
    inputs: dict[str, object],
    *,
    import_root: str | None,
    store: str = DEFAULT_STORE,
) -> LocalRun:
    """Run *task* through a ``kubetask-execute`` subprocess, with documents under ``<store>/<run-id>/``."""
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    directory = os.path.abspath(os.path.join(store, run_id))
    inputs_path = os.path.join(directory, "inputs.json")
    try:
        os.makedirs(directory)
        with open(inputs_path, "w", encoding="utf-8") as stream:
            json.dump(inputs, stream, indent=2)
    except OSError as error:
        raise UsageError(
            f"--store {store!r}: cannot create the run directory {directory!r}: {error.strerror or error}"
        ) from None
    resolver = task.resolver or default_task_resolver
    command = build_execute_command(
        inputs=inputs_path,
        output_prefix=directory,
        raw_output_data_prefix=os.path.join(directory, "raw"),
        resolver=resolver.location,
        loader_args=resolver.loader_args(SerializationSettings(), task),
    )
    environment = dict(os.environ)
    python_path = [import_root or os.getcwd(), environment.get("PYTHONPATH", "")]
    environment["PYTHONPATH"] = os.pathsep.join(part for part in python_path if part)
    environment["KUBETASK_TERMINATION_MESSAGE_PATH"] = os.path.join(directory, "termination-log")
    environment["KUBETASK_RUN_NAME"] = run_id
    environment["KUBETASK_ATTEMPT"] = "1"
    # The task's stdout goes to our stderr: our stdout carries only the outputs JSON.
    process = subprocess.Popen([*execute_program(), *command[1:]], env=environment, stdout=2)
    exit_code = wait_passing_on_signals(process)
    return LocalRun(
        run_id=run_id,
        directory=directory,
        exit_code=exit_code,
        outputs=_read_json(os.path.join(directory, "outputs.json")),
        error=_read_json(os.path.join(directory, "error.json")),
    )


def wait_passing_on_signals(process: subprocess.Popen[bytes]) -> int:
    """Wait for *process*, handing SIGINT and SIGTERM on to it rather than dying of them: it records
    the stop (error.json, exit 143) as it would in a pod, and the caller reports that outcome. Ctrl-C
    reaches both processes; the runtime acts on the first signal only, so the duplicate is harmless."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread has handlers
        return process.wait()

    def pass_on(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signal API
        process.send_signal(signum)  # does nothing once the process has been waited for

    previous = {signum: signal.signal(signum, pass_on) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def execute_program() -> list[str]:
    """``kubetask-execute`` beside this interpreter (an unactivated venv), on PATH, or ``python -m``."""
    found = shutil.which(EXECUTE_PROGRAM, path=os.path.dirname(sys.executable)) or shutil.which(
        EXECUTE_PROGRAM
    )
    return [found] if found else [sys.executable, "-m", "kubetask._execute"]


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except FileNotFoundError:
        return None
    return document if isinstance(document, dict) else None
