"""Validation of built-in objects that schemas cannot express, worded as the real server words it.

What the OpenAPI types say is checked while decoding (``_typed``); this module holds the rules of
k8s.io/apimachinery/pkg/api/validation/objectmeta.go (names, labels, annotations, owner references,
finalizers), k8s.io/apimachinery/pkg/util/validation/validation.go (the name and key formats and their
messages) and k8s.io/kubernetes/pkg/apis/core/validation/validation.go (pods, ConfigMaps, Secrets) that the
operator, the chart and kubetask's users can trip. Every function is pure: causes in, no I/O.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kubetask_local.apiserver._typed import parse_quantity

Causes = list[tuple[str, str]]

# objectmeta.go: TotalAnnotationSizeLimitB; core/types.go: MaxSecretSize (also the ConfigMap limit).
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
MAX_SECRET_SIZE = 1024 * 1024
_MAX_INT32 = 2**31 - 1

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
IMMUTABLE_MSG = "field is immutable"
_IMMUTABLE_WHEN_SET = "Forbidden: field is immutable when `immutable` is set"

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError: the message, examples and the regex, exactly as Go builds it."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def show(value: Any) -> str:
    """How field.Invalid shows a value: Go-quoted strings, plain numbers."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else json.dumps(value)


def invalid_value(value: Any, detail: str) -> str:
    return f"Invalid value: {show(value)}: {detail}"


def not_supported(value: Any, supported: Iterable[str]) -> str:
    return f"Unsupported value: {show(value)}: supported values: " + ", ".join(
        json.dumps(item) for item in supported
    )


def _fullmatch(fmt: str, value: str) -> bool:
    return re.fullmatch(fmt, value) is not None


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _fullmatch(_DNS1123_LABEL_FMT, value):
        if _fullmatch(_DNS1123_SUBDOMAIN_FMT, value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _fullmatch(_DNS1123_SUBDOMAIN_FMT, value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def qualified_name_errors(value: str) -> list[str]:
    """validation.IsQualifiedName: label keys, annotation keys, finalizers."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + message for message in dns1123_subdomain_errors(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _fullmatch(_QUALIFIED_NAME_FMT, name):
        errs.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _fullmatch(_LABEL_VALUE_FMT, value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def config_map_key_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _fullmatch(_CONFIG_MAP_KEY_FMT, value):
        errs.append(regex_error(_CONFIG_MAP_KEY_MSG, _CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value in (".", ".."):
        errs.append(f"must not be '{value}'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


# ---------------------------------------------------------------------- metadata (every kind)


def metadata_causes(meta: Mapping[str, Any]) -> Causes:
    """ValidateObjectMeta's checks of labels, annotations, owner references and finalizers."""
    causes: Causes = []
    for key, value in (meta.get("labels") or {}).items():
        causes.extend(
            ("metadata.labels", invalid_value(key, message)) for message in qualified_name_errors(key)
        )
        causes.extend(
            ("metadata.labels", invalid_value(value, message)) for message in label_value_errors(str(value))
        )
    annotations = meta.get("annotations") or {}
    for key in annotations:
        causes.extend(
            ("metadata.annotations", invalid_value(key, message))
            for message in qualified_name_errors(key.lower())
        )
    if sum(len(key) + len(str(value)) for key, value in annotations.items()) > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(
            ("metadata.annotations", f"Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes")
        )
    causes.extend(_owner_reference_causes(meta.get("ownerReferences") or []))
    for finalizer in meta.get("finalizers") or []:
        causes.extend(
            ("metadata.finalizers", invalid_value(finalizer, message))
            for message in qualified_name_errors(str(finalizer))
        )
    return causes


def _owner_reference_causes(references: list[Any]) -> Causes:
    causes: Causes = []
    path = "metadata.ownerReferences"
    first_controller = ""
    for reference in references:
        if not isinstance(reference, Mapping):
            continue
        api_version = str(reference.get("apiVersion") or "")
        if not api_version.rsplit("/", 1)[-1]:
            causes.append((f"{path}.apiVersion", invalid_value(api_version, "version must not be empty")))
        for field in ("kind", "name", "uid"):
            if not reference.get(field):
                causes.append(
                    (f"{path}.{field}", invalid_value(str(reference.get(field) or ""), "must not be empty"))
                )
        if api_version == "v1" and reference.get("kind") == "Event":
            causes.append(
                (path, 'Invalid value: "object": /v1, Kind=Event is disallowed from being an owner')
            )
        if reference.get("controller") is True:
            current = f"{reference.get('kind')}/{reference.get('name')}"
            if first_controller:
                causes.append(
                    (
                        path,
                        'Invalid value: "array": Only one reference can have Controller set to true. '
                        f'Found "true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return causes


# ---------------------------------------------------------------------- pods


def pod_causes(pod: Mapping[str, Any]) -> Causes:
    """ValidatePodSpec's rules for what a pod runs, mounts and asks for."""
    spec = pod.get("spec") or {}
    causes: Causes = []
    volumes = spec.get("volumes") or []
    volume_names: set[str] = set()
    for index, volume in enumerate(volumes):
        name = str(volume.get("name") or "")
        path = f"spec.volumes[{index}].name"
        if not name:
            causes.append((path, "Required value"))
            continue
        causes.extend((path, invalid_value(name, message)) for message in dns1123_label_errors(name))
        if name in volume_names:
            causes.append((path, f"Duplicate value: {show(name)}"))
        volume_names.add(name)
    containers = spec.get("containers") or []
    if not containers:
        causes.append(("spec.containers", "Required value"))
    names: set[str] = set()
    for field in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(field) or []):
            causes.extend(_container_causes(container, f"spec.{field}[{index}]", names, volume_names))
    restart = spec.get("restartPolicy")
    if restart is not None and restart not in RESTART_POLICIES:
        causes.append(("spec.restartPolicy", not_supported(restart, RESTART_POLICIES)))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in DNS_POLICIES:
        causes.append(("spec.dnsPolicy", not_supported(dns, DNS_POLICIES)))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= _MAX_INT32:
        causes.append(
            (
                "spec.activeDeadlineSeconds",
                invalid_value(deadline, f"must be between 1 and {_MAX_INT32}, inclusive"),
            )
        )
    return causes


def _container_causes(
    container: Mapping[str, Any], path: str, names: set[str], volume_names: set[str]
) -> Causes:
    causes: Causes = []
    name = str(container.get("name") or "")
    if not name:
        causes.append((f"{path}.name", "Required value"))
    else:
        causes.extend(
            (f"{path}.name", invalid_value(name, message)) for message in dns1123_label_errors(name)
        )
        if name in names:
            causes.append((f"{path}.name", f"Duplicate value: {show(name)}"))
        names.add(name)
    if not container.get("image"):
        causes.append((f"{path}.image", "Required value"))
    pull = container.get("imagePullPolicy")
    if pull is not None and pull not in PULL_POLICIES:
        causes.append((f"{path}.imagePullPolicy", not_supported(pull, PULL_POLICIES)))
    message_policy = container.get("terminationMessagePolicy")
    if message_policy is not None and message_policy not in TERMINATION_MESSAGE_POLICIES:
        causes.append(
            (f"{path}.terminationMessagePolicy", not_supported(message_policy, TERMINATION_MESSAGE_POLICIES))
        )
    mount_paths: set[str] = set()
    for index, mount in enumerate(container.get("volumeMounts") or []):
        mount_path = f"{path}.volumeMounts[{index}]"
        mount_name = str(mount.get("name") or "")
        if not mount_name:
            causes.append((f"{mount_path}.name", "Required value"))
        elif mount_name not in volume_names:
            causes.append((f"{mount_path}.name", f"Not found: {show(mount_name)}"))
        target = str(mount.get("mountPath") or "")
        if not target:
            causes.append((f"{mount_path}.mountPath", "Required value"))
        elif target in mount_paths:
            causes.append((f"{mount_path}.mountPath", invalid_value(target, "must be unique")))
        mount_paths.add(target)
    causes.extend(resource_requirement_causes(container.get("resources") or {}, f"{path}.resources"))
    return causes


def resource_requirement_causes(resources: Mapping[str, Any], path: str) -> Causes:
    """ValidateResourceRequirements: quantities not negative, requests not above limits."""
    causes: Causes = []
    limits: dict[str, decimal.Decimal] = {}
    for section in ("limits", "requests"):
        for name, text in (resources.get(section) or {}).items():
            value = parse_quantity(str(text))
            if value is None:
                continue  # the decoder refused it already
            if value < 0:
                causes.append(
                    (
                        f"{path}.{section}[{name}]",
                        invalid_value(str(text), "must be greater than or equal to 0"),
                    )
                )
            if section == "limits":
                limits[name] = value
            elif name in limits and value > limits[name]:
                limit_text = (resources.get("limits") or {})[name]
                causes.append(
                    (
                        f"{path}.requests",
                        invalid_value(
                            str(text), f"must be less than or equal to {name} limit of {limit_text}"
                        ),
                    )
                )
    return causes


# ---------------------------------------------------------------------- ConfigMaps and Secrets


def config_map_causes(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> Causes:
    causes: Causes = []
    total = 0
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    for key, value in data.items():
        causes.extend((f"data[{key}]", invalid_value(key, message)) for message in config_map_key_errors(key))
        total += len(str(value).encode())
    for key, value in binary.items():
        causes.extend(
            (f"binaryData[{key}]", invalid_value(key, message)) for message in config_map_key_errors(key)
        )
        total += len(value) * 3 // 4
        if key in data:
            causes.append(
                (f"binaryData[{key}]", invalid_value(key, "duplicate key in both data and binaryData"))
            )
    if total > MAX_SECRET_SIZE:
        causes.append(("", f"Too long: must have at most {MAX_SECRET_SIZE} bytes"))
    if old is not None and old.get("immutable") is True:
        if obj.get("immutable") is not True:
            causes.append(("immutable", _IMMUTABLE_WHEN_SET))
        if (obj.get("data") or {}) != (old.get("data") or {}):
            causes.append(("data", _IMMUTABLE_WHEN_SET))
        if (obj.get("binaryData") or {}) != (old.get("binaryData") or {}):
            causes.append(("binaryData", _IMMUTABLE_WHEN_SET))
    return causes


def secret_causes(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> Causes:
    causes: Causes = []
    total = 0
    for key, value in (obj.get("data") or {}).items():
        causes.extend((f"data[{key}]", invalid_value(key, message)) for message in config_map_key_errors(key))
        total += len(str(value)) * 3 // 4 - str(value).count("=")
    if total > MAX_SECRET_SIZE:
        causes.append(("data", f"Too long: must have at most {MAX_SECRET_SIZE} bytes"))
    if old is not None:
        if obj.get("type") != old.get("type"):
            causes.append(("type", invalid_value(obj.get("type"), IMMUTABLE_MSG)))
        if old.get("immutable") is True:
            if obj.get("immutable") is not True:
                causes.append(("immutable", _IMMUTABLE_WHEN_SET))
            if (obj.get("data") or {}) != (old.get("data") or {}):
                causes.append(("data", _IMMUTABLE_WHEN_SET))
    return causes


def builtin_causes(group: str, plural: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> Causes:
    """The hand-written rules of one built-in kind (metadata rules are separate: every kind has them)."""
    if group:
        return []
    if plural == "pods" and old is None:
        return pod_causes(obj)
    if plural == "configmaps":
        return config_map_causes(obj, old)
    if plural == "secrets":
        return secret_causes(obj, old)
    return []
