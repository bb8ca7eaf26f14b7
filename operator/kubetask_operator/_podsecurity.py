"""The Pod Security Standards, checked on the pods the operator builds, before it creates them.

A TaskRun author could otherwise get any pod they ask for (a privileged container, ``hostPath: /``, uid 0),
more than the chart's ``kubetask-edit`` role lets them create directly. The operator enforces a level on
every task pod, ``restricted`` by default, and names each field that breaks it.

The rules are those of Kubernetes' Pod Security Admission, k8s.io/pod-security-admission/policy
(kubernetes/kubernetes staging/src/k8s.io/pod-security-admission/policy/check_*.go), at their latest
version; https://kubernetes.io/docs/concepts/security/pod-security-standards/ describes them. One difference:
the relaxations PSA grants pods in a user namespace (``hostUsers: false``) are not made, so a pod is
never admitted here that PSA would refuse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, Literal

Level = Literal["privileged", "baseline", "restricted"]
LEVELS: tuple[Level, ...] = ("privileged", "baseline", "restricted")

# check_capabilities_baseline.go: the container runtimes' default set.
_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# check_sysctls.go, the 1.0, 1.27, 1.29 and 1.32 allowed sets together.
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)
# check_seLinuxOptions.go
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
# check_restrictedVolumes.go
_RESTRICTED_VOLUME_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_APPARMOR_TYPES = ("RuntimeDefault", "Localhost")
_SECCOMP_RESTRICTED_TYPES = ("RuntimeDefault", "Localhost")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


@dataclasses.dataclass(frozen=True)
class Violation:
    """One field of the pod that the Pod Security Standards forbid at ``level`` and above."""

    path: str
    """The pod's field, as the API names it (``spec.containers[0].securityContext.privileged``)."""
    value: object
    expected: str
    level: Level
    """The lowest level that forbids it."""


def allows(enforced: Level, forbidden_from: Level) -> bool:
    """Whether a pod breaking a rule of level ``forbidden_from`` is admitted where ``enforced`` holds."""
    return LEVELS.index(enforced) < LEVELS.index(forbidden_from)


def violations(pod: Mapping[str, Any], level: Level) -> list[Violation]:
    """Every field of ``pod`` that breaks the Pod Security Standards ``level`` (none at ``privileged``)."""
    found = [*_baseline(pod), *_restricted(pod)]
    return [violation for violation in found if not allows(level, violation.level)]


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in _CONTAINER_LISTS:
        for index, container in enumerate(_list(spec.get(kind))):
            yield f"spec.{kind}[{index}]", _object(container)


def _contexts(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The pod's securityContext and each container's, with their paths (absent ones as empty objects)."""
    yield "spec.securityContext", _object(spec.get("securityContext"))
    for path, container in _containers(spec):
        yield f"{path}.securityContext", _object(container.get("securityContext"))


def _baseline(pod: Mapping[str, Any]) -> Iterator[Violation]:
    spec = _object(pod.get("spec"))
    metadata = _object(pod.get("metadata"))
    for field in ("hostNetwork", "hostPID", "hostIPC"):  # check_hostNamespaces.go
        if spec.get(field) is True:
            yield Violation(f"spec.{field}", True, "false or unset (no host namespaces)", "baseline")
    for index, volume in enumerate(_list(spec.get("volumes"))):  # check_hostPathVolumes.go
        if _object(volume).get("hostPath") is not None:
            path = f"spec.volumes[{index}].hostPath"
            yield Violation(path, volume["hostPath"], "no hostPath volumes", "baseline")
    for path, context in _contexts(spec):
        windows = _object(context.get("windowsOptions"))
        if windows.get("hostProcess") is True:  # check_windowsHostProcess.go
            yield Violation(f"{path}.windowsOptions.hostProcess", True, "false or unset", "baseline")
        profile = _object(context.get("appArmorProfile")).get("type")  # check_appArmorProfile.go
        if profile is not None and profile not in _APPARMOR_TYPES:
            yield Violation(
                f"{path}.appArmorProfile.type", profile, "RuntimeDefault or Localhost", "baseline"
            )
        selinux = _object(context.get("seLinuxOptions"))  # check_seLinuxOptions.go
        if selinux.get("type", "") not in _SELINUX_TYPES:
            expected = "unset, container_t, container_init_t or container_kvm_t"
            yield Violation(f"{path}.seLinuxOptions.type", selinux["type"], expected, "baseline")
        for field in ("user", "role"):
            if selinux.get(field):
                yield Violation(f"{path}.seLinuxOptions.{field}", selinux[field], "unset", "baseline")
        seccomp = _object(context.get("seccompProfile")).get("type")  # check_seccompProfile_baseline.go
        if seccomp == "Unconfined":
            yield Violation(f"{path}.seccompProfile.type", seccomp, "RuntimeDefault or Localhost", "baseline")
    for index, sysctl in enumerate(_list(_object(spec.get("securityContext")).get("sysctls"))):
        name = _object(sysctl).get("name")  # check_sysctls.go
        if name not in _SAFE_SYSCTLS:
            path = f"spec.securityContext.sysctls[{index}].name"
            yield Violation(path, name, f"one of the safe sysctls {sorted(_SAFE_SYSCTLS)}", "baseline")
    for key, value in _object(metadata.get("annotations")).items():  # check_appArmorProfile.go
        allowed = not value or value == "runtime/default" or str(value).startswith("localhost/")
        if key.startswith(_APPARMOR_ANNOTATION_PREFIX) and not allowed:
            path = f"metadata.annotations[{key}]"
            yield Violation(path, value, "runtime/default or localhost/<profile>", "baseline")
    for path, container in _containers(spec):
        yield from _baseline_container(path, container)


def _baseline_container(path: str, container: Mapping[str, Any]) -> Iterator[Violation]:
    context = _object(container.get("securityContext"))
    if context.get("privileged") is True:  # check_privileged.go
        yield Violation(f"{path}.securityContext.privileged", True, "false or unset", "baseline")
    for index, capability in enumerate(_list(_object(context.get("capabilities")).get("add"))):
        if capability not in _BASELINE_CAPABILITIES:  # check_capabilities_baseline.go
            expected = f"one of the default capabilities {sorted(_BASELINE_CAPABILITIES)}"
            yield Violation(
                f"{path}.securityContext.capabilities.add[{index}]", capability, expected, "baseline"
            )
    proc_mount = context.get("procMount")  # check_procMount.go
    if proc_mount not in (None, "Default"):
        yield Violation(f"{path}.securityContext.procMount", proc_mount, "Default or unset", "baseline")
    for index, port in enumerate(_list(container.get("ports"))):  # check_hostPorts.go
        host_port = _object(port).get("hostPort")
        if host_port:
            yield Violation(f"{path}.ports[{index}].hostPort", host_port, "0 or unset", "baseline")
    handlers = [(probe, _object(container.get(probe))) for probe in _PROBES]
    lifecycle = _object(container.get("lifecycle"))
    handlers += [(f"lifecycle.{hook}", _object(lifecycle.get(hook))) for hook in ("postStart", "preStop")]
    for name, handler in handlers:  # check_hostProbesAndhostLifecycle.go
        for action in ("httpGet", "tcpSocket"):
            host = _object(handler.get(action)).get("host")
            if host:
                yield Violation(f"{path}.{name}.{action}.host", host, "unset", "baseline")


def _restricted(pod: Mapping[str, Any]) -> Iterator[Violation]:
    spec = _object(pod.get("spec"))
    for index, volume in enumerate(_list(spec.get("volumes"))):  # check_restrictedVolumes.go
        sources = sorted(key for key in _object(volume) if key != "name")
        if sources and not set(sources) <= _RESTRICTED_VOLUME_SOURCES and "hostPath" not in sources:
            expected = f"a volume of type {', '.join(sorted(_RESTRICTED_VOLUME_SOURCES))}"
            yield Violation(f"spec.volumes[{index}].{sources[0]}", volume[sources[0]], expected, "restricted")
    pod_context = _object(spec.get("securityContext"))
    pod_non_root = pod_context.get("runAsNonRoot")
    if pod_non_root is False:  # check_runAsNonRoot.go
        yield Violation("spec.securityContext.runAsNonRoot", False, "true", "restricted")
    pod_seccomp = _object(pod_context.get("seccompProfile")).get("type")
    if (
        pod_seccomp is not None
        and pod_seccomp not in _SECCOMP_RESTRICTED_TYPES
        and pod_seccomp != "Unconfined"
    ):
        expected = "RuntimeDefault or Localhost"  # check_seccompProfile_restricted.go
        yield Violation("spec.securityContext.seccompProfile.type", pod_seccomp, expected, "restricted")
    for path, context in _contexts(spec):  # check_runAsUser.go
        if context.get("runAsUser") == 0 and not isinstance(context.get("runAsUser"), bool):
            yield Violation(f"{path}.runAsUser", 0, "a non-zero user id or unset", "restricted")
    for path, container in _containers(spec):
        context = _object(container.get("securityContext"))
        where = f"{path}.securityContext"
        if context.get("allowPrivilegeEscalation") is not False:  # check_allowPrivilegeEscalation.go
            yield Violation(
                f"{where}.allowPrivilegeEscalation",
                context.get("allowPrivilegeEscalation"),
                "false",
                "restricted",
            )
        non_root = context.get("runAsNonRoot")
        if non_root is False or (non_root is None and pod_non_root is not True):
            expected = "true (in the securityContext or podSecurityContext)"
            yield Violation(f"{where}.runAsNonRoot", non_root, expected, "restricted")
        seccomp = _object(context.get("seccompProfile")).get("type")
        if seccomp is None and pod_seccomp is None:
            expected = "RuntimeDefault or Localhost (in the securityContext or podSecurityContext)"
            yield Violation(f"{where}.seccompProfile.type", None, expected, "restricted")
        elif seccomp is not None and seccomp not in _SECCOMP_RESTRICTED_TYPES and seccomp != "Unconfined":
            yield Violation(
                f"{where}.seccompProfile.type", seccomp, "RuntimeDefault or Localhost", "restricted"
            )
        capabilities = _object(context.get("capabilities"))  # check_capabilities_restricted.go
        if "ALL" not in _list(capabilities.get("drop")):
            yield Violation(
                f"{where}.capabilities.drop", capabilities.get("drop"), "a list holding ALL", "restricted"
            )
        for index, capability in enumerate(_list(capabilities.get("add"))):
            if capability != "NET_BIND_SERVICE" and capability in _BASELINE_CAPABILITIES:
                path_add = f"{where}.capabilities.add[{index}]"
                yield Violation(path_add, capability, "only NET_BIND_SERVICE", "restricted")
