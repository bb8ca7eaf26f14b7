"""``kubetask submit|wait|get|describe|list|logs|cancel|delete|rerun``: the user's side of the cluster.

Like kubectl: the kubeconfig from --kubeconfig, $KUBECONFIG or ~/.kube/config, its current context unless
--context, its namespace unless -n. Exit codes: the one table in ``_errors.EXIT_CODE_TABLE``.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import yaml

from kubetask_client._api import PodNotStartedError, TaskRunApi, oldest_first
from kubetask_client._display import (
    ProgressDisplay,
    describe,
    describe_details,
    format_json,
    inputs_help,
    taskrun_rows,
)
from kubetask_client._errors import (
    EXIT_SYSTEM,
    EXIT_USAGE,
    ApiError,
    ClientUsageError,
    TaskRunNotFoundError,
)
from kubetask_client._follow import (
    FollowOptions,
    RunFollower,
    follow_to_end,
    no_archive_message,
    no_log_message,
    read_archived_log,
    report_end,
)
from kubetask_client._inputs_file import read_inputs_file, task_inputs
from kubetask_client._kube import connect
from kubetask_client._outcome import attempt_never_started
from kubetask_client._taskrun import (
    API_VERSION,
    FINAL_PHASES,
    KIND,
    PHASES,
    attempts_of,
    generated_name,
    is_finished,
    phase_of,
    status_of,
    validate_name,
    validate_namespace,
)
from kubetask_client._usage import CommandParser, add_input_options, exit_code_help

#: SubmitOptions names its fields in its errors; the command line names the flags that set them.
_FLAG_OF_OPTION = {
    "cache": "--cache",
    "cache_version": "--cache-version",
    "cache_refresh": "--no-cache",
    "resources": "--cpu/--memory/--gpu/--ephemeral-storage/--resource",
    "secrets": "--secret",
    "node_selector": "--node-selector",
    "tolerations": "--toleration",
    "pod_template": "--pod-template",
    "image": "--image",
    "retries": "--retries",
    "timeout": "--timeout",
    "pending_timeout": "--pending-timeout",
    "output_prefix": "--output-prefix",
    "service_account": "--service-account",
    "env": "--env",
    "labels": "--label",
    "ttl_seconds_after_finished": "--ttl",
    "image_pull_secrets": "--image-pull-secret",
    "ship_code": "--no-code",
    "queue": "--queue",
}
_RERUN_OF_LABEL = "kubetask.dev/rerun-of"


# ---------------------------------------------------------------- argument types


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


def _integer_from(minimum: int, expected: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_count = _integer_from(0, "an integer >= 0")
_attempt_number = _integer_from(1, "an attempt number from 1")


def _phases(text: str) -> list[str]:
    phases = [part.strip() for part in text.split(",") if part.strip()]
    by_lower = {phase.lower(): phase for phase in PHASES}
    unknown = [phase for phase in phases if phase.lower() not in by_lower]
    if unknown or not phases:
        raise argparse.ArgumentTypeError(f"expected phases among {', '.join(PHASES)}, got {text!r}")
    return [by_lower[phase.lower()] for phase in phases]


# ---------------------------------------------------------------- parsers


def _connection_options(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    group = parser.add_argument_group("cluster (as kubectl)")
    group.add_argument("-n", "--namespace", help="namespace (default: the context's, else 'default')")
    if all_namespaces:
        group.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    group.add_argument("--context", help="kubeconfig context (default: the current context)")
    group.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")


def _follow_options(parser: argparse.ArgumentParser, *, flag: str) -> None:
    parser.add_argument(
        "--wait-timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help=f"{flag}give up waiting after this long (exit 6; the TaskRun carries on)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help=f"{flag}print only the outputs (no task log, no progress lines)",
    )
    parser.add_argument(
        "--no-logs", action="store_true", help=f"{flag}progress lines only, not the task's log"
    )


def _submit_parser(commands: Any, *, epilog: str | None = None, add_help: bool = True) -> None:
    submit = commands.add_parser(
        "submit",
        help="create a TaskRun for a task",
        description="Create a TaskRun for TARGET, a task in 'path/to/module.py:name' or "
        "'package.module:name' form; the module is loaded here to read the task's interface and must be "
        "importable by the same name in IMAGE. `kubetask submit TARGET --help` lists the task's inputs.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=add_help,
    )
    submit.add_argument(
        "target", metavar="TARGET", help="the task: path/to/module.py:name or package.module:name"
    )
    add_input_options(
        submit, input_help="an input, parsed by the parameter's type as `kubetask run` does (repeatable)"
    )
    submit.add_argument("--name", help="TaskRun name (default: <task>-<5 random characters>)")
    submit.add_argument("--pending-timeout", help="longest an attempt may wait to start")
    submit.add_argument(
        "--output-prefix", help="URI for the outputs (default: the operator's storage prefix)"
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
        type=_count,
        dest="ttl_seconds",
        metavar="SECONDS",
        help="delete the TaskRun this long after it finishes",
    )
    # --image, --retries, --timeout, --cpu, --memory, --gpu, --env, --secret, --node-selector, ...: each wins
    # over the task's @kubetask.task option; --no-code ships nothing (the image holds the code).
    from kubetask_client._code import add_code_flags
    from kubetask_client._option_flags import add_task_option_flags

    add_task_option_flags(submit)
    add_code_flags(submit)
    submit.add_argument(
        "--wait",
        action="store_true",
        help="follow it live to the end: the task's log on stdout, progress on stderr, then the outputs",
    )
    _follow_options(submit, flag="with --wait: ")
    submit.add_argument(
        "--delete-after", action="store_true", help="with --wait: delete the TaskRun at the end"
    )
    _connection_options(submit)


def _wait_parser(commands: Any) -> None:
    wait = commands.add_parser(
        "wait",
        help="follow a TaskRun live to its end",
        description="Follow a TaskRun to its end: its task's log on stdout as it is written (every attempt, "
        "a header line per attempt on stderr), its transitions on stderr, then its outputs as JSON on "
        "stdout; the exit code tells the outcome.",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wait.add_argument("name", metavar="NAME")
    _follow_options(wait, flag="")
    _connection_options(wait)


def _get_parser(commands: Any) -> None:
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


def _describe_parser(commands: Any) -> None:
    describe_ = commands.add_parser(
        "describe", help="a TaskRun in detail: status, attempts, events, why it waits"
    )
    describe_.add_argument("name", metavar="NAME")
    _connection_options(describe_)


def _logs_parser(commands: Any) -> None:
    logs = commands.add_parser(
        "logs",
        help="print the log of a TaskRun's attempts",
        description="Print a TaskRun's log: the current attempt's, or --attempt N's, or every attempt's. "
        "With -f, wait for the pod to start and follow every attempt to the end. A pod that is gone is "
        "read from its archived log (kept beside the attempt's outputs when storage is configured).",
    )
    logs.add_argument("name", metavar="NAME")
    which = logs.add_mutually_exclusive_group()
    which.add_argument("--attempt", type=_attempt_number, metavar="N", help="attempt number, from 1")
    which.add_argument("--all-attempts", action="store_true", help="every attempt, each after a header line")
    logs.add_argument("-f", "--follow", action="store_true", help="follow attempts as they run, to the end")
    logs.add_argument("--timestamps", action="store_true", help="prefix each line with its RFC 3339 time")
    logs.add_argument("--tail", type=_count, metavar="LINES", help="only the last LINES lines")
    _connection_options(logs)


def _cancel_parser(commands: Any) -> None:
    cancel = commands.add_parser("cancel", help="cancel TaskRuns (their pods stop; their logs stay readable)")
    cancel.add_argument("names", metavar="NAME", nargs="+")
    cancel.add_argument("--wait", action="store_true", help="wait until each is Cancelled")
    cancel.add_argument("--wait-timeout", type=_positive_seconds, metavar="SECONDS", default=120.0)
    _connection_options(cancel)


def _delete_parser(commands: Any) -> None:
    delete = commands.add_parser("delete", help="delete TaskRuns (by name, or every one matching -l)")
    delete.add_argument("names", metavar="NAME", nargs="*")
    delete.add_argument("-l", "--selector", help="delete every TaskRun with these labels, e.g. team=data")
    _connection_options(delete)


def _rerun_parser(commands: Any) -> None:
    rerun = commands.add_parser(
        "rerun",
        help="a new TaskRun from an existing one's spec",
        description="Create a new TaskRun with NAME's spec (task, image, options and inputs), changing the "
        "inputs given with -i/--inputs-file. The new one is labelled kubetask.dev/rerun-of=NAME.",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rerun.add_argument("name", metavar="NAME")
    add_input_options(
        rerun,
        input_help="an input replacing the original's: VALUE as JSON, else as a string (repeatable)",
    )
    rerun.add_argument("--new-name", metavar="NAME", help="name of the new TaskRun (default: generated)")
    rerun.add_argument("--wait", action="store_true", help="follow the new TaskRun live to the end")
    _follow_options(rerun, flag="with --wait: ")
    _connection_options(rerun)


def _list_parser(commands: Any) -> None:
    listing = commands.add_parser("list", help="list TaskRuns")
    listing.add_argument("-l", "--selector", help="label selector, e.g. team=data")
    listing.add_argument(
        "--phase",
        type=_phases,
        action="extend",
        metavar="PHASE[,PHASE]",
        help=f"only TaskRuns in these phases ({', '.join(PHASES)}); repeatable",
    )
    listing.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="after the list, print a line for each change (Ctrl-C stops)",
    )
    _connection_options(listing, all_namespaces=True)


def _map_parser(commands: Any) -> None:
    from kubetask_client._map_command import add_map_parser  # the runtime and the codec: only for `map`

    add_map_parser(commands)


def _map(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    from kubetask_client._map_command import run_map

    return run_map(args, out=out, err=err)


_PARSERS: dict[str, Callable[[Any], None]] = {
    "map": _map_parser,
    "wait": _wait_parser,
    "get": _get_parser,
    "describe": _describe_parser,
    "logs": _logs_parser,
    "cancel": _cancel_parser,
    "delete": _delete_parser,
    "rerun": _rerun_parser,
    "list": _list_parser,
}


def build_parser(
    *, submit_epilog: str | None = None, for_lookup: bool = False, only: str | None = None
) -> argparse.ArgumentParser:
    """The parser of every cluster command, or of ``only`` that one (each command runs in a process of its
    own: building the others' options is time the user waits for)."""

    def wanted(command: str) -> bool:
        return only is None or only == command

    parser = CommandParser(
        prog="kubetask",
        description="Run and follow kubetask TaskRuns on a Kubernetes cluster.",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    if wanted("submit") or for_lookup:
        _submit_parser(commands, epilog=submit_epilog or exit_code_help(), add_help=not for_lookup)
    if for_lookup:
        return parser

    for command, add in _PARSERS.items():
        if wanted(command):
            add(commands)
    return parser


# ---------------------------------------------------------------- shared


def _api_and_namespace(args: argparse.Namespace) -> tuple[TaskRunApi, str]:
    connection = connect(kubeconfig=args.kubeconfig, context=args.context)
    namespace = validate_namespace(args.namespace or connection.namespace)
    return TaskRunApi(connection), namespace


def _check_follow_flags(args: argparse.Namespace) -> None:
    if not args.wait and (args.wait_timeout is not None or args.quiet or args.no_logs):
        raise ClientUsageError("--wait-timeout, --quiet and --no-logs only make sense with --wait")


def _options_error(error: ClientUsageError) -> ClientUsageError:
    """SubmitOptions' message with the flag named instead of the Python field."""
    message = str(error)
    field, colon, rest = message.partition(":")
    flag = _FLAG_OF_OPTION.get(field)
    return ClientUsageError(f"{flag}:{rest}") if colon and flag else error


# ---------------------------------------------------------------- submit, rerun, wait


def _submit(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    # The task's module and the runtime's conversions: only submit needs them (the other commands stay fast).
    from kubetask_client._option_flags import task_options_from
    from kubetask_client._submit import create_taskrun, input_upload, submit_options
    from kubetask_client._target import load_target

    if args.name is not None:
        validate_name(args.name, what="--name")
    _check_follow_flags(args)
    if args.delete_after and not args.wait:
        raise ClientUsageError("--delete-after only makes sense with --wait")
    task = load_target(args.target)  # before the options: the task's decorator gives their defaults
    try:
        options = submit_options(
            task,
            **task_options_from(args),
            pending_timeout=args.pending_timeout,
            output_prefix=args.output_prefix,
            labels=dict(args.label),
            ttl_seconds_after_finished=args.ttl_seconds,
            image_pull_secrets=tuple(args.image_pull_secret),
            ship_code=args.ship_code,
        )
    except ClientUsageError as error:
        raise _options_error(error) from None
    document = read_inputs_file(args.inputs_file) if args.inputs_file else None
    json_inputs = task_inputs(task, document=document, assignments=args.inputs, upload=input_upload(options))
    api, namespace = _api_and_namespace(args)
    handle = create_taskrun(api, task, json_inputs, options=options, namespace=namespace, name=args.name)
    if not args.quiet:
        err.write(f"taskrun.kubetask.dev/{handle.name} created in namespace {namespace}\n")
    if not args.wait:
        out.write(handle.name + "\n")
        return 0
    try:
        return follow_to_end(
            api,
            handle.name,
            namespace,
            out=out,
            err=err,
            quiet=args.quiet,
            logs=not args.no_logs,
            timeout=args.wait_timeout,
        )
    finally:
        if args.delete_after:
            with contextlib.suppress(TaskRunNotFoundError):
                handle.delete()
            err.write(f"taskrun.kubetask.dev/{handle.name} deleted (--delete-after)\n")


def _wait(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    api, namespace = _api_and_namespace(args)
    name = validate_name(args.name, what="NAME")
    return follow_to_end(
        api,
        name,
        namespace,
        out=out,
        err=err,
        quiet=args.quiet,
        logs=not args.no_logs,
        timeout=args.wait_timeout,
    )


def _json_value(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


def rerun_manifest(original: Mapping[str, Any], *, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A new TaskRun with ``original``'s spec (not cancelled), its labels, and ``inputs`` replacing inputs
    of the same name. Pure."""
    spec = dict(original.get("spec") or {})
    spec.pop("cancelled", None)
    if inputs:
        if spec.get("inputsFrom"):
            raise ClientUsageError(
                f"-i: taskrun {original['metadata']['name']!r} reads its inputs from {spec['inputsFrom']!r} "
                "(spec.inputsFrom); change that document instead"
            )
        spec["inputs"] = {**(spec.get("inputs") or {}), **inputs}
    metadata = original.get("metadata") or {}
    labels = {**(metadata.get("labels") or {}), _RERUN_OF_LABEL: str(metadata["name"])}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": metadata["namespace"], "labels": labels},
        "spec": spec,
    }


def _rerun_base(name: str) -> str:
    """``greet-x7k2q`` -> ``greet``: a rerun's generated name reads as the task's, not a chain of suffixes."""
    base, dash, suffix = name.rpartition("-")
    return base if dash and len(suffix) == 5 and base else name


def _rerun(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    _check_follow_flags(args)
    if args.new_name is not None:
        validate_name(args.new_name, what="--new-name")
    inputs: dict[str, Any] = read_inputs_file(args.inputs_file) if args.inputs_file else {}
    for assignment in args.inputs:
        key, equals, value = assignment.partition("=")
        if not equals or not key:
            raise ClientUsageError(f"-i: expected NAME=VALUE, got {assignment!r}")
        inputs[key] = _json_value(value)
    api, namespace = _api_and_namespace(args)
    original = api.get(validate_name(args.name, what="NAME"), namespace)
    new_name = args.new_name or generated_name(_rerun_base(args.name))
    created = api.create(rerun_manifest(original, name=new_name, inputs=inputs))
    if not args.quiet:
        err.write(
            f"taskrun.kubetask.dev/{new_name} created in namespace {namespace} (rerun of {args.name})\n"
        )
    if not args.wait:
        out.write(str(created["metadata"]["name"]) + "\n")
        return 0
    return follow_to_end(
        api,
        new_name,
        namespace,
        out=out,
        err=err,
        quiet=args.quiet,
        logs=not args.no_logs,
        timeout=args.wait_timeout,
    )


# ---------------------------------------------------------------- get, describe, list


def _on_taskmap(
    api: TaskRunApi, name: str, namespace: str, missing: TaskRunNotFoundError
) -> tuple[Any, dict[str, Any]]:
    """The TaskMap ``name`` (and its API) when there is no TaskRun of that name: get, describe, cancel and
    delete work on both kinds. The TaskRun's not-found error when there is neither."""
    from kubetask_client._map import TaskMapApi  # only for a name that is no TaskRun

    maps = TaskMapApi(api.connection)
    try:
        return maps, maps.get(name, namespace)
    except TaskRunNotFoundError:
        raise missing from None


def _get(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    api, namespace = _api_and_namespace(args)
    try:
        taskrun = api.get(validate_name(args.name, what="NAME"), namespace)
    except TaskRunNotFoundError as missing:
        _, taskmap = _on_taskmap(api, args.name, namespace, missing)
        return _show_taskmap(taskmap, output=args.output, out=out)
    if args.output == "json":
        out.write(format_json(taskrun) + "\n")
    elif args.output == "yaml":
        out.write(yaml.safe_dump(taskrun, sort_keys=False))
    elif args.output == "outputs":
        if phase_of(taskrun) not in FINAL_PHASES:
            raise ClientUsageError(
                f"taskrun {args.name!r} is {phase_of(taskrun)}: it has no outputs yet "
                f"(`kubetask wait {args.name}` follows it to the end)"
            )
        return report_end(taskrun, out=out, err=err)
    else:
        out.write(describe(taskrun, now=datetime.now(UTC)) + "\n")
    return 0


def _show_taskmap(taskmap: Mapping[str, Any], *, output: str, out: TextIO) -> int:
    from kubetask_client._map_command import describe_map

    if output == "json":
        out.write(format_json(taskmap) + "\n")
    elif output == "yaml":
        out.write(yaml.safe_dump(dict(taskmap), sort_keys=False))
    elif output == "outputs":
        raise ClientUsageError(
            f"{taskmap['metadata']['name']!r} is a TaskMap: its outputs are one line per item "
            "(`kubetask get NAME -o json` shows status.outputs or status.outputsUri)"
        )
    else:
        out.write(describe_map(taskmap) + "\n")
    return 0


def _describe(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    api, namespace = _api_and_namespace(args)
    try:
        taskrun = api.get(validate_name(args.name, what="NAME"), namespace)
    except TaskRunNotFoundError as missing:
        _, taskmap = _on_taskmap(api, args.name, namespace, missing)
        return _show_taskmap(taskmap, output="text", out=out)
    pod_name = status_of(taskrun).get("podName")
    pod = None
    if pod_name and not is_finished(taskrun):
        pod = api.get_pod(str(pod_name), namespace)
    objects = [("TaskRun", args.name)] + [
        ("Pod", str(attempt["podName"])) for attempt in attempts_of(taskrun) if attempt.get("podName")
    ]
    try:
        events = api.events_of(namespace, objects=objects)
    except ApiError as error:  # events may be forbidden to this user: describe the rest
        err.write(f"kubetask describe: events not shown: {error}\n")
        events = []
    out.write(describe_details(taskrun, pod=pod, events=events, now=datetime.now(UTC)) + "\n")
    return 0


def _filtered(taskruns: Sequence[Mapping[str, Any]], phases: Sequence[str] | None) -> list[Mapping[str, Any]]:
    return [taskrun for taskrun in taskruns if not phases or phase_of(taskrun) in phases]


def _list(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    connection = connect(kubeconfig=args.kubeconfig, context=args.context)
    if args.all_namespaces and args.namespace:
        raise ClientUsageError("-A/--all-namespaces and -n/--namespace exclude each other")
    namespace = None if args.all_namespaces else validate_namespace(args.namespace or connection.namespace)
    api = TaskRunApi(connection)
    document = api.list_document(namespace, label_selector=args.selector)
    taskruns = oldest_first(document.get("items") or [])
    shown = _filtered(taskruns, args.phase)
    with_namespace = namespace is None
    if shown:
        out.write(taskrun_rows(shown, now=datetime.now(UTC), with_namespace=with_namespace) + "\n")
    elif not args.watch:
        where = "any namespace" if namespace is None else f"namespace {namespace!r}"
        which = f" in phase {'/'.join(args.phase)}" if args.phase else ""
        err.write(f"no taskruns{which} in {where}\n")
        return 0
    if not args.watch:
        return 0
    out.flush()
    _watch_list(
        api, namespace, args, version=str(document.get("metadata", {}).get("resourceVersion") or ""), out=out
    )
    return 0


def _watch_list(
    api: TaskRunApi, namespace: str | None, args: argparse.Namespace, *, version: str, out: TextIO
) -> None:
    """One row per change, as ``kubectl get -w`` prints them, until Ctrl-C; re-lists after a 410."""
    path = TaskRunApi.taskruns_path(namespace)
    while True:
        params = {"labelSelector": args.selector} if args.selector else {}
        if version:
            params["resourceVersion"] = version
        started = time.monotonic()
        for event in api.watch(path, params=params, seconds=300, what="watching taskruns"):
            document = event.get("object") or {}
            version = str((document.get("metadata") or {}).get("resourceVersion") or version)
            if event.get("type") not in {"ADDED", "MODIFIED", "DELETED"} or not _filtered(
                [document], args.phase
            ):
                continue
            row = taskrun_rows([document], now=datetime.now(UTC), with_namespace=namespace is None)
            line = row.splitlines()[-1]
            out.write(line + ("   (deleted)" if event.get("type") == "DELETED" else "") + "\n")
            out.flush()
        if time.monotonic() - started < 1.0:
            version = ""  # expired: start again from a fresh state (kubectl re-lists too)
            time.sleep(1.0)


# ---------------------------------------------------------------- logs


def _logs(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    api, namespace = _api_and_namespace(args)
    name = validate_name(args.name, what="NAME")
    taskrun = api.get(name, namespace)
    attempts = attempts_of(taskrun)
    numbers = [int(attempt.get("number") or 0) for attempt in attempts]
    if args.attempt is not None and args.attempt not in numbers and (is_finished(taskrun) or not args.follow):
        raise ClientUsageError(
            f"--attempt: taskrun {name!r} has no attempt {args.attempt}; "
            f"its attempts: {numbers or 'none yet'}"
        )
    if args.follow:
        if args.tail is not None:
            raise ClientUsageError("--tail cannot be combined with -f/--follow")
        first = 1 if args.all_attempts or not numbers else max(numbers)
        follower = RunFollower(
            api,
            name,
            namespace,
            out=out,
            err=err,
            options=FollowOptions(
                timestamps=args.timestamps, first_attempt=first, only_attempt=args.attempt, transitions=False
            ),
        )
        follower.run()
        return 0
    if not attempts:
        err.write(
            f"taskrun {name!r} has no pod yet (phase {phase_of(taskrun)}); "
            f"`kubetask logs -f {name}` waits for it\n"
        )
        return 0
    if args.all_attempts:
        chosen = attempts
    elif args.attempt is not None:
        chosen = [attempt for attempt in attempts if attempt.get("number") == args.attempt]
    else:
        chosen = [attempts[-1]]
    status = 0
    for attempt in chosen:
        if args.all_attempts:
            err.write(f"==> attempt {attempt.get('number')} (pod {attempt.get('podName')}) <==\n")
            err.flush()
        status = max(status, _print_attempt_log(api, taskrun, attempt, args, out=out, err=err))
    return status


def _print_attempt_log(
    api: TaskRunApi,
    taskrun: Mapping[str, Any],
    attempt: Mapping[str, Any],
    args: argparse.Namespace,
    *,
    out: TextIO,
    err: TextIO,
) -> int:
    namespace = taskrun["metadata"]["namespace"]
    pod = str(attempt.get("podName"))
    number = int(attempt.get("number") or 0)
    if attempt_never_started(attempt):
        err.write(f"kubetask: {no_log_message(taskrun, attempt)}\n")
        return 0
    try:
        text = api.pod_log(pod, namespace, tail_lines=args.tail, timestamps=args.timestamps)
    except PodNotStartedError:
        err.write(f"attempt {number}: pod {pod} has not started yet; `kubetask logs -f` waits for it\n")
        return 0
    except ApiError as error:
        if error.status != 404:
            raise
        archived = read_archived_log(taskrun, number, storage_prefix=api.connection.storage_prefix)
        if archived is None:
            err.write(f"kubetask logs: {no_archive_message(taskrun, number, pod)}\n")
            return EXIT_SYSTEM
        err.write(f"(attempt {number}: pod {pod} is gone; from its archived log)\n")
        text = archived
        if args.tail is not None:
            text = "".join(text.splitlines(keepends=True)[-args.tail :] if args.tail else [])
    out.write(text)
    if text and not text.endswith("\n"):
        out.write("\n")
    return 0


# ---------------------------------------------------------------- cancel, delete


def _cancel(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    api, namespace = _api_and_namespace(args)
    status = 0
    for raw in args.names:
        name = validate_name(raw, what="NAME")
        try:
            taskrun = api.cancel(name, namespace)
        except TaskRunNotFoundError as error:
            try:
                maps, _ = _on_taskmap(api, name, namespace, error)
                maps.cancel(name, namespace)
            except TaskRunNotFoundError:
                err.write(f"kubetask cancel: error: {error}\n")
                status = EXIT_USAGE
            else:
                err.write(f"taskmap.kubetask.dev/{name} cancel requested: its unfinished items stop\n")
            continue
        if is_finished(taskrun):
            err.write(f"taskrun.kubetask.dev/{name} already ended ({phase_of(taskrun)}): nothing to cancel\n")
            out.write(f"{name}: {phase_of(taskrun)}\n")
            continue
        err.write(f"taskrun.kubetask.dev/{name} cancel requested (phase {phase_of(taskrun)})\n")
        if args.wait:
            taskrun = api.wait(name, namespace, timeout=args.wait_timeout, on_update=ProgressDisplay(err))
            out.write(f"{name}: {phase_of(taskrun)}\n")
    return status


def _delete(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    if not args.names and not args.selector:
        raise ClientUsageError("give TaskRun NAMEs or -l/--selector (e.g. -l team=data)")
    if args.names and args.selector:
        raise ClientUsageError("give either NAMEs or -l/--selector, not both")
    api, namespace = _api_and_namespace(args)
    names = [validate_name(name, what="NAME") for name in args.names]
    if args.selector:
        names = [
            str(item["metadata"]["name"])
            for item in api.list_taskruns(namespace, label_selector=args.selector)
        ]
        if not names:
            err.write(f"no taskruns match {args.selector!r} in namespace {namespace!r}\n")
            return 0
    status = 0
    for name in names:
        try:
            api.delete(name, namespace)
        except TaskRunNotFoundError as error:
            try:
                maps, _ = _on_taskmap(api, name, namespace, error)
                maps.delete(name, namespace)
            except TaskRunNotFoundError:
                err.write(f"kubetask delete: error: {error}\n")
                status = EXIT_USAGE
            else:
                out.write(f"taskmap.kubetask.dev/{name} deleted (its items go with it)\n")
            continue
        out.write(f"taskrun.kubetask.dev/{name} deleted\n")
    return status


_HANDLERS = {
    "submit": _submit,
    "wait": _wait,
    "get": _get,
    "describe": _describe,
    "list": _list,
    "logs": _logs,
    "cancel": _cancel,
    "delete": _delete,
    "rerun": _rerun,
    "map": _map,
}


def _submit_help_epilog(arguments: list[str]) -> str | None:
    """For ``submit TARGET --help``: the task's inputs with types and defaults (None without a TARGET)."""
    if "-h" not in arguments and "--help" not in arguments:
        return None
    try:
        known, _ = build_parser(for_lookup=True).parse_known_args(
            [argument for argument in arguments if argument not in ("-h", "--help")]
        )
    except ClientUsageError:  # no TARGET: the plain help
        return None
    if not getattr(known, "target", None):
        return None
    import kubetask
    from kubetask_client._target import load_target

    task = load_target(known.target)
    return inputs_help(task, describe_type=kubetask.describe_type) + "\n\n" + exit_code_help()


def run_cluster_command(arguments: list[str], *, out: TextIO, err: TextIO) -> int:
    """Parse and run one cluster command (``arguments`` starts with its name)."""
    epilog = _submit_help_epilog(arguments) if arguments[:1] == ["submit"] else None
    only = arguments[0] if arguments and arguments[0] in _HANDLERS else None
    parser = build_parser(submit_epilog=epilog, only=only)
    with contextlib.redirect_stdout(out):  # --help goes where the caller's output goes
        args = parser.parse_args(arguments)
    return _HANDLERS[args.command](args, out=out, err=err)
