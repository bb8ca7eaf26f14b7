"""Reading a TaskRun's spec into a typed, checked value, or an InvalidSpecError naming the field.

The CRD schema refuses most bad TaskRuns at the API server; this is the second line for what a schema cannot
express (or a cluster that did not enforce it), so the operator never acts on a spec it does not understand.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import kubetask
from kubetask_api import RESERVED_MOUNT_ROOT, RESERVED_VOLUMES
from kubetask_operator._durations import parse_duration
from kubetask_operator._errors import InvalidSpecError
from kubetask_operator._nesting import MAX_NESTING, describe_path, path_too_deep

INPUTS_FILE = "inputs.json"
# spec.code.uri naming a ConfigMap (in the TaskRun's namespace) that holds the archive under CODE_FILE.
CODE_CONFIGMAP_SCHEME = "configmap:"
CODE_FILE = "code.tar.gz"
# A ConfigMap holds at most 1 MiB of keys and values together (the API server's limit).
CONFIGMAP_MAX_BYTES = 1024 * 1024 - len(INPUTS_FILE)

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URI = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*:|/)\S*")
_NO_SPACE = re.compile(r"\S+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_IMAGE_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TEMPLATE_MAPS = ("labels", "annotations", "nodeSelector")
_TEMPLATE_LISTS = ("tolerations", "volumes", "volumeMounts", "imagePullSecrets", "topologySpreadConstraints")
_TEMPLATE_OBJECTS = ("affinity", "securityContext", "podSecurityContext")
_TEMPLATE_STRINGS = ("priorityClassName", "runtimeClassName")


@dataclasses.dataclass(frozen=True)
class Backoff:
    initial_seconds: float = 10.0
    factor: float = 2.0
    max_seconds: float = 300.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return float(min(self.initial_seconds * self.factor ** (retry - 1), self.max_seconds))


@dataclasses.dataclass(frozen=True)
class TaskRunSpec:
    """A checked TaskRun spec; mappings and lists are the user's JSON, copied to the pod as they are."""

    image: str
    resolver: str
    loader_args: tuple[str, ...]
    inputs_json: bytes | None = None
    inputs_from: str | None = None
    image_pull_policy: str | None = None
    output_prefix: str | None = None
    retries: int = 0
    backoff: Backoff = Backoff()
    timeout_seconds: float | None = None
    pending_timeout_seconds: float | None = None
    resources: Mapping[str, Any] | None = None
    env: Sequence[Mapping[str, Any]] = ()
    env_from: Sequence[Mapping[str, Any]] = ()
    service_account_name: str | None = None
    pod_template: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    pod_template_name: str | None = None
    """A PodTemplate of the namespace whose pod settings go under the TaskRun's own."""
    cancelled: bool = False
    ttl_seconds_after_finished: int | None = None
    code: CodeArchiveRef | None = None
    queue: str | None = None
    """The TaskQueue that admits the run (it waits Queued, with no pod, until then)."""
    priority: int = 0
    queue_timeout_seconds: float | None = None
    cache: bool = False
    """``spec.cache`` is set: reuse an identical succeeded run's outputs (``_cache``)."""
    cache_version: str | None = None
    cache_refresh: bool = False


@dataclasses.dataclass(frozen=True)
class CodeArchiveRef:
    """``spec.code``: the shipped code archive, in storage (``uri``) or in a ConfigMap (``configmap``)."""

    uri: str
    sha256: str

    @property
    def configmap(self) -> str | None:
        """The ConfigMap's name for ``configmap:NAME``, else None."""
        if not self.uri.startswith(CODE_CONFIGMAP_SCHEME):
            return None
        return self.uri.removeprefix(CODE_CONFIGMAP_SCHEME)


def _code(spec: Mapping[str, Any]) -> CodeArchiveRef | None:
    code = spec.get("code")
    if code is None:
        return None
    if not isinstance(code, Mapping):
        raise _fail("code", code, "an object {uri, sha256}")
    uri = _string(
        code, "uri", pattern=_URI, expected="a URI such as 's3://bucket/code.tar.gz'", prefix="code."
    )
    sha256 = _string(
        code, "sha256", pattern=_SHA256, expected="64 lowercase hexadecimal digits", prefix="code."
    )
    if uri is None or sha256 is None:
        raise _fail("code", code, "both code.uri and code.sha256")
    reference = CodeArchiveRef(uri=uri, sha256=sha256)
    name = reference.configmap
    if name is not None and (len(name) > 253 or not _OBJECT_NAME.fullmatch(name)):
        raise _fail("code.uri", uri, "configmap:NAME with NAME a ConfigMap name (lowercase DNS subdomain)")
    return reference


def _fail(field: str, value: object, expected: str) -> InvalidSpecError:
    shown = repr(value)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    return InvalidSpecError(f"spec.{field}: expected {expected}, got {shown}")


def _string(
    spec: Mapping[str, Any],
    field: str,
    *,
    pattern: re.Pattern[str] | None = None,
    expected: str = "a non-empty string",
    prefix: str = "",
) -> str | None:
    value = spec.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.fullmatch(value)):
        raise _fail(prefix + field, value, expected)
    return value


def _number(
    spec: Mapping[str, Any], field: str, default: float, *, minimum: float, maximum: float, prefix: str = ""
) -> float:
    value = spec.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not minimum <= value <= maximum:
        raise _fail(prefix + field, value, f"a number from {minimum:g} to {maximum:g}")
    return float(value)


def _integer(spec: Mapping[str, Any], field: str, *, minimum: int, maximum: int) -> int | None:
    value = spec.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise _fail(field, value, f"an integer from {minimum} to {maximum}")
    return value


def _duration(spec: Mapping[str, Any], field: str) -> float | None:
    value = spec.get(field)
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise _fail(field, value, "a duration such as '30s', '5m' or '1h30m'") from None
    if seconds <= 0:
        raise _fail(field, value, "a duration longer than 0s")
    return seconds


def _task(spec: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    task, loader_args, resolver = spec.get("task"), spec.get("loaderArgs"), spec.get("resolver")
    if (task is None) == (loader_args is None):
        raise InvalidSpecError(
            "spec: exactly one of spec.task and spec.loaderArgs must be set, "
            f"got task={task!r} and loaderArgs={loader_args!r}"
        )
    if task is not None:
        if resolver is not None:
            raise _fail("resolver", resolver, "no resolver with spec.task (it uses the default resolver)")
        if not isinstance(task, Mapping):
            raise _fail("task", task, "an object {module, name}")
        module = _string(task, "module", pattern=_DOTTED, expected="a dotted module path", prefix="task.")
        name = _string(task, "name", pattern=_IDENTIFIER, expected="a Python identifier", prefix="task.")
        if module is None or name is None:
            raise _fail("task", task, "both task.module and task.name")
        return kubetask.DEFAULT_RESOLVER, ("task-module", module, "task-name", name)
    if not (isinstance(loader_args, list) and loader_args) or not all(
        isinstance(arg, str) for arg in loader_args
    ):
        raise _fail("loaderArgs", loader_args, "a non-empty list of strings")
    chosen = _string(spec, "resolver", pattern=_DOTTED, expected="a dotted path such as 'package.resolver'")
    return chosen or kubetask.DEFAULT_RESOLVER, tuple(loader_args)


def _inputs(spec: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
    inputs, inputs_from = spec.get("inputs"), spec.get("inputsFrom")
    if inputs is not None and inputs_from is not None:
        raise InvalidSpecError("spec: at most one of spec.inputs and spec.inputsFrom may be set")
    if inputs_from is not None:
        return None, _string(
            spec, "inputsFrom", pattern=_URI, expected="a URI such as 's3://bucket/inputs.json'"
        )
    if inputs is None:
        return None, None
    if not isinstance(inputs, Mapping):
        raise _fail("inputs", inputs, "an object mapping parameter names to JSON values")
    payload = json.dumps(inputs, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(payload) > CONFIGMAP_MAX_BYTES:
        raise InvalidSpecError(
            f"spec.inputs: {len(payload)} bytes of JSON, more than the {CONFIGMAP_MAX_BYTES} bytes "
            "a ConfigMap holds; put the inputs in storage and give their URI as spec.inputsFrom"
        )
    return payload, None


def _backoff(spec: Mapping[str, Any]) -> Backoff:
    raw = spec.get("backoff")
    if raw is None:
        return Backoff()
    if not isinstance(raw, Mapping):
        raise _fail("backoff", raw, "an object {initialSeconds, factor, maxSeconds}")
    backoff = Backoff(
        initial_seconds=_number(raw, "initialSeconds", 10.0, minimum=0, maximum=86400, prefix="backoff."),
        factor=_number(raw, "factor", 2.0, minimum=1, maximum=100, prefix="backoff."),
        max_seconds=_number(raw, "maxSeconds", 300.0, minimum=0, maximum=86400, prefix="backoff."),
    )
    if backoff.max_seconds < backoff.initial_seconds:
        expected = f"at least initialSeconds ({backoff.initial_seconds:g})"
        raise _fail("backoff.maxSeconds", backoff.max_seconds, expected)
    return backoff


def _list_of_objects(value: object, field: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise _fail(field, value, "a list of objects")
    return list(value)


def _pod_template(spec: Mapping[str, Any]) -> dict[str, Any]:
    template = spec.get("podTemplate")
    if template is None:
        return {}
    if not isinstance(template, Mapping):
        raise _fail("podTemplate", template, "an object")
    for key in _TEMPLATE_MAPS:
        value = template.get(key)
        if value is not None and (
            not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values())
        ):
            raise _fail(f"podTemplate.{key}", value, "an object of string values")
    for key in _TEMPLATE_LISTS:
        _list_of_objects(template.get(key), f"podTemplate.{key}")
    for key in _TEMPLATE_OBJECTS:
        value = template.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise _fail(f"podTemplate.{key}", value, "an object")
    for key in _TEMPLATE_STRINGS:
        _string(template, key, prefix="podTemplate.")
    volumes = [v.get("name") for v in _list_of_objects(template.get("volumes"), "podTemplate.volumes")]
    for index, name in enumerate(volumes):
        if name in RESERVED_VOLUMES:
            raise _fail(f"podTemplate.volumes[{index}].name", name, f"a name other than {RESERVED_VOLUMES!r}")
    mounts = _list_of_objects(template.get("volumeMounts"), "podTemplate.volumeMounts")
    for index, mount in enumerate(mounts):
        if mount.get("name") not in volumes:
            raise _fail(
                f"podTemplate.volumeMounts[{index}].name",
                mount.get("name"),
                f"one of the podTemplate's volumes {volumes!r}",
            )
        path = mount.get("mountPath")
        if not isinstance(path, str) or not path.startswith("/"):
            raise _fail(f"podTemplate.volumeMounts[{index}].mountPath", path, "an absolute path")
        if path.rstrip("/") == RESERVED_MOUNT_ROOT or path.startswith(RESERVED_MOUNT_ROOT + "/"):
            raise _fail(
                f"podTemplate.volumeMounts[{index}].mountPath",
                path,
                f"a path outside {RESERVED_MOUNT_ROOT} (kubetask mounts its own volumes there)",
            )
    return dict(template)


def _env(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    env = _list_of_objects(spec.get("env"), "env")
    for index, var in enumerate(env):
        name = var.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"env[{index}].name", name, "a variable name")
        if name.startswith("KUBETASK_"):
            raise _fail(f"env[{index}].name", name, "a name not starting with KUBETASK_ (reserved)")
    return env


def _check_nesting(spec: Mapping[str, Any]) -> None:
    """Refuse free-form fields nested past MAX_NESTING first: every later step may recurse through them."""
    for field, value in spec.items():
        path = path_too_deep(value)
        if path is not None:
            raise InvalidSpecError(
                f"{describe_path(f'spec.{field}', path)}: expected at most {MAX_NESTING} levels of nested "
                f"objects and arrays (kubetask's limit for a TaskRun's fields), got more"
            )


def _cache(spec: Mapping[str, Any]) -> tuple[bool, str | None, bool]:
    cache = spec.get("cache")
    if cache is None:
        return False, None, False
    if not isinstance(cache, Mapping) or set(cache) - {"version", "refresh"}:
        raise _fail("cache", cache, "an object {version, refresh}")
    version = _string(
        cache, "version", pattern=_NO_SPACE, expected="a version string such as '2'", prefix="cache."
    )
    refresh = cache.get("refresh", False)
    if not isinstance(refresh, bool):
        raise _fail("cache.refresh", refresh, "true or false")
    return True, version, refresh


def parse_spec(spec: object) -> TaskRunSpec:
    """A checked TaskRunSpec from a TaskRun's ``spec``; raise InvalidSpecError naming the bad field."""
    if not isinstance(spec, Mapping):
        raise InvalidSpecError(f"spec: expected an object, got {spec!r}")
    _check_nesting(spec)
    image = _string(spec, "image", pattern=_NO_SPACE, expected="an image reference such as 'repo/app:1.0'")
    if image is None:
        raise InvalidSpecError("spec.image: required, got nothing")
    policy = spec.get("imagePullPolicy")
    if policy is not None and policy not in _IMAGE_PULL_POLICIES:
        raise _fail("imagePullPolicy", policy, f"one of {', '.join(_IMAGE_PULL_POLICIES)}")
    resolver, loader_args = _task(spec)
    inputs_json, inputs_from = _inputs(spec)
    resources = spec.get("resources")
    if resources is not None and not isinstance(resources, Mapping):
        raise _fail("resources", resources, "an object {requests, limits}")
    cancelled = spec.get("cancelled", False)
    if not isinstance(cancelled, bool):
        raise _fail("cancelled", cancelled, "true or false")
    cache = _cache(spec)
    return TaskRunSpec(
        image=image,
        image_pull_policy=policy,
        resolver=resolver,
        loader_args=loader_args,
        inputs_json=inputs_json,
        inputs_from=inputs_from,
        output_prefix=_string(
            spec, "outputPrefix", pattern=_URI, expected="a URI such as 's3://bucket/runs'"
        ),
        retries=_integer(spec, "retries", minimum=0, maximum=100) or 0,
        backoff=_backoff(spec),
        timeout_seconds=_duration(spec, "timeout"),
        pending_timeout_seconds=_duration(spec, "pendingTimeout"),
        resources=resources,
        env=tuple(_env(spec)),
        env_from=tuple(_list_of_objects(spec.get("envFrom"), "envFrom")),
        service_account_name=_string(spec, "serviceAccountName"),
        pod_template=_pod_template(spec),
        pod_template_name=_string(
            spec,
            "podTemplateName",
            pattern=_DNS_SUBDOMAIN,
            expected="the name of a PodTemplate in the TaskRun's namespace",
        ),
        cancelled=cancelled,
        ttl_seconds_after_finished=_integer(spec, "ttlSecondsAfterFinished", minimum=0, maximum=31536000),
        code=_code(spec),
        queue=_string(
            spec,
            "queue",
            pattern=_DNS_SUBDOMAIN,
            expected="the name of a TaskQueue in the TaskRun's namespace",
        ),
        priority=_integer(spec, "priority", minimum=-1_000_000, maximum=1_000_000) or 0,
        queue_timeout_seconds=_duration(spec, "queueTimeout"),
        cache=cache[0],
        cache_version=cache[1],
        cache_refresh=cache[2],
    )
