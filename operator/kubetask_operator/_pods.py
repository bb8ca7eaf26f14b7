"""Pure builders of what an attempt needs: its pod and, for large inputs, the inputs ConfigMap.

No I/O: the same TaskRun, attempt and settings always give the same objects, which is what makes pod
creation idempotent and these functions easy to test against the official Pod schema.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import kubetask
from kubetask_api import RESERVED_MOUNT_ROOT
from kubetask_operator._crd import API_VERSION, KIND
from kubetask_operator._errors import InvalidSpecError
from kubetask_operator._naming import (
    ANNOTATION_TASKRUN,
    LABEL_ATTEMPT,
    inputs_configmap_name,
    owned_labels,
    pod_name,
)
from kubetask_operator._observe import CONTAINER_NAME
from kubetask_operator._podsecurity import Violation, violations
from kubetask_operator._podtemplates import value_at, with_pod_template
from kubetask_operator._settings import Settings
from kubetask_operator._spec import CODE_FILE, INPUTS_FILE, TaskRunSpec

SCRATCH_MOUNT = f"{RESERVED_MOUNT_ROOT}/scratch"
INPUTS_MOUNT = f"{RESERVED_MOUNT_ROOT}/inputs"
CODE_MOUNT = f"{RESERVED_MOUNT_ROOT}/code"
SCRATCH_OUTPUT_PREFIX = f"{SCRATCH_MOUNT}/outputs"
# Where the container's termination message goes: set as the container's terminationMessagePath and
# handed to the runtime as KUBETASK_TERMINATION_MESSAGE_PATH, so the two always agree.
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
# The pod-level backstop deadline (enforced by the kubelet even while the operator is down) leaves the
# operator this much time to stop a timed-out attempt itself, with the right reason, first.
DEADLINE_SLACK_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class TaskRunRef:
    """Who owns the objects: the TaskRun's identity."""

    name: str
    namespace: str
    uid: str

    @classmethod
    def of(cls, taskrun: Mapping[str, Any]) -> TaskRunRef:
        metadata = taskrun.get("metadata") or {}
        return cls(name=str(metadata["name"]), namespace=str(metadata["namespace"]), uid=str(metadata["uid"]))

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def default_security_context() -> dict[str, Any]:
    """The task container's secure default; ``podTemplate.securityContext`` is merged over it."""
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def storage_base(spec: TaskRunSpec, ref: TaskRunRef, settings: Settings) -> str | None:
    """Where the TaskRun's attempts write (each under ``/<attempt>``), or None without storage."""
    if spec.output_prefix is not None:
        return spec.output_prefix.rstrip("/")
    if settings.storage_prefix is not None:
        return f"{settings.storage_prefix}/{ref.namespace}/{ref.name}"
    return None


def output_prefix(spec: TaskRunSpec, ref: TaskRunRef, settings: Settings, attempt: int) -> str:
    base = storage_base(spec, ref, settings)
    return f"{base}/{attempt}" if base is not None else SCRATCH_OUTPUT_PREFIX


def needs_inputs_configmap(spec: TaskRunSpec, settings: Settings) -> bool:
    return spec.inputs_json is not None and len(spec.inputs_json) > settings.inline_inputs_max_bytes


def inputs_uri(spec: TaskRunSpec, settings: Settings) -> str:
    if spec.inputs_from is not None:
        return spec.inputs_from
    if needs_inputs_configmap(spec, settings):
        return f"{INPUTS_MOUNT}/{INPUTS_FILE}"
    return kubetask.data_uri(spec.inputs_json if spec.inputs_json is not None else b"{}")


def build_inputs_configmap(spec: TaskRunSpec, ref: TaskRunRef) -> dict[str, Any]:
    """The ConfigMap of inputs too large for the command line, owned by (deleted with) the TaskRun."""
    if spec.inputs_json is None:
        raise ValueError("build_inputs_configmap: the spec has no inline inputs")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": inputs_configmap_name(ref.name, ref.uid),
            "namespace": ref.namespace,
            "labels": owned_labels(ref.name, ref.uid),
            "annotations": {ANNOTATION_TASKRUN: ref.name},
            "ownerReferences": [ref.owner_reference()],
        },
        "immutable": True,
        "data": {INPUTS_FILE: spec.inputs_json.decode("utf-8")},
    }


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` deep-merged over ``base`` (objects merge key by key; everything else replaces)."""
    result = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def escape_expansion(argument: str) -> str:
    """``argument`` as the kubelet must pass it on unchanged: it expands ``$(VAR)`` in a container's command
    and args, and ``$$`` is its escape for a literal ``$`` (kubernetes/kubernetes
    third_party/forked/golang/expansion/expand.go, applied by pkg/kubelet/container/helpers.go
    ExpandContainerCommandAndArgs)."""
    return argument.replace("$", "$$")


def _command(spec: TaskRunSpec, ref: TaskRunRef, settings: Settings, attempt: int) -> list[str]:
    """The container's command, every argument escaped: loader args, URIs and prefixes are the user's
    strings, and a ``$(KUBETASK_ATTEMPT)`` in them must reach ``kubetask-execute`` as written."""
    base = storage_base(spec, ref, settings)
    checkpoint = f"{base}/{attempt}/checkpoint" if base is not None else None
    previous = f"{base}/{attempt - 1}/checkpoint" if base is not None and attempt > 1 else None
    command = kubetask.build_execute_command(
        inputs=inputs_uri(spec, settings),
        output_prefix=output_prefix(spec, ref, settings, attempt),
        loader_args=spec.loader_args,
        resolver=spec.resolver,
        checkpoint_path=checkpoint,
        prev_checkpoint=previous,
        **_code_options(spec),
    )
    return [escape_expansion(argument) for argument in command]


def _code_options(spec: TaskRunSpec) -> dict[str, str]:
    """``--code-uri``/``--code-sha256``: a ConfigMap's archive is read from where it is mounted."""
    if spec.code is None:
        return {}
    uri = f"{CODE_MOUNT}/{CODE_FILE}" if spec.code.configmap is not None else spec.code.uri
    return {"code_uri": uri, "code_sha256": spec.code.sha256}


def _container(spec: TaskRunSpec, ref: TaskRunRef, settings: Settings, attempt: int) -> dict[str, Any]:
    template = spec.pod_template
    env: list[Mapping[str, Any]] = [
        {"name": "KUBETASK_RUN_NAME", "value": ref.name},
        {"name": "KUBETASK_NAMESPACE", "value": ref.namespace},
        {"name": "KUBETASK_ATTEMPT", "value": str(attempt)},
        {"name": "KUBETASK_TERMINATION_MESSAGE_PATH", "value": TERMINATION_MESSAGE_PATH},
    ]
    if spec.code is not None:  # shipped code is unpacked in the scratch volume, not the image's file system
        env.append({"name": "KUBETASK_SCRATCH_DIR", "value": SCRATCH_MOUNT})
    mounts: list[Mapping[str, Any]] = [{"name": "kubetask-scratch", "mountPath": SCRATCH_MOUNT}]
    if needs_inputs_configmap(spec, settings):
        mounts.append({"name": "kubetask-inputs", "mountPath": INPUTS_MOUNT, "readOnly": True})
    if spec.code is not None and spec.code.configmap is not None:
        mounts.append({"name": "kubetask-code", "mountPath": CODE_MOUNT, "readOnly": True})
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "command": _command(spec, ref, settings, attempt),
        "env": copy.deepcopy([*env, *spec.env]),
        "volumeMounts": copy.deepcopy([*mounts, *(template.get("volumeMounts") or [])]),
        "terminationMessagePath": TERMINATION_MESSAGE_PATH,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": _merged(default_security_context(), template.get("securityContext") or {}),
    }
    if spec.image_pull_policy is not None:
        container["imagePullPolicy"] = spec.image_pull_policy
    # The operator's storage Secret first: Kubernetes lets a later envFrom source win a duplicate key, and
    # any env entry win over every envFrom, so the TaskRun's own env and envFrom override its variables.
    storage: list[Mapping[str, Any]] = (
        [{"secretRef": {"name": settings.storage_secret}}] if settings.storage_secret else []
    )
    if storage or spec.env_from:
        container["envFrom"] = copy.deepcopy([*storage, *spec.env_from])
    resources = spec.resources if spec.resources is not None else settings.default_resources
    if resources:
        container["resources"] = copy.deepcopy(dict(resources))
    return container


def _volumes(spec: TaskRunSpec, ref: TaskRunRef, settings: Settings) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [{"name": "kubetask-scratch", "emptyDir": {}}]
    if needs_inputs_configmap(spec, settings):
        volumes.append(
            {"name": "kubetask-inputs", "configMap": {"name": inputs_configmap_name(ref.name, ref.uid)}}
        )
    if spec.code is not None and spec.code.configmap is not None:
        volumes.append({"name": "kubetask-code", "configMap": {"name": spec.code.configmap}})
    return volumes + copy.deepcopy(list(spec.pod_template.get("volumes") or []))


_VOLUME_PATH = re.compile(r"spec\.volumes\[(\d+)\](.*)")


def _taskrun_field(path: str, kubetask_volumes: int) -> str:
    """The TaskRun field that put ``path`` (a field of the built pod) there."""
    for pod_prefix, taskrun_prefix in (
        ("spec.containers[0].securityContext", "spec.podTemplate.securityContext"),
        ("spec.securityContext", "spec.podTemplate.podSecurityContext"),
        ("metadata.annotations", "spec.podTemplate.annotations"),
    ):
        if path == pod_prefix or path.startswith((pod_prefix + ".", pod_prefix + "[")):
            return taskrun_prefix + path[len(pod_prefix) :]
    volume = _VOLUME_PATH.fullmatch(path)
    if volume is not None and int(volume.group(1)) >= kubetask_volumes:
        return f"spec.podTemplate.volumes[{int(volume.group(1)) - kubetask_volumes}]{volume.group(2)}"
    return f"the pod's {path}"


def _named_field(path: str, *, value: object, own_pod: Mapping[str, Any], spec: TaskRunSpec) -> str:
    """Where the value at ``path`` of the pod came from: the TaskRun's field, or its PodTemplate."""
    if spec.pod_template_name is not None and value_at(own_pod, path) != value:
        return f"the pod's {path} (from PodTemplate {spec.pod_template_name!r}, spec.podTemplateName)"
    own_volumes = len(spec.pod_template.get("volumes") or [])
    volumes = value_at(own_pod, "spec.volumes")
    return _taskrun_field(path, (len(volumes) if isinstance(volumes, list) else 0) - own_volumes)


def _policy_error(
    found: list[Violation], ref: TaskRunRef, settings: Settings, own_pod: Mapping[str, Any], spec: TaskRunSpec
) -> str:
    level = settings.pod_security_level_of(ref.namespace)
    problems = "; ".join(
        f"{_named_field(v.path, value=v.value, own_pod=own_pod, spec=spec)}: expected {v.expected}, "
        f"got {json.dumps(v.value)}"
        for v in found
    )
    return (
        f"{problems} (the Pod Security Standards level {level!r}, which the operator enforces on task pods "
        f"in namespace {ref.namespace!r}, forbids it)"
    )


def _comparable(uri: str) -> str:
    """``uri`` as storage reads it, for comparing prefixes: percent-decoded (``file://`` URIs are), and a
    local ``file://`` URI as its path."""
    text = urllib.parse.unquote(uri)
    for local in ("file://localhost/", "file:///"):
        if text.startswith(local):
            return "/" + text[len(local) :]
    return text


def namespace_storage(ref: TaskRunRef, settings: Settings) -> str | None:
    """The part of the storage a TaskRun may name in ``outputPrefix`` and ``inputsFrom``, or None when the
    operator confines nothing (no storage prefix, or confinement turned off)."""
    if settings.storage_prefix is None or settings.storage_confinement == "none":
        return None
    return f"{settings.storage_prefix}/{ref.namespace}/"


def _check_storage(spec: TaskRunSpec, ref: TaskRunRef, settings: Settings) -> None:
    allowed = namespace_storage(ref, settings)
    if allowed is None:
        return
    for field, uri in (("outputPrefix", spec.output_prefix), ("inputsFrom", spec.inputs_from)):
        if uri is None or (field == "inputsFrom" and uri.startswith("data:")):
            continue
        comparable = _comparable(uri)
        segments = comparable.split("?", 1)[0].split("/")
        if not comparable.startswith(_comparable(allowed)) or ".." in segments:
            also = " or a data: URI" if field == "inputsFrom" else ""
            raise InvalidSpecError(
                f"spec.{field}: expected a URI under {allowed!r}{also} (the operator confines each "
                f"namespace's TaskRuns to their own part of the storage; KUBETASK_STORAGE_CONFINEMENT), "
                f"got {uri!r}"
            )


def check_policy(
    pod: Mapping[str, Any],
    spec: TaskRunSpec,
    ref: TaskRunRef,
    settings: Settings,
    *,
    own_pod: Mapping[str, Any] | None = None,
) -> None:
    """Raise InvalidSpecError naming each field of the TaskRun that breaks the operator's policy: storage
    confined to the namespace's part, the ServiceAccounts TaskRuns may name, and the Pod Security Standards
    level of the namespace. ``own_pod`` is the pod before a PodTemplate was merged under it."""
    _check_storage(spec, ref, settings)
    account = (pod.get("spec") or {}).get("serviceAccountName")
    if account is not None and not settings.allows_service_account(ref.namespace, account):
        allowed = ", ".join(sorted(settings.service_accounts)) or "none"
        field = "spec.serviceAccountName"
        if spec.service_account_name is None:
            field = (
                f"PodTemplate {spec.pod_template_name!r} (spec.podTemplateName): template.spec.{field[5:]}"
            )
        raise InvalidSpecError(
            f"{field}: expected a ServiceAccount the operator allows TaskRuns to name "
            f"(allowed: {allowed}; the operator setting KUBETASK_SERVICE_ACCOUNTS), got {account!r}"
        )
    found = violations(pod, settings.pod_security_level_of(ref.namespace))
    if found:
        raise InvalidSpecError(_policy_error(found, ref, settings, own_pod or pod, spec))


def missing_pod_template(spec: TaskRunSpec, ref: TaskRunRef) -> str:
    """The refusal of a TaskRun whose ``spec.podTemplateName`` names no PodTemplate."""
    return (
        f"spec.podTemplateName: expected the name of a PodTemplate in namespace {ref.namespace!r}, "
        f"got {spec.pod_template_name!r}, which does not exist there"
    )


def build_pod(
    spec: TaskRunSpec,
    ref: TaskRunRef,
    settings: Settings,
    attempt: int,
    *,
    pod_template: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The pod of ``attempt`` (1-based) of the TaskRun ``ref``, with ``pod_template`` (the PodTemplate the
    spec names, read by the caller) merged under it; InvalidSpecError when the operator's policy
    (``check_policy``) forbids it."""
    template = spec.pod_template
    labels = {
        **(template.get("labels") or {}),
        **owned_labels(ref.name, ref.uid),
        LABEL_ATTEMPT: str(attempt),
    }
    annotations = {**(template.get("annotations") or {}), ANNOTATION_TASKRUN: ref.name}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [_container(spec, ref, settings, attempt)],
        "volumes": _volumes(spec, ref, settings),
        "enableServiceLinks": False,
        "automountServiceAccountToken": spec.service_account_name is not None,
    }
    if spec.service_account_name is not None:
        pod_spec["serviceAccountName"] = spec.service_account_name
    if spec.timeout_seconds is not None and spec.pending_timeout_seconds is not None:
        backstop = spec.timeout_seconds + spec.pending_timeout_seconds + DEADLINE_SLACK_SECONDS
        pod_spec["activeDeadlineSeconds"] = math.ceil(backstop)
    for key in ("nodeSelector", "affinity", "priorityClassName", "runtimeClassName"):
        if template.get(key):
            pod_spec[key] = copy.deepcopy(template[key])
    for key in ("tolerations", "imagePullSecrets", "topologySpreadConstraints"):
        if template.get(key):
            pod_spec[key] = copy.deepcopy(list(template[key]))
    if template.get("podSecurityContext"):
        pod_spec["securityContext"] = copy.deepcopy(dict(template["podSecurityContext"]))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(ref.name, ref.uid, attempt),
            "namespace": ref.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [ref.owner_reference()],
        },
        "spec": pod_spec,
    }
    if spec.pod_template_name is None:
        check_policy(pod, spec, ref, settings)
        return pod
    if pod_template is None:
        raise InvalidSpecError(missing_pod_template(spec, ref))
    merged = with_pod_template(pod, pod_template, spec.pod_template_name)
    check_policy(merged, spec, ref, settings, own_pod=pod)
    return merged
