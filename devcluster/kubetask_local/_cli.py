"""The ``kubetask dev`` command line (the ``kubetask`` command finds it through the ``kubetask.commands``
entry point group).

Also runnable as ``python -m kubetask_local._cli dev ...``, which is what the pytest plugin starts.
``--apply FILE [--wait]`` creates the file's TaskRuns once the cluster is ready (through the client's public
face, as a user's ``kubetask`` would); with ``--wait`` it follows them live, prints their outputs, stops the
cluster and exits with the runs' exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from kubetask_local._dev import DevOptions, run_dev, running_cluster_url
from kubetask_local.node import FastMode, Taint

_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--node-label expects KEY=VALUE, got {text!r}")
    return key, value


def _taint(text: str) -> Taint:
    spec, sep, effect = text.rpartition(":")
    key, _, value = spec.partition("=")
    if not sep or not key or effect not in _EFFECTS:
        raise argparse.ArgumentTypeError(
            f"--node-taint expects KEY[=VALUE]:EFFECT with EFFECT one of {', '.join(_EFFECTS)}, got {text!r}"
        )
    return Taint(key=key, value=value, effect=effect)


def _seconds(option: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 <= value <= 86400:
            raise argparse.ArgumentTypeError(f"{option} expects seconds from 0 to 86400, got {text!r}")
        return value

    return parse


def _image_user(text: str) -> tuple[str, str]:
    image, separator, user = text.partition("=")
    if not separator or not image or not user or not user.partition(":")[0]:
        raise argparse.ArgumentTypeError(
            f"--image-user expects IMAGE=USER (for example 'myorg/tasks:*=1000' or 'app:1=1000:1000'), "
            f"got {text!r}"
        )
    return image, user


def _exit_code(text: str) -> int:
    try:
        code = int(text)
    except ValueError:
        code = -1
    if not 0 <= code <= 255:
        raise argparse.ArgumentTypeError(f"--fast-exit-code expects an integer from 0 to 255, got {text!r}")
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubetask dev",
        description="Run a local Kubernetes for development: an in-memory API server, a local node that runs "
        "pods as local processes, and the kubetask operator. kubectl works against it through the written "
        "kubeconfig. Stop with Ctrl-C.",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=Path(".kubetask/kubeconfig"),
        help="where to write the kubeconfig (default: .kubetask/kubeconfig)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port of the API server on 127.0.0.1 (default: 0, a free port)"
    )
    parser.add_argument("--no-operator", action="store_true", help="do not start the kubetask operator")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where pods' files and logs live (default: a temporary directory, removed at exit)",
    )
    parser.add_argument("--node-name", default="kubetask-local", help="name of the local node")
    parser.add_argument(
        "--node-label",
        type=_label,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra label of the node (repeatable)",
    )
    parser.add_argument(
        "--node-taint",
        type=_taint,
        action="append",
        default=[],
        metavar="KEY[=VALUE]:EFFECT",
        help="taint of the node (repeatable)",
    )
    parser.add_argument(
        "--fail-image",
        action="append",
        default=[],
        metavar="IMAGE",
        help="an image whose pull fails (ErrImagePull/ImagePullBackOff), by reference or "
        "repository (repeatable); images on a registry under .invalid always fail",
    )
    parser.add_argument(
        "--image-user",
        type=_image_user,
        action="append",
        default=[],
        metavar="IMAGE=USER",
        help="the USER an image declares (uid, uid:gid or name), by reference or glob pattern "
        "(repeatable), for runAsNonRoot: the local node cannot read images and runs one it has no USER for "
        "as root; kubetask's own images are known",
    )
    parser.add_argument(
        "--fast-exit-code",
        type=_exit_code,
        default=None,
        metavar="CODE",
        help="benchmark mode: complete every pod at once with this exit code, without running it",
    )
    parser.add_argument(
        "--fast-termination-message",
        default="",
        metavar="TEXT",
        help="the termination message of pods completed by --fast-exit-code",
    )
    parser.add_argument(
        "--node-lost-after",
        type=_seconds("--node-lost-after"),
        default=1.0,
        metavar="SECONDS",
        help="after the node is stopped, when its Ready condition turns Unknown (default: 1)",
    )
    parser.add_argument(
        "--pod-eviction-timeout",
        type=_seconds("--pod-eviction-timeout"),
        default=3.0,
        metavar="SECONDS",
        help="then, when its unfinished pods are marked Failed with reason NodeLost (default: 3)",
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one ends (the pytest plugin uses it, so a killed "
        "test run leaves no cluster behind)",
    )
    parser.add_argument(
        "--apply",
        metavar="FILE",
        help="once ready, create the TaskRuns in FILE (YAML or JSON); its directory goes first on the "
        "PYTHONPATH pods get, so a task module beside it is found as an image would hold it",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="with --apply: follow the TaskRuns live (their log, transitions, then outputs), then stop the "
        "cluster and exit with the runs' exit code (`kubetask --help` lists the codes)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level of the API server and the node (default: WARNING)",
    )
    return parser


def options_from_args(args: argparse.Namespace) -> DevOptions:
    fast = (
        None
        if args.fast_exit_code is None
        else FastMode(exit_code=args.fast_exit_code, termination_message=args.fast_termination_message)
    )
    return DevOptions(
        kubeconfig=args.kubeconfig,
        port=args.port,
        operator=not args.no_operator,
        state_dir=args.state_dir,
        node_name=args.node_name,
        node_labels=dict(args.node_label),
        node_taints=tuple(args.node_taint),
        failing_images=frozenset(args.fail_image),
        image_users=dict(args.image_user),
        fast_mode=fast,
        node_lost_after=args.node_lost_after,
        pod_eviction_timeout=args.pod_eviction_timeout,
        exit_with_parent=args.exit_with_parent,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``kubetask dev [options]``; ``argv`` may start with the word ``dev`` or not."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["dev"]:
        arguments = arguments[1:]
    args = build_parser().parse_args(arguments)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not 0 <= args.port <= 65535:
        print(f"kubetask dev: error: --port must be from 0 to 65535, got {args.port!r}", file=sys.stderr)
        return 2
    other = running_cluster_url(args.kubeconfig)
    if other is not None:
        print(
            f"kubetask dev: error: --kubeconfig {str(args.kubeconfig)!r} belongs to a local cluster that is "
            f"still running at {other}; stop it (Ctrl-C where it runs) or give another --kubeconfig",
            file=sys.stderr,
        )
        return 1
    if args.wait and not args.apply:
        print("kubetask dev: error: --wait only makes sense with --apply FILE", file=sys.stderr)
        return 2
    if args.apply:
        if not os.path.isfile(args.apply):
            print(f"kubetask dev: error: --apply: no such file {args.apply!r}", file=sys.stderr)
            return 2
        directory = os.path.dirname(os.path.abspath(args.apply))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [directory, os.environ.get("PYTHONPATH")]))
    try:
        if args.apply:
            return asyncio.run(_run_and_apply(options_from_args(args), args.apply, wait=args.wait))
        return asyncio.run(run_dev(options_from_args(args)))
    except OSError as error:
        print(f"kubetask dev: error: {error}", file=sys.stderr)
        return 1


async def _run_and_apply(options: DevOptions, path: str, *, wait: bool) -> int:
    """The cluster, with ``path``'s TaskRuns created once it is ready; with ``wait``, followed to their end,
    then the cluster stops and the runs' exit code (the first non-zero) is returned."""
    import kubetask_client  # the user's side of the cluster, reached as a user reaches it

    stop = asyncio.Event()
    outcome: list[int] = []

    async def apply_and_follow() -> None:
        try:
            while not options.kubeconfig.exists():  # written when the cluster is ready
                await asyncio.sleep(0.05)
            kubeconfig = str(options.kubeconfig.absolute())
            created = await asyncio.to_thread(kubetask_client.create_from_file, path, kubeconfig=kubeconfig)
            if not wait:
                return
            for namespace, name in created:
                code = await asyncio.to_thread(
                    kubetask_client.follow, name, namespace=namespace, kubeconfig=kubeconfig
                )
                outcome.append(code)
        except kubetask_client.KubetaskClientError as error:
            print(f"kubetask dev: error: {error}", file=sys.stderr, flush=True)
            outcome.append(error.exit_code)
        if wait or outcome:
            stop.set()

    applying = asyncio.create_task(apply_and_follow())
    # With --wait the cluster's own messages go to stderr: stdout carries the task's log and outputs.
    status = await run_dev(options, stop=stop, out=sys.stderr if wait else sys.stdout)
    if not applying.done():
        applying.cancel()
    return next((code for code in outcome if code), status)


if __name__ == "__main__":
    sys.exit(main())
