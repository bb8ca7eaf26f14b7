"""What a task asks of the pod that runs it: resources, environment, Secrets, placement, identity, image.

``@kubetask.task(resources=..., env=..., secrets=..., ...)`` records them as TaskOptions; the client puts
them in the TaskRun it creates, with the values given at submission winning (``merged``). Checked here for
shape and type when the task is defined, so a mistake fails at import, naming the option; quantities,
names and label syntax are checked by the client against the TaskRun contract before anything is created.
Plain classes, not dataclasses: task modules import this, and task pods start fast.
"""

from __future__ import annotations

from kubetask._errors import TaskDefinitionError
from kubetask._frozen import Frozen
from kubetask._typing import TypeVar

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import timedelta
    from typing import Any

Quantity = str | int | float
T = TypeVar("T")
GPU_RESOURCE = "nvidia.com/gpu"
_TOLERATION_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")


class Resources(Frozen):
    """Compute resources of the task's container, as Kubernetes quantities (``"500m"``, ``2``, ``"4Gi"``).

    Everything given is requested; memory, ephemeral storage, GPUs and ``extended`` resources are also the
    limit (a GPU or extended resource must be, and a memory limit at the request keeps one task from
    pushing the node's other pods out). CPU gets no limit: throttling slows a task without protecting anyone.
    ``gpu_resource`` names the GPU resource (``amd.com/gpu``...); ``extended`` adds any other
    (``{"example.com/fpga": 1}``). ``spec()`` is the ``{"requests": ..., "limits": ...}`` mapping.
    """

    __slots__ = ("cpu", "ephemeral_storage", "extended", "gpu", "gpu_resource", "memory")

    cpu: Quantity | None
    memory: Quantity | None
    gpu: int | None
    ephemeral_storage: Quantity | None
    gpu_resource: str
    extended: tuple[tuple[str, Quantity], ...]

    def __init__(
        self,
        cpu: Quantity | None = None,
        memory: Quantity | None = None,
        gpu: int | None = None,
        ephemeral_storage: Quantity | None = None,
        *,
        gpu_resource: str = GPU_RESOURCE,
        extended: Mapping[str, Quantity] | None = None,
    ) -> None:
        for option, value in (("cpu", cpu), ("memory", memory), ("ephemeral_storage", ephemeral_storage)):
            if value is not None:
                _quantity(value, where=f"Resources: {option}")
        if gpu is not None and (isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0):
            raise TaskDefinitionError(f"Resources: gpu: expected a whole number >= 0, got {gpu!r}")
        if not isinstance(gpu_resource, str) or "/" not in gpu_resource:
            raise TaskDefinitionError(
                f"Resources: gpu_resource: expected an extended resource name such as 'nvidia.com/gpu', "
                f"got {gpu_resource!r}"
            )
        others = _string_map(extended or {}, where="Resources: extended", values=(str, int, float))
        self._set_fields(
            cpu=cpu,
            memory=memory,
            gpu=gpu,
            ephemeral_storage=ephemeral_storage,
            gpu_resource=gpu_resource,
            extended=tuple(sorted(others.items())),
        )

    def spec(self) -> dict[str, dict[str, Quantity]]:
        requests: dict[str, Quantity] = {}
        limits: dict[str, Quantity] = {}
        if self.cpu is not None:
            requests["cpu"] = self.cpu
        for name, value in (
            ("memory", self.memory),
            ("ephemeral-storage", self.ephemeral_storage),
            (self.gpu_resource, self.gpu),
            *self.extended,
        ):
            if value is not None:
                requests[name] = limits[name] = value
        spec: dict[str, dict[str, Quantity]] = {}
        if requests:
            spec["requests"] = requests
        if limits:
            spec["limits"] = limits
        return spec


class Secret(Frozen):
    """One key of a Kubernetes Secret given to the task: as the environment variable ``env`` (default: the
    key in upper case, ``-`` and ``.`` as ``_``) or, with ``mount_path``, as a read-only file at that path."""

    __slots__ = ("env", "key", "mount_path", "name")

    name: str
    key: str
    env: str | None
    mount_path: str | None

    def __init__(self, name: str, key: str, *, env: str | None = None, mount_path: str | None = None) -> None:
        for option, value in (("name", name), ("key", key)):
            if not isinstance(value, str) or not value:
                raise TaskDefinitionError(f"Secret: {option}: expected a non-empty str, got {value!r}")
        if env is not None and mount_path is not None:
            raise TaskDefinitionError(
                f"Secret {name}/{key}: give env or mount_path, not both (two Secret entries give both)"
            )
        if mount_path is not None and (not isinstance(mount_path, str) or not mount_path.startswith("/")):
            raise TaskDefinitionError(
                f"Secret {name}/{key}: mount_path: expected an absolute path, got {mount_path!r}"
            )
        if mount_path is None and env is None:
            env = "".join(c if c.isalnum() else "_" for c in key).upper()
        if env is not None and (not isinstance(env, str) or not env):
            raise TaskDefinitionError(f"Secret {name}/{key}: env: expected a variable name, got {env!r}")
        self._set_fields(name=name, key=key, env=env, mount_path=mount_path)

    @property
    def target(self) -> str:
        """Where it lands: its variable or its path (two Secrets with one target: the later wins)."""
        return f"env:{self.env}" if self.env is not None else f"file:{self.mount_path}"


class TaskOptions(Frozen):
    """Every pod-side option of a task, checked; None (or empty) means "the operator's default"."""

    __slots__ = (
        "cache",
        "cache_version",
        "env",
        "image",
        "node_selector",
        "pod_template",
        "queue",
        "resources",
        "retries",
        "secrets",
        "service_account",
        "timeout",
        "tolerations",
    )

    retries: int | None
    timeout: float | None
    resources: dict[str, dict[str, Quantity]]
    env: dict[str, str]
    secrets: tuple[Secret, ...]
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, object], ...]
    pod_template: str | None
    service_account: str | None
    image: str | None
    cache: bool | None
    cache_version: str | None
    queue: str | None

    def __init__(
        self,
        *,
        retries: int | None = None,
        timeout: float | timedelta | None = None,
        resources: Resources | Mapping[str, Mapping[str, Quantity]] | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[Secret] | None = None,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Iterable[Mapping[str, object]] | None = None,
        pod_template: str | None = None,
        service_account: str | None = None,
        image: str | None = None,
        cache: bool | None = None,
        cache_version: str | None = None,
        queue: str | None = None,
        where: str = "@kubetask.task",
    ) -> None:
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
            raise TaskDefinitionError(
                f"{where}: retries: expected an int >= 0, got {retries!r} ({type(retries).__name__})"
            )
        secret_list = list(secrets or ())
        for secret in secret_list:
            if not isinstance(secret, Secret):
                raise TaskDefinitionError(
                    f"{where}: secrets: expected kubetask.Secret(name, key, env=... or mount_path=...), "
                    f"got {secret!r}"
                )
        if cache is not None and not isinstance(cache, bool):
            raise TaskDefinitionError(f"{where}: cache: expected True or False, got {cache!r}")
        if cache_version is not None and (
            not isinstance(cache_version, str) or not cache_version or any(c.isspace() for c in cache_version)
        ):
            raise TaskDefinitionError(
                f"{where}: cache_version: expected a non-empty str without spaces such as '2', "
                f"got {cache_version!r}"
            )
        if queue is not None and not is_dns_subdomain(queue):
            raise TaskDefinitionError(
                f"{where}: queue: expected the name of a TaskQueue (lowercase letters, digits, '-' and '.', "
                f"starting and ending with a letter or digit, at most 253 characters), got {queue!r}"
            )
        for option, value in (
            ("pod_template", pod_template),
            ("service_account", service_account),
            ("image", image),
        ):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise TaskDefinitionError(f"{where}: {option}: expected a non-empty str, got {value!r}")
        self._set_fields(
            retries=retries,
            timeout=seconds(timeout, where=f"{where}: timeout"),
            resources=resource_spec(resources, where=f"{where}: resources"),
            env=_string_map(env or {}, where=f"{where}: env", values=(str,)),
            secrets=tuple(secret_list),
            node_selector=_string_map(node_selector or {}, where=f"{where}: node_selector", values=(str,)),
            tolerations=tuple(_toleration(t, where=f"{where}: tolerations") for t in (tolerations or ())),
            pod_template=pod_template,
            service_account=service_account,
            image=image,
            cache=cache,
            cache_version=cache_version,
            queue=queue,
        )

    def merged(self, overrides: TaskOptions) -> TaskOptions:
        """These options with *overrides* winning: a value replaces one, a mapping wins key by key (a
        resource name within requests and limits), a Secret replaces one with the same target, and
        tolerations add up."""
        resources = {part: dict(values) for part, values in self.resources.items()}
        for part, values in overrides.resources.items():
            resources.setdefault(part, {}).update(values)
        secrets = {secret.target: secret for secret in (*self.secrets, *overrides.secrets)}
        tolerations = list(self.tolerations)
        tolerations += [t for t in overrides.tolerations if t not in tolerations]
        return TaskOptions(
            retries=_first(overrides.retries, self.retries),
            timeout=_first(overrides.timeout, self.timeout),
            resources=resources,
            env={**self.env, **overrides.env},
            secrets=secrets.values(),
            node_selector={**self.node_selector, **overrides.node_selector},
            tolerations=tolerations,
            pod_template=_first(overrides.pod_template, self.pod_template),
            service_account=_first(overrides.service_account, self.service_account),
            image=_first(overrides.image, self.image),
            cache=_first(overrides.cache, self.cache),
            cache_version=_first(overrides.cache_version, self.cache_version),
            queue=_first(overrides.queue, self.queue),
        )


def _first(preferred: T | None, fallback: T | None) -> T | None:
    return preferred if preferred is not None else fallback


_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def is_dns_subdomain(text: object) -> bool:
    """A Kubernetes object name (IsDNS1123Subdomain in k8s.io/apimachinery/pkg/util/validation): at most 253
    characters, dot-separated labels of lowercase letters, digits and '-' starting and ending with a letter
    or digit. Written out rather than as kubetask_api's regular expression: task pods do not import re."""
    if not isinstance(text, str) or not 0 < len(text) <= 253:
        return False
    return all(
        label and set(label) <= _NAME_CHARACTERS and label[0] != "-" and label[-1] != "-"
        for label in text.split(".")
    )


def seconds(timeout: object, *, where: str) -> float | None:
    """A positive number of seconds from a number or a timedelta."""
    if timeout is None:
        return None
    total = getattr(timeout, "total_seconds", None)
    value = total() if callable(total) else timeout
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise TaskDefinitionError(
            f"{where}: expected a positive number of seconds or a timedelta, "
            f"got {timeout!r} ({type(timeout).__name__})"
        )
    return float(value)


def resource_spec(value: object, *, where: str) -> dict[str, dict[str, Quantity]]:
    """``{"requests": {...}, "limits": {...}}`` from Resources or that mapping itself."""
    if value is None:
        return {}
    if isinstance(value, Resources):
        return value.spec()
    if not isinstance(value, dict):
        raise TaskDefinitionError(
            f"{where}: expected kubetask.Resources(...) or {{'requests': {{...}}, 'limits': {{...}}}}, "
            f"got {value!r}"
        )
    unknown = sorted(set(value) - {"requests", "limits"})
    if unknown:
        raise TaskDefinitionError(f"{where}: unknown key(s) {unknown}: expected 'requests' and/or 'limits'")
    return {
        part: _string_map(values, where=f"{where}: {part}", values=(str, int, float))
        for part, values in value.items()
        if values
    }


def _quantity(value: object, *, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        raise TaskDefinitionError(f"{where}: expected a quantity such as '500m', 2 or '4Gi', got {value!r}")


def _string_map(value: object, *, where: str, values: tuple[type, ...]) -> dict[str, Any]:
    if not hasattr(value, "items"):
        raise TaskDefinitionError(f"{where}: expected a mapping, got {value!r} ({type(value).__name__})")
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise TaskDefinitionError(f"{where}: keys must be non-empty str, got {key!r}")
        if isinstance(item, bool) or not isinstance(item, values):
            expected = " or ".join(kind.__name__ for kind in values)
            raise TaskDefinitionError(
                f"{where}: {key}: expected {expected}, got {item!r} ({type(item).__name__})"
            )
        result[key] = item
    return result


def _toleration(value: object, *, where: str) -> dict[str, object]:
    if not hasattr(value, "items"):
        raise TaskDefinitionError(
            f"{where}: expected a mapping such as "
            f"{{'key': 'gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}}, got {value!r}"
        )
    toleration = dict(value.items())
    unknown = sorted(set(toleration) - set(_TOLERATION_FIELDS))
    if unknown:
        raise TaskDefinitionError(
            f"{where}: unknown field(s) {unknown}; a toleration has {list(_TOLERATION_FIELDS)}"
        )
    return toleration
