"""``kubetask submit|get|logs|cancel|list``: the user's side of the cluster, dispatched here by the runtime's
``kubetask`` command as ``main(["submit", ...])``.

Like kubectl: the kubeconfig from --kubeconfig, $KUBECONFIG or ~/.kube/config, its current context unless
--context, its namespace unless -n. Exit status: 0 success, 1 the TaskRun failed or was cancelled,
2 a usage error (bad arguments, unknown TaskRun, no kubeconfig), 3 the API failed or a wait timed out.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn, TextIO

import yaml

import kubetask
from kubetask_client._api import TaskRunApi
from kubetask_client._display import ProgressDisplay, describe, format_json, taskrun_rows
from kubetask_client._errors import (
    EXIT_SYSTEM,
    EXIT_TASK_FAILED,
    EXIT_USAGE,
    ClientUsageError,
    KubetaskClientError,
)
from kubetask_client._inputs import inputs_from_assignments
from kubetask_client._kube import connect
from kubetask_client._map_command import add_map_parser, run_map
from kubetask_client._outputs import read_outputs_document
from kubetask_client._submit import create_taskrun
from kubetask_client._target import load_target
from kubetask_client._taskrun import (
    FINAL_PHASES,
    SubmitOptions,
    failure_message,
    is_finished,
    outputs_of,
    phase_of,
    pod_for_attempt,
    status_of,
    validate_name,
    validate_namespace,
)

COMMANDS = ("submit", "get", "logs", "cancel", "list", "map")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() returns the usage exit status."""

    def error(self, message: str) -> NoReturn:
        raise ClientUsageError(message)


def _connection_options(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    group = parser.add_argument_group("cluster (as kubectl)")
    group.add_argument("-n", "--namespace", help="namespace (default: the context's, else 'default')")
    if all_namespaces:
        group.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    group.add_argument("--context", help="kubeconfig context (default: the current context)")
    group.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")


def _assignment(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kubetask", description="Run and follow kubetask TaskRuns on a Kubernetes cluster.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    submit = commands.add_parser(
        "submit",
        help="create a TaskRun for a task",
        description="Create a TaskRun for TARGET, a task in 'path/to/module.py:name' or "
        "'package.module:name' form; the module is loaded here to read the task's interface and must be "
        "importable by the same name in IMAGE.",
    )
    submit.add_argument(
        "target", metavar="TARGET", help="the task: path/to/module.py:name or package.module:name"
    )
    submit.add_argument(
        "-i",
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input, parsed by the parameter's type as `kubetask run` does (repeat for each input)",
    )
    submit.add_argument("--image", required=True, help="container image holding the task's code and kubetask")
    submit.add_argument("--name", help="TaskRun name (default: <task>-<5 random characters>)")
    submit.add_argument("--retries", type=int, help="retries after recoverable user failures (default 0)")
    submit.add_argument("--timeout", help="longest one attempt may run, e.g. 30s, 5m, 1h30m")
    submit.add_argument("--pending-timeout", help="longest an attempt may wait to start")
    submit.add_argument(
        "--output-prefix", help="URI for the outputs (default: the operator's storage prefix)"
    )
    submit.add_argument("--service-account", help="ServiceAccount of the task's pod")
    submit.add_argument(
        "--env",
        action="append",
        type=_assignment,
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable of the task's pod (repeatable)",
    )
    submit.add_argument(
        "--label",
        action="append",
        type=_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="a label on the TaskRun (repeatable)",
    )
    submit.add_argument(
        "--image-pull-secret",
        action="append",
        default=[],
        metavar="SECRET",
        help="a Secret for pulling IMAGE from a private registry (repeatable)",
    )
    submit.add_argument(
        "--ttl",
        type=int,
        dest="ttl_seconds",
        metavar="SECONDS",
        help="delete the TaskRun this long after it finishes",
    )
    submit.add_argument(
        "--wait", action="store_true", help="follow it to the end, then print outputs or error"
    )
    submit.add_argument(
        "--wait-timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="with --wait: give up waiting after this long (the TaskRun carries on)",
    )
    submit.add_argument(
        "--delete-after", action="store_true", help="with --wait: delete the TaskRun at the end"
    )
    _connection_options(submit)

    add_map_parser(commands)
    get = commands.add_parser("get", help="show a TaskRun: phase, attempts, outputs or error")
    get.add_argument("name", metavar="NAME")
    get.add_argument(
        "-o",
        "--output",
        choices=["text", "json", "yaml", "outputs"],
        default="text",
        help="text (default), the whole object as json or yaml, or only the outputs as JSON",
    )
    _connection_options(get)

    logs = commands.add_parser("logs", help="print the log of a TaskRun's pod")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("--attempt", type=int, help="attempt number, from 1 (default: the current attempt)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing until the attempt ends")
    logs.add_argument("--tail", type=int, metavar="LINES", help="only the last LINES lines")
    _connection_options(logs)

    cancel = commands.add_parser("cancel", help="cancel a TaskRun (its pod stops; its logs stay readable)")
    cancel.add_argument("name", metavar="NAME")
    cancel.add_argument("--wait", action="store_true", help="wait until it is Cancelled")
    cancel.add_argument("--wait-timeout", type=_positive_seconds, metavar="SECONDS", default=120.0)
    _connection_options(cancel)

    listing = commands.add_parser("list", help="list TaskRuns")
    listing.add_argument("-l", "--selector", help="label selector, e.g. team=data")
    _connection_options(listing, all_namespaces=True)
    return parser


def _api_and_namespace(args: argparse.Namespace) -> tuple[TaskRunApi, str]:
    connection = connect(kubeconfig=args.kubeconfig, context=args.context)
    namespace = validate_namespace(args.namespace or connection.namespace)
    return TaskRunApi(connection), namespace


def _report_end(taskrun: dict[str, Any], *, out: TextIO, err: TextIO) -> int:
    """Outputs (JSON) on stdout when it succeeded; the reason and the task's error on stderr when not."""
    name = taskrun["metadata"]["name"]
    if phase_of(taskrun) == "Succeeded":
        outputs = outputs_of(taskrun)
        if outputs is None:
            uri = status_of(taskrun).get("outputsUri")
            if not uri:
                raise KubetaskClientError(f"taskrun {name!r} succeeded without outputs or an outputsUri")
            err.write(f"outputs did not fit in the status; reading them from {uri}\n")
            outputs = read_outputs_document(str(uri), taskrun=name)
        out.write(format_json(outputs) + "\n")
        return 0
    err.write(f"kubetask: {failure_message(taskrun)}\n")
    err.write(f"  logs: kubetask logs {name} -n {taskrun['metadata']['namespace']}\n")
    return EXIT_TASK_FAILED


def _submit(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    options = SubmitOptions(
        image=args.image,
        retries=args.retries,
        timeout=args.timeout,
        pending_timeout=args.pending_timeout,
        output_prefix=args.output_prefix,
        service_account=args.service_account,
        env=dict(args.env),
        labels=dict(args.label),
        ttl_seconds_after_finished=args.ttl_seconds,
        image_pull_secrets=tuple(args.image_pull_secret),
    )
    if args.name is not None:
        validate_name(args.name, what="--name")
    if (args.wait_timeout is not None or args.delete_after) and not args.wait:
        raise ClientUsageError("--wait-timeout and --delete-after only make sense with --wait")
    task = load_target(args.target)
    json_inputs = inputs_from_assignments(task, args.inputs)
    api, namespace = _api_and_namespace(args)
    handle = create_taskrun(api, task, json_inputs, options=options, namespace=namespace, name=args.name)
    err.write(f"taskrun.kubetask.dev/{handle.name} created in namespace {namespace}\n")
    if not args.wait:
        out.write(handle.name + "\n")
        return 0
    try:
        handle.wait(args.wait_timeout, on_update=ProgressDisplay(err))
        return _report_end(handle.taskrun, out=out, err=err)
    finally:
        if args.delete_after:
            handle.delete()
            err.write(f"taskrun.kubetask.dev/{handle.name} deleted (--delete-after)\n")


def _get(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    api, namespace = _api_and_namespace(args)
    taskrun = api.get(validate_name(args.name, what="NAME"), namespace)
    if args.output == "json":
        out.write(format_json(taskrun) + "\n")
    elif args.output == "yaml":
        out.write(yaml.safe_dump(taskrun, sort_keys=False))
    elif args.output == "outputs":
        if phase_of(taskrun) not in FINAL_PHASES:
            raise ClientUsageError(
                f"taskrun {args.name!r} is {phase_of(taskrun)}: it has no outputs yet "
                f"(`kubetask get {args.name}` shows its progress)"
            )
        return _report_end(taskrun, out=out, err=err)
    else:
        out.write(describe(taskrun, now=datetime.now(UTC)) + "\n")
    return 0


def _logs(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    if args.attempt is not None and args.attempt < 1:
        raise ClientUsageError(f"--attempt: expected a number from 1, got {args.attempt!r}")
    api, namespace = _api_and_namespace(args)
    taskrun = api.get(validate_name(args.name, what="NAME"), namespace)
    pod = pod_for_attempt(taskrun, args.attempt)
    if args.follow:
        for line in api.follow_pod_log(pod, namespace):
            out.write(line + "\n")
            out.flush()
        return 0
    text = api.pod_log(pod, namespace, tail_lines=args.tail)
    if not text:
        err.write(f"(the log of pod {pod} is empty)\n")
    out.write(text)
    return 0


def _cancel(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    api, namespace = _api_and_namespace(args)
    name = validate_name(args.name, what="NAME")
    taskrun = api.cancel(name, namespace)
    if is_finished(taskrun):
        err.write(f"taskrun.kubetask.dev/{name} already ended ({phase_of(taskrun)}): nothing to cancel\n")
        out.write(f"{name}: {phase_of(taskrun)}\n")
        return 0
    err.write(f"taskrun.kubetask.dev/{name} cancel requested (phase {phase_of(taskrun)})\n")
    if args.wait:
        taskrun = api.wait(name, namespace, timeout=args.wait_timeout, on_update=ProgressDisplay(err))
        out.write(f"{name}: {phase_of(taskrun)}\n")
    return 0


def _list(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    connection = connect(kubeconfig=args.kubeconfig, context=args.context)
    if args.all_namespaces and args.namespace:
        raise ClientUsageError("-A/--all-namespaces and -n/--namespace exclude each other")
    namespace = None if args.all_namespaces else validate_namespace(args.namespace or connection.namespace)
    taskruns = TaskRunApi(connection).list(namespace, label_selector=args.selector)
    if not taskruns:
        where = "any namespace" if namespace is None else f"namespace {namespace!r}"
        err.write(f"no taskruns in {where}\n")
        return 0
    out.write(taskrun_rows(taskruns, now=datetime.now(UTC), with_namespace=namespace is None) + "\n")
    return 0


_HANDLERS = {"submit": _submit, "get": _get, "logs": _logs, "cancel": _cancel, "list": _list, "map": run_map}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command (``argv`` starts with its name); returns the exit status, never raises for errors."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    arguments = list(sys.argv[1:] if argv is None else argv)
    prefix = f"kubetask {arguments[0]}" if arguments and arguments[0] in COMMANDS else "kubetask"
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out):  # --help goes where the caller's output goes
            args = parser.parse_args(arguments)
        return _HANDLERS[args.command](args, out=out, err=err)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except KubetaskClientError as error:
        err.write(f"{prefix}: {error}\n")
        return error.exit_code
    except kubetask.KubetaskError as error:  # the runtime's own clear messages
        err.write(f"{prefix}: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write(f"{prefix}: interrupted; a TaskRun already created carries on in the cluster\n")
        return 130
    except Exception as error:  # the last line of defence: no bare tracebacks
        err.write(f"{prefix}: unexpected {type(error).__name__}: {error}\n")
        return EXIT_SYSTEM
