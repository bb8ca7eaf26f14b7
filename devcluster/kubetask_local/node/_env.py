"""Pure resolution of a container's environment as the kubelet does it.

``envFrom`` first (prefix applied, keys that are not valid variable names skipped), then ``env`` in order,
each value expanded with ``$(VAR)`` references to what is defined so far; ``$$`` escapes a ``$``.
References to ConfigMaps and Secrets are answered from objects the caller fetched beforehand
(see :func:`referenced_objects`); a missing non-optional one raises :class:`PodConfigError` with the
kubelet's message, which the node reports as ``CreateContainerConfigError``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubetask_local.node._errors import PodConfigError

Kind = Literal["ConfigMap", "Secret"]
ObjectKey = tuple[Kind, str]  # (kind, name) in the pod's namespace
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


@dataclass(frozen=True)
class PodNetwork:
    """What ``status.hostIP``/``status.podIP`` and ``spec.nodeName`` resolve to on this node."""

    node_name: str
    host_ip: str = "127.0.0.1"
    pod_ip: str = "127.0.0.1"


def referenced_objects(pod: Mapping[str, Any]) -> set[ObjectKey]:
    """Every ConfigMap and Secret the pod's containers and volumes refer to."""
    spec = pod.get("spec") or {}
    found: set[ObjectKey] = set()
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                found.add(("ConfigMap", source["configMapRef"].get("name", "")))
            if "secretRef" in source:
                found.add(("Secret", source["secretRef"].get("name", "")))
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            if "configMapKeyRef" in value_from:
                found.add(("ConfigMap", value_from["configMapKeyRef"].get("name", "")))
            if "secretKeyRef" in value_from:
                found.add(("Secret", value_from["secretKeyRef"].get("name", "")))
    for volume in spec.get("volumes") or []:
        if "configMap" in volume:
            found.add(("ConfigMap", volume["configMap"].get("name", "")))
        if "secret" in volume:
            found.add(("Secret", volume["secret"].get("secretName", "")))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                found.add(("ConfigMap", source["configMap"].get("name", "")))
            if "secret" in source:
                found.add(("Secret", source["secret"].get("name", "")))
    return found


def object_data(obj: Mapping[str, Any], kind: Kind) -> dict[str, bytes]:
    """A ConfigMap's ``data``+``binaryData`` or a Secret's decoded ``data`` (+ ``stringData``) as bytes."""
    result: dict[str, bytes] = {}
    if kind == "ConfigMap":
        result.update({key: str(value).encode() for key, value in (obj.get("data") or {}).items()})
        result.update({key: _b64(value) for key, value in (obj.get("binaryData") or {}).items()})
    else:
        result.update({key: _b64(value) for key, value in (obj.get("data") or {}).items()})
        result.update({key: str(value).encode() for key, value in (obj.get("stringData") or {}).items()})
    return result


def _b64(value: object) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return str(value).encode()


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined names replaced, others left as written, ``$$`` -> ``$``."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "$" and index + 1 < len(text):
            following = text[index + 1]
            if following == "$":
                out.append("$")
                index += 2
                continue
            if following == "(":
                close = text.find(")", index + 2)
                if close != -1:
                    name = text[index + 2 : close]
                    out.append(variables.get(name, text[index : close + 1]))
                    index = close + 1
                    continue
        out.append(char)
        index += 1
    return "".join(out)


def field_value(pod: Mapping[str, Any], path: str, *, network: PodNetwork) -> str:
    """The value of a downward-API ``fieldRef.fieldPath``."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": metadata.get("name", ""),
        "metadata.namespace": metadata.get("namespace", ""),
        "metadata.uid": metadata.get("uid", ""),
        "spec.nodeName": network.node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": network.host_ip,
        "status.hostIPs": network.host_ip,
        "status.podIP": network.pod_ip,
        "status.podIPs": network.pod_ip,
    }
    if path in simple:
        return str(simple[path])
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((metadata.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((metadata.get(path.split(".")[1]) or {}).items())
        return "".join(f'{key}="{value}"\n' for key, value in items)
    raise PodConfigError(
        f"unsupported fieldRef.fieldPath {path!r} (expected e.g. 'metadata.name', "
        f"\"metadata.labels['key']\", 'status.podIP')"
    )


def resolve_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    network: PodNetwork,
) -> dict[str, str]:
    """The container's environment variables, in definition order, as the kubelet would set them."""
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for kind, ref_field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if ref_field not in source:
                continue
            ref = source[ref_field] or {}
            obj = objects.get((kind, ref.get("name", "")))  # type: ignore[arg-type]
            if obj is None:
                if ref.get("optional"):
                    continue
                raise PodConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
            for key, value in object_data(obj, kind).items():  # type: ignore[arg-type]
                if _ENV_NAME.match(prefix + key):
                    env[prefix + key] = value.decode(errors="replace")
    for var in container.get("env") or []:
        name = var.get("name", "")
        value_from = var.get("valueFrom")
        if value_from is None:
            env[name] = expand(str(var.get("value") or ""), env)
            continue
        resolved = _value_from(
            pod, container, value_from, objects=objects, network=network, namespace=namespace
        )
        if resolved is not None:
            env[name] = resolved
    return env


def _value_from(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    value_from: Mapping[str, Any],
    *,
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    network: PodNetwork,
    namespace: str,
) -> str | None:
    if "fieldRef" in value_from:
        return field_value(pod, (value_from["fieldRef"] or {}).get("fieldPath", ""), network=network)
    if "resourceFieldRef" in value_from:
        ref = value_from["resourceFieldRef"] or {}
        section, _, resource = str(ref.get("resource", "")).partition(".")
        value = ((container.get("resources") or {}).get(section) or {}).get(resource)
        return str(value) if value is not None else "0"
    for kind, ref_field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
        if ref_field not in value_from:
            continue
        ref = value_from[ref_field] or {}
        name, key = ref.get("name", ""), ref.get("key", "")
        obj = objects.get((kind, name))  # type: ignore[arg-type]
        if obj is None:
            if ref.get("optional"):
                return None
            raise PodConfigError(f'{kind.lower()} "{name}" not found')
        data = object_data(obj, kind)  # type: ignore[arg-type]
        if key not in data:
            if ref.get("optional"):
                return None
            raise PodConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
        return data[key].decode(errors="replace")
    raise PodConfigError(
        f"env valueFrom {dict(value_from)!r} has no source the local node supports "
        f"(expected fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef)"
    )
