"""``kubetask map TARGET --inputs-file items.jsonl``: a TaskMap from the command line, with a progress line.

``add_map_parser(commands)`` adds the ``map`` subcommand to the ``kubetask`` parser and ``run_map(args,
out=, err=)`` runs it (the command's dispatcher calls it like its other handlers). One line of the inputs file
is one item (a JSON object of inputs by name); ``-i NAME=VALUE`` gives inputs every item shares (an item's own
value wins). With ``--wait`` it follows the map with a progress line (done/total, rate, failures) on stderr
and then prints one JSON line per item, in item order, on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import kubetask
from kubetask_client._errors import ClientUsageError, TaskMapFailedError
from kubetask_client._map import MapResult, map_task, progress_line
from kubetask_client._option_flags import add_task_option_flags, task_options_from
from kubetask_client._target import load_target

_PROGRESS_EVERY = 2.0  # seconds between progress lines when stderr is not a terminal


def _count(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {least}, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {least}, got {text!r}")
        return value

    return parse


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return seconds


def _assignment(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def add_map_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``map`` to the ``kubetask`` subcommands (``commands`` is the parser's ``add_subparsers()``)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "map",
        help="run a task over many inputs (a TaskMap: one TaskRun per item)",
        description="Create a TaskMap running TARGET once per line of --inputs-file, at most --parallelism "
        "at once. TARGET is 'path/to/module.py:name' or 'package.module:name', importable by the same "
        "name in the image.",
    )
    parser.add_argument(
        "target", metavar="TARGET", help="the task: path/to/module.py:name or package.module:name"
    )
    parser.add_argument(
        "--inputs-file",
        required=True,
        metavar="FILE",
        help="JSON lines, one object of inputs by name per item ('-' reads standard input)",
    )
    parser.add_argument(
        "-i",
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input every item shares, parsed by the parameter's type (an item's own value wins)",
    )
    parser.add_argument(
        "--parallelism", type=_count(1), default=10, help="most items unfinished at once (10)"
    )
    parser.add_argument(
        "--max-failed",
        type=_count(0),
        default=0,
        help="the map still succeeds with this many failed items (0)",
    )
    parser.add_argument("--name", help="TaskMap name, at most 63 characters (default: <task>-<5 characters>)")
    parser.add_argument("--pending-timeout", help="longest an item's attempt may wait to start")
    parser.add_argument(
        "--output-prefix", help="URI for the outputs (default: the operator's storage prefix)"
    )
    parser.add_argument(
        "--label",
        action="append",
        type=_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="a label (repeatable)",
    )
    parser.add_argument(
        "--image-pull-secret",
        action="append",
        default=[],
        metavar="SECRET",
        help="a pull Secret (repeatable)",
    )
    parser.add_argument(
        "--ttl",
        type=_count(0),
        dest="ttl_seconds",
        metavar="SECONDS",
        help="delete the map this long after it ends",
    )
    parser.add_argument(
        "--wait", action="store_true", help="follow it to the end, then print each item's result"
    )
    parser.add_argument(
        "--wait-timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="with --wait: give up waiting after this long (the map carries on)",
    )
    add_task_option_flags(parser)
    group = parser.add_argument_group("cluster")
    group.add_argument("-n", "--namespace", help="namespace (default: the context's, else 'default')")
    group.add_argument("--context", help="kubeconfig context (default: the current context)")
    group.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    return parser


def read_items(task: kubetask.Task[..., Any], text: str, *, source: str) -> list[dict[str, Any]]:
    """The items of an inputs file as Python values, each line checked as the pod will decode it."""
    items: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError as error:
            raise ClientUsageError(f"--inputs-file {source}: line {number} is not JSON: {error}") from None
        if not isinstance(document, dict):
            raise ClientUsageError(
                f"--inputs-file {source}: line {number}: expected a JSON object of inputs by name, "
                f"got {line.strip()[:80]!r}"
            )
        try:
            items.append(task.interface.check_inputs(document))
        except kubetask.InputError as error:
            raise ClientUsageError(f"--inputs-file {source}: line {number}: {error}") from None
    return items


class ProgressLine:
    """The map's progress on stderr: rewritten in place on a terminal, a new line every few seconds
    otherwise (a log stays readable)."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._last_text = ""
        self._last_at = -_PROGRESS_EVERY
        self._tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, taskmap: Mapping[str, Any]) -> None:
        now = self._clock()
        text = progress_line(taskmap, elapsed=now - self._started)
        if text == self._last_text:
            return
        if self._tty:
            self._stream.write(f"\r{text}\x1b[K")
        elif now - self._last_at >= _PROGRESS_EVERY or "[" in text:
            self._stream.write(text + "\n")
            self._last_at = now
        self._stream.flush()
        self._last_text = text

    def close(self) -> None:
        if self._tty and self._last_text:
            self._stream.write("\n")


def describe_map(taskmap: Mapping[str, Any]) -> str:
    """``kubetask describe``/``get`` of a TaskMap: phase and why, counts, failed items, where outputs are."""
    status = taskmap.get("status") or {}
    spec = taskmap.get("spec") or {}
    metadata = taskmap["metadata"]
    condition: Mapping[str, Any] = next(iter(status.get("conditions") or []), {})
    rows = [
        ("Name", metadata["name"]),
        ("Namespace", metadata.get("namespace", "")),
        ("Phase", f"{status.get('phase') or 'Pending'}" + (f" ({condition['reason']})" if condition else "")),
        ("Message", condition.get("message") or "waiting for the operator"),
        ("Items", f"{status.get('progress') or '0/' + str(len(spec.get('items') or []))} done"),
        (
            "Counts",
            ", ".join(
                f"{key} {int(status.get(key) or 0)}"
                for key in ("pending", "running", "succeeded", "failed", "cancelled", "cached")
            ),
        ),
        ("Parallelism", str(spec.get("parallelism", 10))),
        ("Max failed", str(spec.get("maxFailedItems", 0))),
        ("Failed items", status.get("failedItems") or "none"),
        ("Started", status.get("startTime") or "-"),
        ("Completed", status.get("completionTime") or "-"),
        (
            "Outputs",
            status.get("outputsUri")
            or ("inline" if "outputs" in status else status.get("outputsMessage") or "-"),
        ),
        ("Items' TaskRuns", f"kubectl get ktr -l kubetask.dev/map={metadata['name']}"),
    ]
    width = max(len(label) for label, _ in rows) + 1
    return "\n".join(f"{label + ':':<{width}} {value}" for label, value in rows)


def _print_result(result: MapResult, *, out: TextIO) -> None:
    for index, outputs in enumerate(result.outputs):
        line: dict[str, Any] = {"item": index}
        if outputs is not None:
            line["outputs"] = outputs
        else:
            line["failure"] = result.failures.get(index)
        out.write(json.dumps(line) + "\n")


def run_map(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    if args.wait_timeout is not None and not args.wait:
        raise ClientUsageError("--wait-timeout only makes sense with --wait")
    task = load_target(args.target)
    if args.inputs_file == "-":
        text, source = sys.stdin.read(), "(standard input)"
    else:
        path = Path(args.inputs_file)
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except OSError as error:
            raise ClientUsageError(f"--inputs-file: cannot read {str(path)!r}: {error.strerror}") from None
    items = read_items(task, text, source=source)
    try:
        shared = task.interface.parse_assignments(args.inputs)
    except kubetask.UsageError as error:
        raise ClientUsageError(str(error)) from None
    handle = map_task(
        task,
        items,
        inputs=shared,
        parallelism=args.parallelism,
        max_failed=args.max_failed,
        namespace=args.namespace,
        name=args.name,
        context=args.context,
        kubeconfig=args.kubeconfig,
        pending_timeout=args.pending_timeout,
        output_prefix=args.output_prefix,
        labels=dict(args.label),
        ttl_seconds_after_finished=args.ttl_seconds,
        image_pull_secrets=tuple(args.image_pull_secret),
        **task_options_from(args),
    )
    err.write(
        f"taskmap.kubetask.dev/{handle.name} created in namespace {handle.namespace} ({len(items)} items)\n"
    )
    if not args.wait:
        out.write(handle.name + "\n")
        return 0
    progress = ProgressLine(err)
    try:
        result = handle.wait(args.wait_timeout, on_update=progress)
    except TaskMapFailedError as error:
        progress.close()
        _print_result(error.result, out=out)
        raise
    progress.close()
    _print_result(result, out=out)
    if result.failures:
        err.write(f"{len(result.failures)} item(s) failed, within --max-failed {args.max_failed}\n")
    return 0
