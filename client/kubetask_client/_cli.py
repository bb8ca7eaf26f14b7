"""The ``kubetask`` command. ``run`` needs nothing beyond the runtime; the cluster commands (submit, wait,
logs, ...) load their HTTP layer only when used, and name the extra that installs it when it is missing;
commands other packages provide (``kubetask dev``) are found through the ``kubetask.commands`` entry point
group, so this package names none of them.

Every command exits with a code from one table (EXIT_CODE_TABLE, printed by ``kubetask --help``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from kubetask_client._errors import (
    EXIT_INTERRUPTED,
    EXIT_SYSTEM,
    EXIT_USAGE,
    ClientUsageError,
    KubetaskClientError,
)
from kubetask_client._usage import CommandParser, exit_code_help

#: Commands of this package that talk to a cluster, and what each does (for the usage text).
CLUSTER_COMMANDS = {
    "submit": "create a TaskRun for a task (--wait: follow it live to the end)",
    "wait": "follow a TaskRun live to its end: logs, transitions, outputs",
    "get": "show a TaskRun: phase, attempts, outputs or error",
    "describe": "a TaskRun in detail: status, attempts, events and why it waits",
    "list": "list TaskRuns (--phase, --watch)",
    "logs": "print or follow (-f) the log of a TaskRun's attempts",
    "cancel": "cancel TaskRuns",
    "delete": "delete TaskRuns (by name or -l SELECTOR)",
    "rerun": "a new TaskRun from an existing one's spec (-i to change inputs)",
    "map": "run a task over many inputs: a TaskMap, one TaskRun per item (--inputs-file, --parallelism)",
}
#: The extra installing what the cluster commands import.
CLIENT_EXTRA = "client"
_CLIENT_MODULES = frozenset({"yaml"})
ENTRY_POINT_GROUP = "kubetask.commands"


def usage(plugins: Sequence[str]) -> str:
    lines = [
        "usage: kubetask COMMAND [ARGS...]",
        "",
        "commands:",
        "  run TARGET [-i NAME=VALUE ...]   run a task locally (TARGET: file.py:task or module:task)",
        *(f"  {name:<31}  {text}" for name, text in CLUSTER_COMMANDS.items()),
        *(f"  {name:<31}  (provided by an installed package)" for name in plugins),
        "",
        "`kubetask COMMAND --help` describes a command; cluster commands find the cluster as kubectl does",
        "(--kubeconfig, $KUBECONFIG, ~/.kube/config, --context, -n).",
        "",
        exit_code_help(),
    ]
    return "\n".join(lines)


def _plugin_commands() -> dict[str, object]:
    from importlib.metadata import entry_points  # only for commands not built in

    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def _run_plugin(point: object, arguments: list[str], *, err: TextIO) -> int:
    from importlib.metadata import EntryPoint

    assert isinstance(point, EntryPoint)
    command = arguments[0]
    try:
        entry = point.load()
    except ImportError as error:
        extras = ", ".join(point.extras) or CLIENT_EXTRA
        err.write(
            f"kubetask {command}: needs the {extras!r} extra: pip install 'kubetask[{extras}]' "
            f"({type(error).__name__}: {error})\n"
        )
        return EXIT_USAGE
    if not callable(entry):
        err.write(f"kubetask {command}: {point.value} is not a main(argv) function\n")
        return EXIT_USAGE
    return int(entry(arguments))


def _cluster_handler() -> Callable[..., int]:
    """The cluster commands' entry; ImportError names the extra when its HTTP layer is missing."""
    try:
        from kubetask_client._commands import run_cluster_command
    except ImportError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in _CLIENT_MODULES:
            raise
        raise ClientUsageError(
            f"needs the {CLIENT_EXTRA!r} extra: pip install 'kubetask[{CLIENT_EXTRA}]' "
            f"(No module named {error.name!r})"
        ) from None
    return run_cluster_command


def _dispatch(arguments: list[str], *, out: TextIO, err: TextIO) -> int:
    command = arguments[0]
    if command == "run":
        from kubetask_client._run_command import run_command, run_parser

        with contextlib.redirect_stdout(out):  # --help goes where the caller's output goes
            parsed = run_parser(CommandParser).parse_args(arguments[1:])
        return run_command(parsed, out=out, err=err)
    if command in CLUSTER_COMMANDS:
        return _cluster_handler()(arguments, out=out, err=err)
    plugins = _plugin_commands()
    if command in plugins:
        return _run_plugin(plugins[command], arguments, err=err)
    raise ClientUsageError(f"unknown command {command!r}\n{usage(sorted(plugins))}")


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Console script ``kubetask``: run one command (``argv`` starts with its name) and return its exit
    status from the table; errors are messages, never tracebacks."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in ("-h", "--help"):
        (out if arguments else err).write(usage(sorted(_plugin_commands())) + "\n")
        return 0 if arguments else EXIT_USAGE
    prefix = f"kubetask {arguments[0]}" if not arguments[0].startswith("-") else "kubetask"
    try:
        return _dispatch(arguments, out=out, err=err)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except KubetaskClientError as error:
        err.write(f"{prefix}: error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        err.write(
            f"{prefix}: interrupted; a TaskRun already created carries on in the cluster "
            "(`kubetask wait NAME` follows it again, `kubetask cancel NAME` stops it)\n"
        )
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `kubetask logs x | head`
        return 0
    except Exception as error:
        runtime = sys.modules.get("kubetask")  # not imported by commands that load no task
        if runtime is not None and isinstance(error, runtime.KubetaskError):  # the runtime's clear messages
            err.write(f"{prefix}: error: {error}\n")
            return EXIT_USAGE
        # the last line of defence: no bare tracebacks
        err.write(f"{prefix}: unexpected {type(error).__name__}: {error}\n")
        return EXIT_SYSTEM
