"""Everything a container needs before it starts: its image "pulled", its ConfigMaps and Secrets read, its
volumes materialised and its command, environment and working directory mapped onto the local machine.

A container gets the node's own environment (so ``PYTHONPATH`` given to ``kubetask dev`` reaches pods) with
the pod's variables over it, the node's ``bin`` directory first on ``PATH`` (``kubetask-execute`` and
``python`` of the node's virtualenv), ``HOSTNAME`` set to the pod name and
``KUBETASK_TERMINATION_MESSAGE_PATH`` pointing at its termination message file.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetask_local.node._api import NodeApiClient
from kubetask_local.node._config import NodeConfig
from kubetask_local.node._env import ObjectKey, PodNetwork, expand, referenced_objects, resolve_env
from kubetask_local.node._errors import ApiError, PodConfigError, QuantityError
from kubetask_local.node._security import (
    image_user,
    parse_image_user,
    run_as,
    run_as_non_root_error,
)
from kubetask_local.node._shim import RunAs
from kubetask_local.node._spec import invalid_image_message, memory_limit_bytes, pull_fails
from kubetask_local.node._volumes import (
    TokenKey,
    map_paths,
    materialise_volumes,
    mount_mapping,
    normalise,
    plan_volumes,
    projected_tokens,
)


@dataclass(frozen=True)
class Launch:
    """One container, ready to run as a local process."""

    container: Mapping[str, Any]
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    termination_file: Path
    memory_limit: int | None
    run_as: RunAs = field(default_factory=RunAs)


def image_problems(
    containers: list[Mapping[str, Any]], *, failing_images: Collection[str]
) -> dict[str, tuple[str, str]]:
    """Container name -> (reason, message) for images that are malformed or whose pull fails."""
    problems: dict[str, tuple[str, str]] = {}
    for container in containers:
        image = container.get("image")
        invalid = invalid_image_message(image)
        if invalid is not None:
            problems[container["name"]] = ("InvalidImageName", invalid)
        elif pull_fails(str(image), failing_images):
            problems[container["name"]] = (
                "ErrImagePull",
                f'failed to pull and unpack image "{image}": failed to resolve reference '
                f'"{image}": not found (pull failure simulated by the kubetask local node)',
            )
    return problems


async def fetch_objects(api: NodeApiClient, pod: Mapping[str, Any]) -> dict[ObjectKey, Mapping[str, Any]]:
    """The ConfigMaps and Secrets the pod refers to that exist (missing ones are simply absent)."""
    namespace = pod["metadata"]["namespace"]
    objects: dict[ObjectKey, Mapping[str, Any]] = {}
    for kind, name in sorted(referenced_objects(pod)):
        plural = "configmaps" if kind == "ConfigMap" else "secrets"
        try:
            objects[(kind, name)] = await api.request(
                "GET", f"/api/v1/namespaces/{namespace}/{plural}/{name}"
            )
        except ApiError as error:
            if error.status != 404:
                raise PodConfigError(f"could not read {kind.lower()} {name!r}: {error}") from error
    return objects


async def fetch_tokens(api: NodeApiClient, pod: Mapping[str, Any]) -> dict[TokenKey, str]:
    """The tokens of the pod's projected ``serviceAccountToken`` sources, from the TokenRequest API and bound
    to the pod (its name and uid), as the kubelet's token manager asks for them; a refusal raises
    ``PodConfigError`` with the kubelet's ``FailedMount`` message."""
    metadata = pod["metadata"]
    account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    tokens: dict[TokenKey, str] = {}
    for audience, seconds in sorted(projected_tokens(pod)):
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [audience] if audience else None,
                "expirationSeconds": seconds,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": metadata["name"],
                    "uid": metadata["uid"],
                },
            },
        }
        try:
            answer = await api.request(
                "POST",
                f"/api/v1/namespaces/{metadata['namespace']}/serviceaccounts/{account}/token",
                body=request,
            )
        except ApiError as error:
            volume = next(
                (v.get("name") for v in pod["spec"].get("volumes") or [] if "projected" in v),
                "kube-api-access",
            )
            raise PodConfigError(
                f'MountVolume.SetUp failed for volume "{volume}" : failed to fetch token: {error.message}',
                reason="ContainerCreating",
                event="FailedMount",
            ) from error
        tokens[(audience, seconds)] = str((answer.get("status") or {}).get("token") or "")
    return tokens


def build_launches(
    pod: Mapping[str, Any],
    *,
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    config: NodeConfig,
    network: PodNetwork,
    pod_dir: Path,
    field: str = "containers",
    tokens: Mapping[TokenKey, str] | None = None,
) -> list[Launch]:
    """Materialise the pod's volumes under ``pod_dir`` and map each of its ``field`` (``containers`` or
    ``initContainers``) onto them; raises
    ``PodConfigError`` (with the kubelet's reason) when something the pod needs is missing or unusable."""
    plans = plan_volumes(
        pod,
        objects=objects,
        network=network,
        claims_root=config.root / "persistent-volume-claims",
        tokens=tokens,
    )
    volume_dirs = materialise_volumes(plans, volumes_dir=pod_dir / "volumes")
    launches = []
    for container in (pod.get("spec") or {}).get(field) or []:
        name = container["name"]
        process_user = container_user(pod, container, image_users=config.all_image_users())
        if process_user.uid is not None and process_user.uid != os.geteuid():
            open_for_other_users(pod_dir, volume_dirs, root=config.root)
        variables = resolve_env(pod, container, objects=objects, network=network)
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        if not argv:
            raise PodConfigError(
                "failed to generate container spec: no command specified (the local node runs "
                "command and args; it has no image entrypoint)",
                reason="CreateContainerError",
            )
        termination_file = pod_dir / "containers" / name / "termination-log"
        mapping = mount_mapping(container, volume_dirs=volume_dirs, termination_file=termination_file)
        process_user = with_filesystem_view(
            process_user, container, kinds={plan.name: plan.kind for plan in plans}, mapping=mapping
        )
        env = {**config.base_env, "HOSTNAME": pod["metadata"]["name"]}
        env.update({key: map_paths(value, mapping) for key, value in variables.items()})
        env["PATH"] = f"{config.bin_dir}:{env.get('PATH', '/usr/local/bin:/usr/bin:/bin')}"
        env["KUBETASK_TERMINATION_MESSAGE_PATH"] = str(termination_file)
        try:
            memory_limit = memory_limit_bytes(container)
        except QuantityError as error:
            raise PodConfigError(str(error)) from error
        launches.append(
            Launch(
                container=container,
                argv=[map_paths(expand(str(arg), variables), mapping) for arg in argv],
                env=env,
                cwd=working_dir(container, mapping, default=config.working_dir, pod_dir=pod_dir),
                termination_file=termination_file,
                memory_limit=memory_limit,
                run_as=process_user,
            )
        )
    return launches


def container_user(
    pod: Mapping[str, Any], container: Mapping[str, Any], *, image_users: Mapping[str, str]
) -> RunAs:
    """Who the container runs as; a container that may not run (``runAsNonRoot``) raises
    ``PodConfigError`` with the kubelet's message (``CreateContainerConfigError``)."""
    image = str(container.get("image") or "")
    declared = image_user(image, image_users)
    user = parse_image_user(declared or "")
    refusal = run_as_non_root_error(pod, container, user=user)
    if refusal is not None:
        if declared is None:
            refusal += (
                f'. The kubetask local node cannot read images: it has no USER for "{image}" and runs '
                "it as root, as a runtime runs an image without USER; declare it with "
                "`kubetask dev --image-user IMAGE=USER`"
            )
        raise PodConfigError(refusal)
    return run_as(pod, container, user=user, node_is_root=os.geteuid() == 0)


# Volumes a kubelet always mounts read-only (their content is the API's).
_API_DATA_VOLUMES = ("ConfigMap", "Secret", "downwardAPI", "projected")


def with_filesystem_view(
    run_as: RunAs, container: Mapping[str, Any], *, kinds: Mapping[str, str], mapping: Mapping[str, str]
) -> RunAs:
    """``run_as`` with the mounts to confine when the container asks for ``readOnlyRootFilesystem`` or a
    ``readOnly`` volume mount: writable emptyDir/claim/hostPath mounts and the termination-message directory,
    read-only ones (asked, or API data) -- only when the node is root (see ``_shim.confine_filesystem``)."""
    asked = run_as.read_only_root or any(m.get("readOnly") for m in container.get("volumeMounts") or [])
    if not asked or os.geteuid() != 0:
        return run_as
    writable, read_only = [], []
    for mount in container.get("volumeMounts") or []:
        local = mapping[normalise(str(mount.get("mountPath", "")))]
        if mount.get("readOnly") or kinds.get(mount.get("name", "")) in _API_DATA_VOLUMES:
            read_only.append(local)
        else:
            writable.append(local)
    termination_path = normalise(container.get("terminationMessagePath") or "/dev/termination-log")
    writable.append(str(Path(mapping[termination_path]).parent))
    return run_as._replace(writable=tuple(writable), read_only=tuple(read_only))


def open_for_other_users(pod_dir: Path, volume_dirs: Mapping[str, Path], *, root: Path) -> None:
    """Let a container running as another user reach its files, as the kubelet's directories allow: the
    node's directories down to the pod's are made traversable (not listable) by others. The directories
    above the node's root are the host's and stay as they are."""
    for directory in [root, *reversed(pod_dir.relative_to(root).parents), pod_dir]:
        target = directory if directory.is_absolute() else root / directory
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, target.stat().st_mode & 0o7777 | 0o111)
    for directory in (pod_dir / "volumes", pod_dir / "containers"):
        directory.mkdir(exist_ok=True)
        os.chmod(directory, 0o711)
    for directory in volume_dirs.values():
        if directory.is_relative_to(pod_dir) and directory.is_dir():
            os.chmod(directory, directory.stat().st_mode & 0o7777 | 0o111)


def working_dir(
    container: Mapping[str, Any], mapping: Mapping[str, str], *, default: Path, pod_dir: Path
) -> Path:
    """``workingDir`` mapped through the mounts; a path outside them is made under the pod's ``rootfs``;
    none means the node's own working directory (so relative ``PYTHONPATH`` entries keep working)."""
    if not container.get("workingDir"):
        return default
    wanted = normalise(str(container["workingDir"]))  # ``..`` cannot climb out of the pod's rootfs
    mapped = Path(map_paths(wanted, mapping))
    if str(mapped) != wanted or mapped.is_dir():
        mapped.mkdir(parents=True, exist_ok=True)
        return mapped
    local = pod_dir / "rootfs" / wanted.lstrip("/")
    local.mkdir(parents=True, exist_ok=True)
    return local
