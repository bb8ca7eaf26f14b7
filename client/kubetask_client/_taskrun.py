"""TaskRun documents: building one to submit and reading one's status. Pure functions, no I/O.

The contract (group, version, kind, phases, names, quantities, durations) is kubetask_api's, shared with the
operator without importing kopf.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import kubetask
from kubetask_api import (
    API_VERSION,
    FINAL_PHASES,
    GROUP,
    KIND,
    LABEL_MANAGED_BY,
    MANAGED_BY_CLIENT,
    PHASES,
    PLURAL,
    RESERVED_ENV_PREFIX,
    RESERVED_MOUNT_ROOT,
    VERSION,
    StatusView,
    is_dns_label,
    is_dns_subdomain,
    is_duration,
    is_env_name,
    is_label_key,
    is_label_value,
    is_quantity,
    is_resource_name,
)
from kubetask_api import succeeded_condition as condition_of_status
from kubetask_client._errors import ClientUsageError

# The contract's names other client modules read from here.
__all__ = ["API_VERSION", "FINAL_PHASES", "GROUP", "KIND", "PHASES", "PLURAL", "VERSION"]

_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
# The operator names pods "<taskrun>-<attempt>"-ish within 63 characters; keep generated names short.
_GENERATED_PREFIX_MAX = 40
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


@dataclass(frozen=True)
class TaskReference:
    """How the pod finds the task: ``module``/``name`` for the default resolver, else resolver + args."""

    module: str | None = None
    name: str | None = None
    resolver: str | None = None
    loader_args: tuple[str, ...] = ()

    def spec(self) -> dict[str, Any]:
        if self.module is not None and self.name is not None:
            return {"task": {"module": self.module, "name": self.name}}
        reference: dict[str, Any] = {"loaderArgs": list(self.loader_args)}
        if self.resolver is not None:
            reference["resolver"] = self.resolver
        return reference

    def describe(self) -> str:
        if self.module is not None:
            return f"{self.module}:{self.name}"
        return f"{self.resolver} {' '.join(self.loader_args)}"


@dataclass(frozen=True)
class SubmitOptions:
    """Everything of a TaskRun's spec besides the task and its inputs (None or empty: the operator's default).

    ``resources`` is ``{"requests": {...}, "limits": {...}}``; ``secrets`` are kubetask.Secret (a variable
    or a read-only file each); ``pod_template`` names a PodTemplate in the namespace
    (``spec.podTemplateName``).
    """

    image: str
    retries: int | None = None
    timeout: str | None = None
    pending_timeout: str | None = None
    output_prefix: str | None = None
    service_account: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    ttl_seconds_after_finished: int | None = None
    image_pull_secrets: tuple[str, ...] = ()
    resources: Mapping[str, Mapping[str, str | int | float]] = field(default_factory=dict)
    secrets: tuple[kubetask.Secret, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    pod_template: str | None = None
    queue: str | None = None
    """``spec.queue``: the TaskQueue (same namespace) that admits the run."""
    cache: bool = False
    """``spec.cache``: reuse an identical succeeded run's outputs (with ``cache_version`` in the key)."""
    cache_version: str | None = None
    cache_refresh: bool = False
    """Run even when outputs could be reused (``--no-cache``)."""
    ship_code: bool = True  # pack the task's code root into spec.code (False: the image holds the code)

    def __post_init__(self) -> None:
        if not isinstance(self.image, str) or not self.image.strip() or any(c.isspace() for c in self.image):
            raise ClientUsageError(f"image: expected a container image reference, got {self.image!r}")
        if self.retries is not None and (
            isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0
        ):
            raise ClientUsageError(f"retries: expected an integer >= 0, got {self.retries!r}")
        for option, value in (("timeout", self.timeout), ("pending_timeout", self.pending_timeout)):
            if value is not None and not is_duration(value):
                raise ClientUsageError(
                    f"{option}: expected a duration such as '30s', '5m' or '1h30m', got {value!r}"
                )
        for option, kind, name in (
            ("service_account", "ServiceAccount", self.service_account),
            ("pod_template", "PodTemplate", self.pod_template),
            ("queue", "TaskQueue", self.queue),
        ):
            if name is not None and not is_dns_subdomain(name):
                raise ClientUsageError(
                    f"{option}: expected the name of a {kind} (lowercase letters, digits, '-' and '.'), "
                    f"got {name!r}"
                )
        for key, value in self.labels.items():
            if not is_label_key(key) or not is_label_value(value):
                raise ClientUsageError(
                    f"labels: {key}={value!r} is not a Kubernetes label (key [prefix/]name and value: "
                    "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)"
                )
        for secret in self.image_pull_secrets:
            if not is_dns_subdomain(secret):
                raise ClientUsageError(f"image_pull_secrets: expected Secret names, got {secret!r}")
        for name in self.env:
            _check_env_name(name, where="env")
        if self.ttl_seconds_after_finished is not None and (
            isinstance(self.ttl_seconds_after_finished, bool)
            or not isinstance(self.ttl_seconds_after_finished, int)
            or self.ttl_seconds_after_finished < 0
        ):
            raise ClientUsageError(
                "ttl_seconds_after_finished: expected an integer >= 0, "
                f"got {self.ttl_seconds_after_finished!r}"
            )
        self._check_resources()
        self._check_secrets()
        for key, value in self.node_selector.items():
            if not is_label_key(key) or not is_label_value(value):
                raise ClientUsageError(
                    f"node_selector: {key}={value!r} is not a node label ([prefix/]name=value)"
                )
        for toleration in self.tolerations:
            _check_toleration(toleration)

    def _check_resources(self) -> None:
        for part, values in self.resources.items():
            if part not in ("requests", "limits"):
                raise ClientUsageError(
                    f"resources: unknown key {part!r}: expected 'requests' and/or 'limits'"
                )
            for name, quantity in values.items():
                if not is_resource_name(name):
                    raise ClientUsageError(
                        f"resources: {part}: {name!r} is not a resource name (cpu, memory, ephemeral-storage "
                        "or an extended resource such as nvidia.com/gpu)"
                    )
                if not is_quantity(quantity):
                    raise ClientUsageError(
                        f"resources: {part}: {name}: expected a quantity such as '500m', 2 or '4Gi', "
                        f"got {quantity!r}"
                    )

    def _check_secrets(self) -> None:
        targets: dict[str, kubetask.Secret] = {}
        for secret in self.secrets:
            if not isinstance(secret, kubetask.Secret):
                raise ClientUsageError(f"secrets: expected kubetask.Secret(name, key, ...), got {secret!r}")
            if not is_dns_subdomain(secret.name):
                raise ClientUsageError(f"secrets: {secret.name!r} is not a Secret name")
            if secret.env is not None:
                _check_env_name(secret.env, where=f"secrets: {secret.name}/{secret.key}")
            mount = secret.mount_path
            if mount is not None and (
                mount == RESERVED_MOUNT_ROOT or mount.startswith(RESERVED_MOUNT_ROOT + "/")
            ):
                raise ClientUsageError(
                    f"secrets: {secret.name}/{secret.key}: mount_path {mount!r}: expected a path outside "
                    f"{RESERVED_MOUNT_ROOT} (kubetask mounts its own volumes there)"
                )
            if secret.env is not None and secret.env in self.env:
                raise ClientUsageError(
                    f"secrets: {secret.name}/{secret.key} and env both set the variable {secret.env!r}"
                )
            if secret.target in targets:
                other = targets[secret.target]
                raise ClientUsageError(
                    f"secrets: {secret.name}/{secret.key} and {other.name}/{other.key} both go to "
                    f"{secret.target.partition(':')[2]!r}"
                )
            targets[secret.target] = secret


def _check_env_name(name: str, *, where: str) -> None:
    if not is_env_name(name):
        raise ClientUsageError(
            f"{where}: {name!r} is not an environment variable name (letters, digits, '_', '-', '.')"
        )
    if name.startswith(RESERVED_ENV_PREFIX):
        raise ClientUsageError(
            f"{where}: {name!r}: names starting with {RESERVED_ENV_PREFIX} are kubetask's own"
        )


def _check_toleration(toleration: Mapping[str, Any]) -> None:
    key = toleration.get("key")
    operator = toleration.get("operator", "Equal")
    effect = toleration.get("effect")
    if key is not None and not is_label_key(key):
        raise ClientUsageError(f"tolerations: key {key!r} is not a taint key ([prefix/]name)")
    if operator not in _TOLERATION_OPERATORS:
        raise ClientUsageError(f"tolerations: operator: expected Equal or Exists, got {operator!r}")
    if not key and operator != "Exists":
        raise ClientUsageError(
            "tolerations: a toleration without a key must have operator Exists (any taint)"
        )
    if operator == "Exists" and toleration.get("value"):
        raise ClientUsageError(
            f"tolerations: {key}: operator Exists takes no value, got {toleration['value']!r}"
        )
    if effect is not None and effect not in _TAINT_EFFECTS:
        raise ClientUsageError(
            f"tolerations: {key}: effect: expected one of {', '.join(_TAINT_EFFECTS)}, got {effect!r}"
        )
    seconds = toleration.get("tolerationSeconds")
    if seconds is not None and (
        effect != "NoExecute" or isinstance(seconds, bool) or not isinstance(seconds, int)
    ):
        raise ClientUsageError(
            f"tolerations: {key}: tolerationSeconds: a whole number, with effect NoExecute only"
        )


def validate_name(name: str, *, what: str = "name") -> str:
    """A TaskRun name (a DNS subdomain, at most 253 characters) or ClientUsageError naming the rule."""
    if not is_dns_subdomain(name):
        raise ClientUsageError(
            f"{what}: expected lowercase letters, digits, '-' and '.', starting and ending with a letter or "
            f"digit (at most 253 characters), got {name!r}"
        )
    return name


def validate_namespace(namespace: str) -> str:
    if not is_dns_label(namespace):
        raise ClientUsageError(
            "namespace: expected a DNS label (lowercase letters, digits and '-', at most 63 characters), "
            f"got {namespace!r}"
        )
    return namespace


def generated_name(task_name: str, *, suffix: str | None = None) -> str:
    """``<task name as a DNS label>-<5 random characters>``: readable in ``kubectl get``, unique enough."""
    base = re.sub(r"[^a-z0-9]+", "-", task_name.rsplit(".", 1)[-1].lower()).strip("-") or "task"
    suffix = suffix if suffix is not None else "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
    return f"{base[:_GENERATED_PREFIX_MAX].rstrip('-')}-{suffix}"


def taskrun_manifest(
    *,
    name: str,
    namespace: str,
    reference: TaskReference,
    inputs: Mapping[str, Any] | None,
    options: SubmitOptions,
    code: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The TaskRun to create: inputs inline as JSON values, everything unset left to the operator."""
    spec: dict[str, Any] = {"image": options.image, **reference.spec()}
    if code is not None:
        spec["code"] = dict(code)
    if inputs:
        spec["inputs"] = dict(inputs)
    if options.retries is not None:
        spec["retries"] = options.retries
    if options.timeout is not None:
        spec["timeout"] = options.timeout
    if options.pending_timeout is not None:
        spec["pendingTimeout"] = options.pending_timeout
    if options.output_prefix is not None:
        spec["outputPrefix"] = options.output_prefix
    if options.service_account is not None:
        spec["serviceAccountName"] = options.service_account
    if options.resources:
        spec["resources"] = {part: dict(values) for part, values in options.resources.items() if values}
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in options.env.items()]
    env += [
        {"name": secret.env, "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}}}
        for secret in options.secrets
        if secret.env is not None
    ]
    if env:
        spec["env"] = env
    if options.ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = options.ttl_seconds_after_finished
    if options.queue is not None:
        spec["queue"] = options.queue
    if options.pod_template is not None:
        spec["podTemplateName"] = options.pod_template
    template = _pod_template(options)
    if template:
        spec["podTemplate"] = template
    if options.cache or options.cache_refresh:
        cache: dict[str, Any] = {"version": options.cache_version} if options.cache_version else {}
        spec["cache"] = {**cache, **({"refresh": True} if options.cache_refresh else {})}
    metadata: dict[str, Any] = {
        "name": validate_name(name),
        "namespace": validate_namespace(namespace),
        "labels": {LABEL_MANAGED_BY: MANAGED_BY_CLIENT, **options.labels},
    }
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def _pod_template(options: SubmitOptions) -> dict[str, Any]:
    """``spec.podTemplate``: placement, pull secrets, and a read-only volume per Secret mounted as files
    (each key at its path through ``subPath``, so keys of one Secret can go to different folders)."""
    template: dict[str, Any] = {}
    if options.node_selector:
        template["nodeSelector"] = dict(options.node_selector)
    if options.tolerations:
        template["tolerations"] = [dict(toleration) for toleration in options.tolerations]
    if options.image_pull_secrets:
        template["imagePullSecrets"] = [{"name": name} for name in options.image_pull_secrets]
    volumes: dict[str, dict[str, Any]] = {}
    mounts = []
    for secret in options.secrets:
        if secret.mount_path is None:
            continue
        volume = volumes.setdefault(
            secret.name,
            {"name": _secret_volume_name(secret.name), "secret": {"secretName": secret.name, "items": []}},
        )
        items = volume["secret"]["items"]
        if not any(item["key"] == secret.key for item in items):
            items.append({"key": secret.key, "path": secret.key})
        mounts.append(
            {"name": volume["name"], "mountPath": secret.mount_path, "subPath": secret.key, "readOnly": True}
        )
    if volumes:
        template["volumes"] = list(volumes.values())
        template["volumeMounts"] = mounts
    return template


def _secret_volume_name(secret: str) -> str:
    """A volume name (a DNS label) for a Secret: readable, and unique through a hash of the full name."""
    stem = re.sub(r"[^a-z0-9-]+", "-", secret)[:40].strip("-")
    return f"secret-{stem}-{hashlib.sha256(secret.encode()).hexdigest()[:6]}"


# ---------------------------------------------------------------- reading a TaskRun


def status_of(taskrun: Mapping[str, Any]) -> Mapping[str, Any]:
    status = taskrun.get("status")
    return status if isinstance(status, Mapping) else {}


def phase_of(taskrun: Mapping[str, Any]) -> str:
    """The phase, or "Pending" while the operator has not written a status yet."""
    return StatusView.of(taskrun).phase


def is_finished(taskrun: Mapping[str, Any]) -> bool:
    return StatusView.of(taskrun).finished


def succeeded_condition(taskrun: Mapping[str, Any]) -> Mapping[str, Any]:
    return condition_of_status(status_of(taskrun))


def attempts_of(taskrun: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    attempts = status_of(taskrun).get("attempts") or []
    return [attempt for attempt in attempts if isinstance(attempt, Mapping)]


def pod_for_attempt(taskrun: Mapping[str, Any], attempt: int | None) -> str:
    """The pod of attempt ``attempt`` (1-based), or of the current attempt when None."""
    name = taskrun.get("metadata", {}).get("name")
    attempts = attempts_of(taskrun)
    if attempt is None:
        pod = status_of(taskrun).get("podName") or (attempts[-1].get("podName") if attempts else None)
        if not pod:
            raise ClientUsageError(f"taskrun {name!r} has no pod yet (phase {phase_of(taskrun)})")
        return str(pod)
    for record in attempts:
        if record.get("number") == attempt and record.get("podName"):
            return str(record["podName"])
    numbers = [record.get("number") for record in attempts]
    raise ClientUsageError(
        f"attempt: taskrun {name!r} has no attempt {attempt!r}; its attempts: {numbers or 'none yet'}"
    )


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_seconds(seconds: float) -> str:
    """Like kubectl's ages: 42s, 3m12s, 2h5m, 3d4h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def duration_of(taskrun: Mapping[str, Any], *, now: datetime) -> str:
    """Time from start to completion (or to now while it runs); empty before it starts."""
    status = status_of(taskrun)
    start = _parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = _parse_time(status.get("completionTime")) or now
    return format_seconds((end - start).total_seconds())


def age_of(taskrun: Mapping[str, Any], *, now: datetime) -> str:
    created = _parse_time(taskrun.get("metadata", {}).get("creationTimestamp"))
    return format_seconds((now - created).total_seconds()) if created else ""


def progress_line(taskrun: Mapping[str, Any]) -> str:
    """One line saying where the TaskRun is: phase, attempt, reason and message."""
    status = status_of(taskrun)
    condition = succeeded_condition(taskrun)
    parts = [phase_of(taskrun)]
    attempt_count = status.get("attemptCount") or len(attempts_of(taskrun))
    message = str(condition.get("message") or "")
    if attempt_count and not message.startswith(f"attempt {attempt_count}"):
        parts.append(f"attempt {attempt_count}")
    if condition.get("reason") and condition["reason"] != parts[0]:
        parts.append(str(condition["reason"]))
    line = ", ".join(parts)
    if status.get("nextAttemptTime") and phase_of(taskrun) == "Retrying":
        line += f" (next attempt at {status['nextAttemptTime']})"
    if message:
        line += f": {message}"
    return line


def failure_message(taskrun: Mapping[str, Any]) -> str:
    """Why a TaskRun did not succeed, as one paragraph naming the run, the reason and the task's error."""
    name = taskrun.get("metadata", {}).get("name")
    condition = succeeded_condition(taskrun)
    error = status_of(taskrun).get("error")
    message = f"taskrun {name!r} {phase_of(taskrun).lower()}"
    if condition.get("reason"):
        message += f" ({condition['reason']})"
    if isinstance(error, Mapping) and error.get("message"):
        kind = f"{error.get('kind') or ''} error".strip()
        text = str(error["message"])
        error_type = str(error.get("type") or "")
        if error_type and not text.startswith(error_type):
            text = f"{error_type}: {text}"
        message += f": {kind} {text}"
    elif condition.get("message"):
        message += f": {condition['message']}"
    return message


def outputs_of(taskrun: Mapping[str, Any]) -> dict[str, Any] | None:
    """The outputs in the status, or None when they did not fit (then ``outputsUri`` says where they are)."""
    outputs = status_of(taskrun).get("outputs")
    return dict(outputs) if isinstance(outputs, Mapping) else None


def reference_from_loader_args(
    resolver: str, loader_args: Sequence[str], *, default_resolver: str
) -> TaskReference:
    """``task: {module, name}`` when the default resolver's args say module and name; else resolver+args."""
    args = list(loader_args)
    if (
        resolver == default_resolver
        and len(args) == 4
        and args[0] == "task-module"
        and args[2] == "task-name"
    ):
        return TaskReference(module=args[1], name=args[3])
    return TaskReference(resolver=resolver, loader_args=tuple(args))
