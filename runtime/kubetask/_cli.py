"""The ``kubetask`` command: ``run`` lives here; ``dev`` and the cluster commands live in the packages of
the extras that provide them, reached by module name so the runtime never depends on them."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from kubetask._errors import KubetaskError, UsageError
from kubetask._local import load_target, parse_input_assignments, parse_target, run_locally

USAGE = """usage: kubetask COMMAND [ARGS...]

commands:
  run TARGET [-i NAME=VALUE ...] [--inputs-file FILE]
                       run a task locally through kubetask-execute (TARGET: file.py:task or module:task)
  dev                  start a local cluster (needs kubetask[local])
  submit|get|logs|cancel|list|map
                       TaskRuns on a cluster (need kubetask[operator])

`kubetask COMMAND --help` describes a command."""

# command -> (module providing `main(argv) -> int`, the extra that installs it)
_DISPATCH = {
    "dev": ("kubetask_local._cli", "local"),
    "submit": ("kubetask_client._cli", "operator"),
    "get": ("kubetask_client._cli", "operator"),
    "logs": ("kubetask_client._cli", "operator"),
    "cancel": ("kubetask_client._cli", "operator"),
    "list": ("kubetask_client._cli", "operator"),
    "map": ("kubetask_client._cli", "operator"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``kubetask``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if arguments else 2
    command = arguments[0]
    if command == "run":
        return run_command(arguments[1:])
    if command in _DISPATCH:
        module_name, extra = _DISPATCH[command]
        return dispatch(arguments, module_name=module_name, extra=extra)
    print(f"kubetask: error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


def dispatch(arguments: list[str], *, module_name: str, extra: str) -> int:
    """Hand *arguments* (starting with the command) to ``module_name.main``; a missing extra is named."""
    command = arguments[0]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        print(
            f"kubetask {command}: needs the {extra!r} extra: pip install 'kubetask[{extra}]' "
            f"({type(error).__name__}: {error})",
            file=sys.stderr,
        )
        return 2
    entry = getattr(module, "main", None)
    if not callable(entry):
        print(f"kubetask {command}: {module_name} has no main(argv) function", file=sys.stderr)
        return 2
    return int(entry(arguments))


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubetask run",
        description="Run a task locally through exactly the command a pod runs (a kubetask-execute "
        "subprocess), with documents under .kubetask/runs/<run-id>/. Prints the outputs as JSON.",
    )
    parser.add_argument("target", metavar="TARGET", help="path/to/file.py:task or package.module:task")
    parser.add_argument(
        "-i",
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input, parsed by the parameter's type (lists, dicts, dataclasses as JSON); repeatable",
    )
    parser.add_argument(
        "--inputs-file", metavar="FILE", help="a JSON object of inputs (-i values override it)"
    )
    parser.add_argument(
        "--store", default=".kubetask/runs", help="where run directories go (default: %(default)s)"
    )
    return parser


def run_command(argv: list[str]) -> int:
    """``kubetask run``: exit status of the run (0, or kubetask-execute's non-zero status)."""
    arguments = _run_parser().parse_args(argv)
    try:
        target = parse_target(arguments.target)
        task = load_target(target)
        inputs = _inputs_file(arguments.inputs_file)
        inputs.update(parse_input_assignments(arguments.inputs, task.interface))
        run = run_locally(task, inputs, import_root=target.import_root, store=arguments.store)
    except KubetaskError as error:
        print(f"kubetask run: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    if run.exit_code == 0 and run.outputs is not None:
        print(json.dumps(run.outputs, indent=2, ensure_ascii=False))
        return 0
    if run.error is not None:
        recoverable = "recoverable" if run.error.get("recoverable") else "not recoverable"
        print(
            f"kubetask run: failed ({run.error.get('kind')} error, {recoverable}, exit {run.exit_code}): "
            f"{run.error.get('type')}: {run.error.get('message')}\n"
            f"kubetask run: error document: {run.directory}/error.json",
            file=sys.stderr,
        )
    elif run.exit_code < 0:  # killed by a signal it could not handle (SIGKILL: out of memory, kill -9)
        number = -run.exit_code
        print(
            f"kubetask run: kubetask-execute was killed by signal {number} ({_signal_name(number)}) "
            f"before it could record an outcome; see {run.directory}",
            file=sys.stderr,
        )
        return 128 + number  # what a shell (and Kubernetes) reports for a killed process
    else:
        print(f"kubetask run: failed with exit status {run.exit_code}; see {run.directory}", file=sys.stderr)
    return run.exit_code or 1


def _signal_name(number: int) -> str:
    import signal  # only when a run was killed

    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def _inputs_file(path: str | None) -> dict[str, object]:
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except OSError as error:
        raise UsageError(f"--inputs-file {path!r}: {error.strerror or error}") from None
    except ValueError as error:
        raise UsageError(f"--inputs-file {path!r}: not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise UsageError(
            f"--inputs-file {path!r}: expected a JSON object of inputs, got {type(document).__name__}"
        )
    return document
