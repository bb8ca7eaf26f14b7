"""``kubetask run``: a task run on this machine through exactly the command a pod runs, using only the
runtime's public face. Needs no extra: nothing here imports the HTTP layer."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

import kubetask
from kubetask_client._errors import EXIT_TASK_FAILED, EXIT_USAGE, ClientUsageError
from kubetask_client._inputs_file import read_inputs_file, task_inputs
from kubetask_client._usage import add_input_options


def run_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="kubetask run",
        description="Run a task locally through exactly the command a pod runs (a kubetask-execute "
        "subprocess), with documents under .kubetask/runs/<run-id>/. Prints the outputs as JSON; the task's "
        "own output goes to stderr.",
    )
    parser.add_argument("target", metavar="TARGET", help="path/to/file.py:task or package.module:task")
    add_input_options(
        parser,
        input_help="an input, parsed by the parameter's type (lists, dicts, dataclasses as JSON); repeatable",
    )
    parser.add_argument(
        "--store", default=".kubetask/runs", help="where run directories go (default: %(default)s)"
    )
    return parser


def run_command(arguments: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    """The exit status of the run: 0, the table's code for a usage error, or kubetask-execute's own."""
    try:
        target = kubetask.parse_target(arguments.target)
        task = kubetask.load_target(target)
    except kubetask.KubetaskError as error:  # a TARGET that names no task is the command's mistake
        message = str(error)
        raise ClientUsageError(
            message if message.startswith("TARGET") else f"TARGET {arguments.target!r}: {message}"
        ) from None
    document = read_inputs_file(arguments.inputs_file) if arguments.inputs_file else None
    inputs = task_inputs(task, document=document, assignments=arguments.inputs, local_paths=True)
    try:
        run = kubetask.run_locally(task, inputs, import_root=target.import_root, store=arguments.store)
    except kubetask.UsageError as error:
        raise ClientUsageError(str(error)) from None
    if run.exit_code == 0 and run.outputs is not None:
        out.write(json.dumps(run.outputs, indent=2, ensure_ascii=False) + "\n")
        return 0
    if run.error is not None:
        recoverable = "recoverable" if run.error.get("recoverable") else "not recoverable"
        err.write(
            f"kubetask run: failed ({run.error.get('kind')} error, {recoverable}, exit {run.exit_code}): "
            f"{run.error.get('type')}: {run.error.get('message')}\n"
            f"kubetask run: error document: {run.directory}/error.json\n"
        )
    elif run.exit_code < 0:  # killed by a signal it could not handle (SIGKILL: out of memory, kill -9)
        number = -run.exit_code
        err.write(
            f"kubetask run: kubetask-execute was killed by signal {number} ({_signal_name(number)}) "
            f"before it could record an outcome; see {run.directory}\n"
        )
        return 128 + number  # what a shell (and Kubernetes) reports for a killed process
    else:
        err.write(f"kubetask run: failed with exit status {run.exit_code}; see {run.directory}\n")
    if run.exit_code == 0:  # exit 0 without outputs: the runtime contract was broken
        return EXIT_TASK_FAILED
    return EXIT_USAGE if run.exit_code == EXIT_USAGE else run.exit_code


def _signal_name(number: int) -> str:
    import signal  # only when a run was killed

    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"
