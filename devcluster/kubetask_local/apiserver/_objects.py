"""Pure helpers over Kubernetes objects: timestamps, names, server-side defaults of built-in kinds."""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver._errors import invalid

Obj = dict[str, Any]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The alphabet of generateName suffixes in the real server (no vowels, no confusable digits).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_RANDOM = random.Random()


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def timestamp(moment: datetime.datetime | None = None) -> str:
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)


def human_duration(seconds: float) -> str:
    """The age format of kubectl and the server's Table output (``5s``, ``3m``, ``2h``, ``4d``)."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    return f"{days}d" if days < 365 * 2 else f"{days // 365}y"


def generated_name(prefix: str) -> str:
    return prefix + "".join(_RANDOM.choice(_SUFFIX_ALPHABET) for _ in range(5))


def check_name(name: Any, *, kind: str, group: str, label: bool = False) -> None:
    """422 with the real server's wording when a name is not a DNS subdomain (or label)."""
    pattern = _DNS_LABEL if label else _DNS_SUBDOMAIN
    limit = 63 if label else 253
    if not isinstance(name, str) or not pattern.match(name) or len(name) > limit:
        shape = "RFC 1123 label" if label else "RFC 1123 subdomain"
        raise invalid(
            group=group,
            kind=kind,
            name=str(name),
            causes=[
                (
                    "metadata.name",
                    f"Invalid value: {name!r}: a lowercase {shape} must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric character",
                )
            ],
        )


def check_path_segment_name(name: Any, *, kind: str, group: str) -> None:
    """RBAC objects take any name that is a valid path segment (``system:controller:x`` included)."""
    if not isinstance(name, str) or name in (".", "..") or any(char in name for char in "/%"):
        raise invalid(
            group=group,
            kind=kind,
            name=str(name),
            causes=[
                ("metadata.name", f"Invalid value: {name!r}: may not be '.' or '..' or contain '/' or '%'")
            ],
        )


def pod_defaults(pod: dict[str, Any]) -> dict[str, Any]:
    """Defaults the real API server fills into a pod spec (the ones clients and kubelets read)."""
    spec = dict(pod.get("spec") or {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    for field in ("containers", "initContainers"):
        if isinstance(spec.get(field), list):
            spec[field] = [_container_defaults(container) for container in spec[field]]
    return {**pod, "spec": spec}


def _container_defaults(container: Any) -> Any:
    if not isinstance(container, Mapping):
        return container
    result = dict(container)
    image = str(result.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    pulls_latest = (":" not in tag and "@" not in tag) or tag.endswith(":latest")
    result.setdefault("imagePullPolicy", "Always" if pulls_latest else "IfNotPresent")
    result.setdefault("terminationMessagePath", "/dev/termination-log")
    result.setdefault("terminationMessagePolicy", "File")
    result.setdefault("resources", {})
    return result


def pod_qos_class(pod: Mapping[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    requests_seen = limits_equal = True
    any_resources = False
    for container in containers:
        resources = container.get("resources") or {} if isinstance(container, Mapping) else {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        if limits or requests:
            any_resources = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                limits_equal = False
        requests_seen = requests_seen and bool(limits or requests)
    if not any_resources:
        return "BestEffort"
    return "Guaranteed" if limits_equal else "Burstable"


_MUTABLE_POD_FIELDS = (
    "activeDeadlineSeconds",
    "tolerations",
    "terminationGracePeriodSeconds",
    "schedulingGates",
)


def _comparable_pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    result = {key: value for key, value in spec.items() if key not in _MUTABLE_POD_FIELDS}
    for field in ("containers", "initContainers"):
        if isinstance(result.get(field), list):
            result[field] = [
                {k: v for k, v in container.items() if k != "image"}
                if isinstance(container, Mapping)
                else container
                for container in result[field]
            ]
    return result


def pod_update_causes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A pod's spec is immutable except images and a few scheduling fields, as in the real server."""
    if _comparable_pod_spec(old.get("spec") or {}) == _comparable_pod_spec(new.get("spec") or {}):
        return []
    return [
        (
            "spec",
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
            "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
            "was previously negative)",
        )
    ]


def object_meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def owner_uids(obj: Mapping[str, Any] | None) -> set[str]:
    refs = object_meta(obj or {}).get("ownerReferences") or []
    return {ref["uid"] for ref in refs if isinstance(ref, dict) and isinstance(ref.get("uid"), str)}
