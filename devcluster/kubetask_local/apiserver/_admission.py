"""Admission plugins of a default kube-apiserver that the operator's failure paths meet: ServiceAccount,
DefaultTolerationSeconds, Priority, RuntimeClass, Pod Security Admission and ResourceQuota. Pure functions
over objects; the store supplies what they read.

Sources (kubernetes/kubernetes):
- plugin/pkg/admission/serviceaccount/admission.go (the ``default`` account, "error looking up service
  account %s/%s: %w", shouldAutomount, mountServiceAccountToken and TokenVolumeSource)
- plugin/pkg/admission/defaulttolerationseconds/admission.go (not-ready and unreachable, 300 s)
- plugin/pkg/admission/runtimeclass/admission.go ('pod rejected: RuntimeClass "%s" not found')
- plugin/pkg/admission/priority/admission.go ("no PriorityClass with name %v was found", the two
  system classes of pkg/apis/scheduling: system-cluster-critical 2000000000, system-node-critical
  2000001000)
- staging/src/k8s.io/pod-security-admission/policy/check_*.go (each check's reason and detail),
  admission/admission.go (``violates PodSecurity "%s:%s": %s``, warnings ``would violate PodSecurity``)
- staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go ("exceeded quota: %s,
  requested: %s, used: %s, limited: %s", "failed quota: %s: must specify %s")
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubetask_local.apiserver._errors import ApiError
from kubetask_local.apiserver._typed import parse_quantity

Obj = dict[str, Any]

SYSTEM_PRIORITY_CLASSES: tuple[tuple[str, int, str], ...] = (
    ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster."),
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
)


def forbidden(kind_plural: str, name: str, message: str) -> ApiError:
    """admission.NewForbidden: 403 ``<plural> "<name>" is forbidden: <message>``."""
    return ApiError(
        403,
        "Forbidden",
        f'{kind_plural} "{name}" is forbidden: {message}',
        details={"name": name, "kind": kind_plural},
    )


# ---------------------------------------------------------------------- ServiceAccount

SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"  # DefaultAPITokenMountPath
SERVICE_ACCOUNT_VOLUME_PREFIX = "kube-api-access-"  # ServiceAccountVolumeName + "-"
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
# serviceaccount.WarnOnlyBoundTokenExpirationSeconds: an hour and 7 s, which tells the server's token
# issuer the token came from the admission plugin's volume.
BOUND_TOKEN_EXPIRATION_SECONDS = 3607


# pkg/controller/certificates/rootcacertpublisher/publisher.go: DescriptionAnnotation and Description.
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such "
    "as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions "
    "of Kubernetes clusters."
)


def root_ca_config_map(ca_pem: str, current: Mapping[str, Any] | None = None) -> Obj | None:
    """What the root CA publisher writes: ``current`` (or a new ConfigMap) holding exactly the CA as
    ``ca.crt`` and the description annotation; None when ``current`` holds both already."""
    data = {"ca.crt": ca_pem}
    meta = dict((current or {}).get("metadata") or {"name": ROOT_CA_CONFIG_MAP})
    annotations = dict(meta.get("annotations") or {})
    if current is not None and current.get("data") == data and annotations.get("kubernetes.io/description"):
        return None
    annotations["kubernetes.io/description"] = ROOT_CA_DESCRIPTION
    return {**(current or {}), "metadata": {**meta, "annotations": annotations}, "data": data}


def service_account_not_found(pod: Mapping[str, Any], namespace: str, account: str) -> ApiError:
    """The plugin's 403 for a pod whose ServiceAccount does not exist (the lookup's NotFound wrapped)."""
    return forbidden(
        "pods",
        str(pod["metadata"]["name"]),
        f'error looking up service account {namespace}/{account}: serviceaccount "{account}" not found',
    )


def token_volume_source() -> Obj:
    """TokenVolumeSource: the token, the cluster's CA and the namespace, as one projected volume."""
    return {
        "defaultMode": 0o644,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": BOUND_TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIG_MAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
    }


def should_automount(pod: Mapping[str, Any], account: Mapping[str, Any]) -> bool:
    """The pod's ``automountServiceAccountToken`` wins, then the account's; true when neither says."""
    for source in ((pod.get("spec") or {}), account):
        if isinstance(source.get("automountServiceAccountToken"), bool):
            return bool(source["automountServiceAccountToken"])
    return True


def admit_service_account(pod: Obj, account: Mapping[str, Any] | None, *, volume_name: str) -> Obj:
    """The ServiceAccount plugin on a pod create (``spec.serviceAccountName`` already defaulted): refuse a
    missing account; unless automounting is off, mount a ``kube-api-access-*`` projected volume read-only at
    the account path in every init container and container that has nothing there; copy the account's
    ``imagePullSecrets`` to a pod that names none. ``volume_name`` is used when the pod has no such volume."""
    spec = dict(pod.get("spec") or {})
    namespace = str(pod["metadata"].get("namespace") or "default")
    account_name = str(spec.get("serviceAccountName") or "default")
    if account is None:
        raise service_account_not_found(pod, namespace, account_name)
    if should_automount(pod, account):
        volumes = [v for v in spec.get("volumes") or [] if isinstance(v, Mapping)]
        existing = next(
            (
                str(v.get("name"))
                for v in volumes
                if str(v.get("name", "")).startswith(SERVICE_ACCOUNT_VOLUME_PREFIX)
            ),
            None,
        )
        mount = {"name": existing or volume_name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH}
        needs_volume = False
        for field in ("initContainers", "containers"):
            if not isinstance(spec.get(field), list):
                continue
            containers = []
            for container in spec[field]:
                mounted = isinstance(container, Mapping) and not any(
                    isinstance(m, Mapping) and m.get("mountPath") == SERVICE_ACCOUNT_MOUNT_PATH
                    for m in container.get("volumeMounts") or []
                )
                if mounted:
                    mounts = [*(container.get("volumeMounts") or []), mount]
                    needs_volume = True
                containers.append({**container, "volumeMounts": mounts} if mounted else container)
            spec[field] = containers
        if existing is None and needs_volume:
            spec["volumes"] = [
                *(spec.get("volumes") or []),
                {"name": volume_name, "projected": token_volume_source()},
            ]
    if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
        spec["imagePullSecrets"] = [dict(item) for item in account["imagePullSecrets"]]
    return {**pod, "spec": spec}


# ---------------------------------------------------------------------- DefaultTolerationSeconds

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300  # --default-not-ready-toleration-seconds, --default-unreachable-...


def admit_default_toleration_seconds(pod: Obj) -> Obj:
    """Tolerate the not-ready and unreachable NoExecute taints for 300 s, unless a toleration with that key
    (or no key) and the NoExecute effect (or none) is there already."""
    spec = dict(pod.get("spec") or {})
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, Mapping)]
    added = []
    for taint in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        tolerated = any(
            toleration.get("key") in (taint, "", None) and toleration.get("effect") in ("NoExecute", "", None)
            for toleration in tolerations
        )
        if not tolerated:
            added.append(
                {
                    "key": taint,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    if not added:
        return pod
    return {**pod, "spec": {**spec, "tolerations": [*(spec.get("tolerations") or []), *added]}}


# ---------------------------------------------------------------------- Priority


def admit_priority(pod: Obj, classes: Mapping[str, Mapping[str, Any]]) -> Obj:
    """Resolve ``priorityClassName`` to ``priority`` and ``preemptionPolicy``, as the Priority plugin does."""
    spec = dict(pod.get("spec") or {})
    name = pod["metadata"]["name"]
    class_name = spec.get("priorityClassName")
    chosen: Mapping[str, Any] | None = None
    if class_name:
        chosen = classes.get(class_name)
        if chosen is None:
            raise forbidden("pods", name, f"no PriorityClass with name {class_name} was found")
    else:
        defaults = [item for item in classes.values() if item.get("globalDefault")]
        chosen = min(defaults, key=lambda item: int(item.get("value", 0))) if defaults else None
        if chosen is not None:
            spec["priorityClassName"] = chosen["metadata"]["name"]
    priority = int(chosen.get("value", 0)) if chosen is not None else 0
    if spec.get("priority") is not None and spec["priority"] != priority:
        raise forbidden(
            "pods",
            name,
            f"the integer value of priority ({spec['priority']}) must not be provided in pod spec; "
            f"priority admission controller computed {priority} from the given PriorityClass name",
        )
    spec["priority"] = priority
    if chosen is not None and chosen.get("preemptionPolicy"):
        spec["preemptionPolicy"] = chosen["preemptionPolicy"]
    return {**pod, "spec": spec}


# ---------------------------------------------------------------------- RuntimeClass


def admit_runtime_class(pod: Obj, classes: Mapping[str, Mapping[str, Any]]) -> Obj:
    """The RuntimeClass plugin (plugin/pkg/admission/runtimeclass/admission.go): the class must exist; its
    ``overhead.podFixed`` becomes the pod's ``overhead``."""
    spec = pod.get("spec") or {}
    name = spec.get("runtimeClassName")
    if not name:
        return pod
    runtime_class = classes.get(name)
    if runtime_class is None:
        raise forbidden("pods", pod["metadata"]["name"], f'pod rejected: RuntimeClass "{name}" not found')
    fixed = (runtime_class.get("overhead") or {}).get("podFixed")
    if fixed and not spec.get("overhead"):
        return {**pod, "spec": {**spec, "overhead": dict(fixed)}}
    return pod


# ---------------------------------------------------------------------- Pod Security Admission

LEVELS = ("privileged", "baseline", "restricted")
_BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
_RESTRICTED_VOLUME_SOURCES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
    "secret", "image",
}  # fmt: skip


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        c
        for field in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(field) or []
        if isinstance(c, Mapping)
    ]


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _subject(names: Sequence[str], *, pod_or: bool = False) -> str:
    noun = "container" if len(names) == 1 else "containers"
    return f"{'pod or ' if pod_or else ''}{noun} {_quoted(names)}"


def pod_security_violations(pod: Mapping[str, Any], level: str) -> list[str]:
    """The ``reason (detail)`` strings of every check of ``level`` the pod fails, in the real order."""
    if level == "privileged":
        return []
    spec = pod.get("spec") or {}
    pod_context = spec.get("securityContext") or {}
    containers = _containers(spec)
    found: list[str] = []
    host = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    if host:
        found.append(f"host namespaces ({', '.join(host)})")
    privileged = [c["name"] for c in containers if (c.get("securityContext") or {}).get("privileged")]
    if privileged:
        found.append(f"privileged ({_subject(privileged)} must not set securityContext.privileged=true)")
    added: dict[str, list[str]] = {}
    for container in containers:
        for capability in ((container.get("securityContext") or {}).get("capabilities") or {}).get(
            "add"
        ) or []:
            if capability not in _BASELINE_CAPABILITIES:
                added.setdefault(container["name"], []).append(str(capability))
    if added:
        details = [
            f"{_subject([name])} must not include {_quoted(caps)} in securityContext.capabilities.add"
            for name, caps in added.items()
        ]
        found.append(f"non-default capabilities ({'; '.join(details)})")
    host_paths = [
        v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, Mapping) and "hostPath" in v
    ]
    if host_paths:
        noun = "volume" if len(host_paths) == 1 else "volumes"
        found.append(f"hostPath volumes ({noun} {_quoted(host_paths)})")
    ports = [
        (c["name"], p["hostPort"]) for c in containers for p in c.get("ports") or [] if p.get("hostPort")
    ]
    if ports:
        shown = ", ".join(f'container "{name}" uses hostPort {port}' for name, port in ports)
        found.append(f"hostPort ({shown})")
    if (pod_context.get("seccompProfile") or {}).get("type") == "Unconfined" or any(
        ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined"
        for c in containers
    ):
        found.append('seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")')
    if level == "restricted":
        found.extend(_restricted_violations(spec, containers))
    return found


def _restricted_violations(spec: Mapping[str, Any], containers: list[Mapping[str, Any]]) -> list[str]:
    """The checks the restricted level adds to baseline."""
    found: list[str] = []
    pod_context = spec.get("securityContext") or {}
    restricted_volumes = [
        (v.get("name", ""), next((key for key in v if key != "name"), ""))
        for v in spec.get("volumes") or []
        if isinstance(v, Mapping) and not any(key in _RESTRICTED_VOLUME_SOURCES for key in v if key != "name")
    ]
    if restricted_volumes:
        shown = ", ".join(
            f'volume "{name}" uses restricted volume type "{kind}"' for name, kind in restricted_volumes
        )
        found.append(f"restricted volume types ({shown})")
    escalating = [
        c["name"]
        for c in containers
        if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False
    ]
    if escalating:
        found.append(
            f"allowPrivilegeEscalation != false ({_subject(escalating)} must set "
            "securityContext.allowPrivilegeEscalation=false)"
        )
    not_dropping = [
        c["name"]
        for c in containers
        if "ALL" not in (((c.get("securityContext") or {}).get("capabilities") or {}).get("drop") or [])
    ]
    adding = {
        c["name"]: [
            str(cap)
            for cap in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []
            if cap != "NET_BIND_SERVICE"
        ]
        for c in containers
    }
    capability_details = []
    if not_dropping:
        capability_details.append(
            f'{_subject(not_dropping)} must set securityContext.capabilities.drop=["ALL"]'
        )
    capability_details.extend(
        f"{_subject([name])} must not include {_quoted(caps)} in securityContext.capabilities.add"
        for name, caps in adding.items()
        if caps
    )
    if capability_details:
        found.append(f"unrestricted capabilities ({'; '.join(capability_details)})")
    pod_non_root = pod_context.get("runAsNonRoot")
    if pod_non_root is False:
        found.append("runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)")
    else:
        unset = [
            c["name"]
            for c in containers
            if (c.get("securityContext") or {}).get("runAsNonRoot") is not True
            and not (pod_non_root is True and (c.get("securityContext") or {}).get("runAsNonRoot") is None)
        ]
        if unset:
            found.append(
                f"runAsNonRoot != true ({_subject(unset, pod_or=pod_non_root is None)} must set "
                "securityContext.runAsNonRoot=true)"
            )
    root_users = [c["name"] for c in containers if (c.get("securityContext") or {}).get("runAsUser") == 0]
    if pod_context.get("runAsUser") == 0:
        found.append("runAsUser=0 (pod must not set runAsUser=0)")
    elif root_users:
        found.append(f"runAsUser=0 ({_subject(root_users)} must not set runAsUser=0)")
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    missing = [
        c["name"]
        for c in containers
        if ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        not in ("RuntimeDefault", "Localhost")
        and not (
            pod_seccomp in ("RuntimeDefault", "Localhost")
            and ((c.get("securityContext") or {}).get("seccompProfile") or {}).get("type") is None
        )
    ]
    if missing:
        found.append(
            f"seccompProfile ({_subject(missing, pod_or=pod_seccomp is None)} must set "
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
        )
    return found


def pod_security_levels(namespace: Mapping[str, Any]) -> dict[str, str]:
    """The namespace's ``pod-security.kubernetes.io/<mode>`` labels (enforce, warn, audit) naming a level."""
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return {
        mode: labels[f"pod-security.kubernetes.io/{mode}"]
        for mode in ("enforce", "warn", "audit")
        if labels.get(f"pod-security.kubernetes.io/{mode}") in LEVELS
    }


def _version(namespace: Mapping[str, Any], mode: str) -> str:
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return str(labels.get(f"pod-security.kubernetes.io/{mode}-version") or "latest")


def admit_pod_security(pod: Mapping[str, Any], namespace: Mapping[str, Any]) -> list[str]:
    """Refuse a pod that violates the namespace's ``enforce`` level (403); answer the ``warn`` warnings."""
    levels = pod_security_levels(namespace)
    if "enforce" in levels:
        violations = pod_security_violations(pod, levels["enforce"])
        if violations:
            raise forbidden(
                "pods",
                pod["metadata"]["name"],
                f'violates PodSecurity "{levels["enforce"]}:{_version(namespace, "enforce")}": '
                + ", ".join(violations),
            )
    warnings = []
    if "warn" in levels:
        violations = pod_security_violations(pod, levels["warn"])
        if violations:
            warnings.append(
                f'would violate PodSecurity "{levels["warn"]}:{_version(namespace, "warn")}": '
                + ", ".join(violations)
            )
    return warnings


# ---------------------------------------------------------------------- ResourceQuota

_COMPUTE = ("cpu", "memory", "ephemeral-storage")


def _pod_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _pod_amounts(pod: Mapping[str, Any], section: str) -> dict[str, decimal.Decimal]:
    """A pod's requests or limits: the sum over containers, at least the largest init container's."""
    spec = pod.get("spec") or {}
    total: dict[str, decimal.Decimal] = {}
    for container in spec.get("containers") or []:
        for name, text in ((container.get("resources") or {}).get(section) or {}).items():
            value = parse_quantity(str(text))
            if value is not None:
                total[name] = total.get(name, decimal.Decimal(0)) + value
    for container in spec.get("initContainers") or []:
        for name, text in ((container.get("resources") or {}).get(section) or {}).items():
            value = parse_quantity(str(text))
            if value is not None and value > total.get(name, decimal.Decimal(0)):
                total[name] = value
    return total


def usage_of(
    resource_name: str, objects_by_kind: Mapping[str, Iterable[Mapping[str, Any]]]
) -> decimal.Decimal:
    """The usage of one quota resource name (``pods``, ``requests.cpu``, ``count/configmaps``, ...)."""
    pods = [pod for pod in objects_by_kind.get("pods", ()) if not _pod_terminal(pod)]
    if resource_name == "pods":
        return decimal.Decimal(len(pods))
    section, _, name = resource_name.partition(".")
    if section in ("requests", "limits") and name:
        return sum(
            (_pod_amounts(pod, section).get(name, decimal.Decimal(0)) for pod in pods), decimal.Decimal(0)
        )
    if resource_name in _COMPUTE:
        return sum(
            (_pod_amounts(pod, "requests").get(resource_name, decimal.Decimal(0)) for pod in pods),
            decimal.Decimal(0),
        )
    if resource_name.startswith("count/"):
        return decimal.Decimal(len(list(objects_by_kind.get(resource_name[len("count/") :], ()))))
    return decimal.Decimal(len(list(objects_by_kind.get(resource_name, ()))))


def quota_kind_key(resource_name: str) -> str:
    """Which objects a quota resource name counts: ``pods``, or the ``<plural>[.<group>]`` of count/..."""
    if resource_name.startswith("count/"):
        return resource_name[len("count/") :]
    if resource_name in ("configmaps", "secrets", "services", "persistentvolumeclaims", "resourcequotas",
                         "replicationcontrollers"):  # fmt: skip
        return resource_name
    return "pods"


def format_quantity(value: decimal.Decimal, resource_name: str) -> str:
    """A quantity as Kubernetes prints it canonically (binary suffixes for memory and storage)."""
    if value == value.to_integral_value():
        whole = int(value)
        if any(word in resource_name for word in ("memory", "storage")) and whole:
            for suffix, factor in (
                ("Ei", 2**60),
                ("Pi", 2**50),
                ("Ti", 2**40),
                ("Gi", 2**30),
                ("Mi", 2**20),
                ("Ki", 2**10),
            ):
                if whole % factor == 0:
                    return f"{whole // factor}{suffix}"
        return str(whole)
    milli = value * 1000
    if milli == milli.to_integral_value():
        return f"{int(milli)}m"
    return f"{int((value * 10**9).to_integral_value())}n"


def quota_status(quota: Mapping[str, Any], objects_by_kind: Mapping[str, Iterable[Mapping[str, Any]]]) -> Obj:
    hard = dict((quota.get("spec") or {}).get("hard") or {})
    used = {name: format_quantity(usage_of(name, objects_by_kind), name) for name in hard}
    return {"hard": hard, "used": used}


def admit_quota(
    *,
    kind_plural: str,
    obj: Mapping[str, Any],
    quotas: Iterable[Mapping[str, Any]],
    objects_by_kind: Mapping[str, Iterable[Mapping[str, Any]]],
    counted_as: str,
) -> None:
    """403 when creating ``obj`` (counted under ``counted_as``) would exceed any quota of its namespace."""
    name = obj["metadata"]["name"]
    for quota in quotas:
        hard = (quota.get("spec") or {}).get("hard") or {}
        requested: dict[str, decimal.Decimal] = {}
        missing: list[str] = []
        for resource_name in sorted(hard):
            key = quota_kind_key(resource_name)
            if key != counted_as:
                continue
            if counted_as != "pods" or resource_name == "pods" or resource_name.startswith("count/"):
                requested[resource_name] = decimal.Decimal(1)
                continue
            section, _, resource = resource_name.partition(".")
            if section not in ("requests", "limits"):
                section, resource = "requests", resource_name
            amounts = _pod_amounts(obj, section)
            if resource in _COMPUTE and resource not in amounts:
                missing.append(f"{section}.{resource}" if "." in resource_name else resource_name)
                continue
            requested[resource_name] = amounts.get(resource, decimal.Decimal(0))
        quota_name = quota["metadata"]["name"]
        if missing:
            raise forbidden(
                kind_plural, name, f"failed quota: {quota_name}: must specify {','.join(missing)}"
            )
        exceeded = [
            resource_name
            for resource_name, amount in requested.items()
            if amount > 0
            and usage_of(resource_name, objects_by_kind) + amount
            > (parse_quantity(str(hard[resource_name])) or 0)
        ]
        if exceeded:

            def show(values: Mapping[str, decimal.Decimal], keys: list[str] = exceeded) -> str:
                return ",".join(f"{key}={format_quantity(values[key], key)}" for key in keys)

            used = {key: usage_of(key, objects_by_kind) for key in exceeded}
            limited = {key: parse_quantity(str(hard[key])) or decimal.Decimal(0) for key in exceeded}
            raise forbidden(
                kind_plural,
                name,
                f"exceeded quota: {quota_name}, requested: {show(requested)}, used: {show(used)}, "
                f"limited: {show(limited)}",
            )
