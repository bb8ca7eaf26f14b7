"""The ``kubetask submit`` flags for task options, and the ``submit`` keyword arguments they stand for.

``add_task_option_flags(parser)`` adds them; ``task_options_from(namespace)`` returns only those given, so
the task's ``@kubetask.task`` options fill the rest (``submit_options`` merges them, the flags winning).
Each flag's value is checked as it is parsed, so a typo is refused by argparse naming the flag.
"""

from __future__ import annotations

import argparse
from typing import Any

import kubetask
from kubetask_api import is_duration, is_quantity

_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def add_task_option_flags(parser: argparse.ArgumentParser) -> None:
    """Add the task option flags to *parser* (in a group of their own)."""
    group = parser.add_argument_group("task options (each wins over the task's @kubetask.task option)")
    group.add_argument("--image", help="container image holding the task's code and kubetask")
    group.add_argument("--retries", type=_whole_number, help="retries after recoverable failures")
    group.add_argument(
        "--timeout", type=_duration, metavar="DURATION", help="longest one attempt may run (5m)"
    )
    group.add_argument(
        "--queue",
        metavar="QUEUE",
        help="the TaskQueue (in the namespace) that admits runs: beyond its maxRunning they wait Queued",
    )
    group.add_argument("--cpu", type=_quantity, metavar="QUANTITY", help="CPU to request, e.g. 2 or 500m")
    group.add_argument(
        "--memory", type=_quantity, metavar="QUANTITY", help="memory to request and limit to, e.g. 4Gi"
    )
    group.add_argument("--gpu", type=_whole_number, metavar="COUNT", help="GPUs (nvidia.com/gpu) to request")
    group.add_argument(
        "--ephemeral-storage", type=_quantity, metavar="QUANTITY", help="scratch disk to request and limit to"
    )
    group.add_argument(
        "--resource",
        action="append",
        type=_resource,
        default=[],
        metavar="NAME=QUANTITY",
        help="any extended resource, requested and limited, e.g. example.com/fpga=1 (repeatable)",
    )
    group.add_argument(
        "--env",
        action="append",
        type=_assignment("--env", "NAME=VALUE"),
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable of the task's pod (repeatable)",
    )
    group.add_argument(
        "--secret",
        action="append",
        type=_secret,
        default=[],
        metavar="NAME/KEY[:ENV|:/PATH]",
        help="key KEY of Secret NAME as variable ENV (default: KEY in upper case) or as a file at /PATH "
        "(repeatable)",
    )
    group.add_argument(
        "--node-selector",
        action="append",
        type=_assignment("--node-selector", "KEY=VALUE"),
        default=[],
        metavar="KEY=VALUE",
        help="run only on nodes with this label (repeatable)",
    )
    group.add_argument(
        "--toleration",
        action="append",
        type=_toleration,
        default=[],
        metavar="KEY[=VALUE][:EFFECT]",
        help="tolerate a taint, written as kubectl taint writes it; without VALUE any value (repeatable)",
    )
    group.add_argument("--pod-template", metavar="NAME", help="a PodTemplate in the namespace to start from")
    group.add_argument("--service-account", metavar="NAME", help="ServiceAccount of the task's pod")
    group.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reuse the outputs of a succeeded identical run (same task, image, code, inputs, version); "
        "--no-cache runs anyway (and its outputs are reused later)",
    )
    group.add_argument(
        "--cache-version", metavar="VERSION", help="part of the cache key: change it to recompute"
    )


def task_options_from(namespace: argparse.Namespace) -> dict[str, Any]:
    """The ``submit``/``submit_options`` keyword arguments of the flags that were given."""
    options: dict[str, Any] = {}
    if getattr(namespace, "cache", None) is False:
        options["no_cache"] = True  # the task's cache=True stays, as a refresh
    elif getattr(namespace, "cache", None):
        options["cache"] = True
    for flag in ("image", "retries", "timeout", "queue", "pod_template", "service_account", "cache_version"):
        value = getattr(namespace, flag, None)
        if value is not None:
            options[flag] = value
    extended = dict(getattr(namespace, "resource", None) or [])
    cpu, memory, gpu, storage = (
        getattr(namespace, name, None) for name in ("cpu", "memory", "gpu", "ephemeral_storage")
    )
    if extended or any(value is not None for value in (cpu, memory, gpu, storage)):
        options["resources"] = kubetask.Resources(cpu, memory, gpu, storage, extended=extended)
    for flag, option in (("env", "env"), ("node_selector", "node_selector")):
        pairs = getattr(namespace, flag, None) or []
        if pairs:
            options[option] = dict(pairs)
    for flag, option in (("secret", "secrets"), ("toleration", "tolerations")):
        items = getattr(namespace, flag, None) or []
        if items:
            options[option] = list(items)
    return options


# ---------------------------------------------------------------- parsing one flag value


def _whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _duration(text: str) -> str:
    if not is_duration(text):
        raise argparse.ArgumentTypeError(f"expected a duration such as 30s, 5m or 1h30m, got {text!r}")
    return text


def _quantity(text: str) -> str:
    if not is_quantity(text):
        raise argparse.ArgumentTypeError(
            f"expected a Kubernetes quantity such as 2, 500m or 4Gi, got {text!r}"
        )
    return text


def _resource(text: str) -> tuple[str, str]:
    name, separator, amount = text.partition("=")
    if not separator or "/" not in name:
        raise argparse.ArgumentTypeError(
            f"expected NAME=QUANTITY with an extended resource name such as example.com/fpga=1, got {text!r}"
        )
    return name, _quantity(amount)


def _assignment(flag: str, shape: str) -> Any:
    def parse(text: str) -> tuple[str, str]:
        key, separator, value = text.partition("=")
        if not separator or not key:
            raise argparse.ArgumentTypeError(f"expected {shape}, got {text!r}")
        return key, value

    parse.__name__ = flag  # argparse names the type in "invalid <name> value"
    return parse


def _secret(text: str) -> kubetask.Secret:
    reference, _, target = text.partition(":")
    name, slash, key = reference.partition("/")
    if not slash or not name or not key:
        raise argparse.ArgumentTypeError(f"expected NAME/KEY[:ENV|:/PATH], got {text!r}")
    try:
        if target.startswith("/"):
            return kubetask.Secret(name, key, mount_path=target)
        return kubetask.Secret(name, key, env=target or None)
    except kubetask.TaskDefinitionError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _toleration(text: str) -> dict[str, Any]:
    """``key=value:NoSchedule``, ``key:NoExecute``, ``key=value`` or ``key`` (as ``kubectl taint``)."""
    taint, _, effect = text.partition(":")
    key, separator, value = taint.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(f"expected KEY[=VALUE][:EFFECT], got {text!r}")
    if effect and effect not in _EFFECTS:
        raise argparse.ArgumentTypeError(
            f"effect: expected one of {', '.join(_EFFECTS)}, got {effect!r} in {text!r}"
        )
    toleration: dict[str, Any] = {"key": key, "operator": "Equal" if separator else "Exists"}
    if separator:
        toleration["value"] = value
    if effect:
        toleration["effect"] = effect
    return toleration
