"""A container's ``securityContext`` as the kubelet reads it: who the process runs as, and ``runAsNonRoot``.

The local node cannot read images, so each image's ``USER`` comes from a table (``NodeConfig.image_users``,
``kubetask dev --image-user PATTERN=USER``); an image the table does not know runs as root, as a runtime runs
an image without ``USER`` (kubelet ``getImageUser``: "If none of them is set, treat it as root"). The
``runAsNonRoot`` check and its messages are the kubelet's (pkg/kubelet/kuberuntime/security_context_others.go,
``verifyRunAsNonRoot``); the node reports a failure as ``CreateContainerConfigError``.

What the node honours of the rest, as a local process can:

- ``runAsUser``, ``runAsGroup``, ``supplementalGroups`` and ``fsGroup`` (as a supplemental group): applied
  when the node runs as root; otherwise the process runs as the node's user. An image's ``USER`` is used for
  the ``runAsNonRoot`` check only: its files are the host's, which belong to the node's user.
- ``allowPrivilegeEscalation: false``: ``no_new_privs`` (prctl(2)), as runtimes set it.
- ``capabilities.drop``: removed from the capability bounding set when the node runs as root, so a process
  running as root has none of them after exec; ``add`` cannot give more than the node has.
- ``readOnlyRootFilesystem`` and ``readOnly`` volume mounts: when the node runs as root, the process gets a
  private mount namespace where every mount but /proc, /sys, /dev and its writable volumes (emptyDir, claims,
  hostPath, the termination-message directory) is read-only, and read-only mounts (asked, or ConfigMap,
  Secret, downward API and projected volumes, which a kubelet always mounts read-only) are read-only;
  otherwise they are not enforced.
- ``privileged``, ``seccompProfile``, ``seLinuxOptions``, ``appArmorProfile``, ``procMount`` and ``sysctls``
  are accepted and not enforced: the process shares the host's kernel settings.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubetask_local.node._shim import RunAs

# USER of the images built from the project's own Dockerfiles (operator/Dockerfile and runtime/Dockerfile:
# ``USER 65532:65532``), under the names the README builds them with; the examples' image is built from
# runtime/Dockerfile too.
DEFAULT_IMAGE_USERS: Mapping[str, str] = {
    "ghcr.io/kubetask/kubetask-operator:*": "65532:65532",
    "ghcr.io/kubetask/kubetask-python:*": "65532:65532",
    "kubetask-examples:*": "65532:65532",
}

# Fields a container's securityContext overrides in the pod's (pkg/securitycontext/util.go,
# DetermineEffectiveSecurityContext).
_SHARED_FIELDS = (
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "seLinuxOptions",
    "seccompProfile",
    "appArmorProfile",
    "windowsOptions",
)
_MAX_USER_ID = 2**31 - 1

# capabilities(7) numbers, for capabilities.drop.
CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)


@dataclass(frozen=True)
class ImageUser:
    """An image's ``USER`` as a runtime reports it: a numeric uid, or a name it cannot resolve here."""

    uid: int | None = None
    username: str = ""
    gid: int | None = None


def parse_image_user(text: str) -> ImageUser:
    """``USER`` syntax: ``uid``, ``name``, ``uid:gid`` or ``name:group``; empty is root."""
    user, _, group = text.partition(":")
    gid = int(group) if group.isdigit() else None
    if not user:
        return ImageUser(uid=0, gid=gid)
    if user.isdigit():
        return ImageUser(uid=int(user), gid=gid)
    return ImageUser(username=user, gid=gid)


def image_user(image: str, table: Mapping[str, str]) -> str | None:
    """The ``USER`` the table gives ``image``: its exact entry, else the longest matching glob pattern."""
    if image in table:
        return table[image]
    matching = [pattern for pattern in table if fnmatch.fnmatchcase(image, pattern)]
    return table[max(matching, key=len)] if matching else None


def effective_security_context(pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    """The pod's securityContext fields a container shares, with the container's own over them."""
    pod_context = (pod.get("spec") or {}).get("securityContext") or {}
    effective = {key: pod_context[key] for key in _SHARED_FIELDS if key in pod_context}
    effective.update(container.get("securityContext") or {})
    return effective


def _pod_description(pod: Mapping[str, Any]) -> str:
    """kubelet's format.Pod: ``name_namespace(uid)``."""
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('name', '')}_{metadata.get('namespace', '')}({metadata.get('uid', '')})"


def run_as_non_root_error(
    pod: Mapping[str, Any], container: Mapping[str, Any], *, user: ImageUser
) -> str | None:
    """The kubelet's ``verifyRunAsNonRoot`` message, or None when the container may run."""
    context = effective_security_context(pod, container)
    if context.get("runAsNonRoot") is not True:
        return None
    where = f'(pod: "{_pod_description(pod)}", container: {container.get("name", "")})'
    run_as_user = context.get("runAsUser")
    if run_as_user is not None:
        return f"container's runAsUser breaks non-root policy {where}" if run_as_user == 0 else None
    if user.uid is None and user.username:
        return (
            f"container has runAsNonRoot and image has non-numeric user ({user.username}), cannot verify "
            f"user is non-root {where}"
        )
    if user.uid == 0:
        return f"container has runAsNonRoot and image will run as root {where}"
    if user.uid is not None and not 0 <= user.uid <= _MAX_USER_ID:
        return (
            f"container has runAsNonRoot and image has an invalid user id ({user.uid}). (Must be "
            f"1-({_MAX_USER_ID})): must be between 0 and {_MAX_USER_ID}, inclusive {where}"
        )
    return None


def run_as(
    pod: Mapping[str, Any], container: Mapping[str, Any], *, user: ImageUser, node_is_root: bool
) -> RunAs:
    """The identity and restrictions of the container's process on this node."""
    context = effective_security_context(pod, container)
    no_new_privs = context.get("allowPrivilegeEscalation") is False
    if not node_is_root:
        return RunAs(no_new_privs=no_new_privs)
    pod_context = (pod.get("spec") or {}).get("securityContext") or {}
    uid = context.get("runAsUser")
    gid = context.get("runAsGroup")
    if uid is not None and gid is None:
        gid = user.gid if user.gid is not None else 0  # as a runtime: the image's group, else root's
    groups = [int(group) for group in pod_context.get("supplementalGroups") or []]
    if pod_context.get("fsGroup") is not None:
        groups.append(int(pod_context["fsGroup"]))
    capabilities = context.get("capabilities") or {}
    drop = [str(name).upper().removeprefix("CAP_") for name in capabilities.get("drop") or []]
    if "ALL" in drop:
        drop = list(CAPABILITIES)
    dropped = [CAPABILITIES.index(name) for name in drop if name in CAPABILITIES]
    return RunAs(
        read_only_root=context.get("readOnlyRootFilesystem") is True,
        uid=None if uid is None else int(uid),
        gid=None if gid is None else int(gid),
        groups=tuple(dict.fromkeys(groups)),
        no_new_privs=no_new_privs,
        drop_capabilities=tuple(dropped),
    )
