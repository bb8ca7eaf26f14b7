"""Volumes of a pod materialised as local directories, and how a container's mount paths map to them.

A local process cannot see ``/etc/config`` mounted from a ConfigMap, so the node materialises each volume in
the pod's directory and rewrites paths: every mount path (and the termination message path) that appears as a
path at the start of a word of the container's ``command``, ``args``, ``env`` values or ``workingDir`` is
replaced by the matching local directory. ``--inputs /var/run/kubetask/inputs/inputs.json`` thus becomes
``--inputs <pod dir>/volumes/inputs/inputs.json``. Paths in files the process reads are not rewritten.

A projected ``serviceAccountToken`` source holds a token the node asked the TokenRequest API for, bound to
the pod, as a kubelet does (pkg/volume/projected/projected.go): with the ``kube-api-access-*`` volume that
ServiceAccount admission adds, ``/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}``
named in a command line reach the pod's own token, the cluster's CA and its namespace.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetask_local.node._env import Kind, ObjectKey, PodNetwork, field_value, object_data
from kubetask_local.node._errors import PodConfigError

# A DNS-1123 subdomain: what every PersistentVolumeClaim's name is.
_OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


# A projected token's request: (audience, or "" for the API server's; expirationSeconds).
TokenKey = tuple[str, int]
DEFAULT_TOKEN_SECONDS = 3600  # ServiceAccountTokenProjection.expirationSeconds' default


def token_key(projection: Mapping[str, Any]) -> TokenKey:
    seconds = projection.get("expirationSeconds")
    return str(projection.get("audience") or ""), int(seconds) if isinstance(
        seconds, int
    ) else DEFAULT_TOKEN_SECONDS


def projected_tokens(pod: Mapping[str, Any]) -> set[TokenKey]:
    """The tokens the pod's projected volumes need, each asked for once."""
    return {
        token_key(source["serviceAccountToken"] or {})
        for volume in (pod.get("spec") or {}).get("volumes") or []
        if isinstance(volume, Mapping)
        for source in (volume.get("projected") or {}).get("sources") or []
        if isinstance(source, Mapping) and "serviceAccountToken" in source
    }


@dataclass(frozen=True)
class VolumeFile:
    path: str  # relative to the volume's directory
    content: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class VolumePlan:
    """What one volume of the pod holds; ``directory`` is set for volumes backed by a fixed local path."""

    name: str
    kind: str
    files: tuple[VolumeFile, ...] = ()
    directory: Path | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def plan_volumes(
    pod: Mapping[str, Any],
    *,
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    network: PodNetwork,
    claims_root: Path,
    tokens: Mapping[TokenKey, str] | None = None,
) -> list[VolumePlan]:
    """The content of each volume of the pod; a missing non-optional source raises ``PodConfigError``.
    ``tokens`` are the service account tokens fetched for the pod (see ``projected_tokens``)."""
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    plans: list[VolumePlan] = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = volume.get("name", "")
        if "emptyDir" in volume:
            plans.append(VolumePlan(name=name, kind="emptyDir"))
        elif "configMap" in volume or "secret" in volume:
            kind: Kind = "ConfigMap" if "configMap" in volume else "Secret"
            source = volume.get("configMap") or volume.get("secret") or {}
            files = _object_files(kind, source, objects=objects, volume=name)
            plans.append(VolumePlan(name=name, kind=kind, files=tuple(files)))
        elif "downwardAPI" in volume:
            source = volume["downwardAPI"] or {}
            files = _downward_files(pod, source, network=network)
            plans.append(VolumePlan(name=name, kind="downwardAPI", files=tuple(files)))
        elif "projected" in volume:
            plans.append(
                VolumePlan(
                    name=name,
                    kind="projected",
                    files=tuple(
                        _projected_files(
                            pod,
                            volume["projected"] or {},
                            objects=objects,
                            network=network,
                            volume=name,
                            tokens=tokens or {},
                        )
                    ),
                )
            )
        elif "hostPath" in volume:
            plans.append(
                VolumePlan(
                    name=name, kind="hostPath", directory=Path((volume["hostPath"] or {}).get("path", "/"))
                )
            )
        elif "persistentVolumeClaim" in volume:
            claim = str((volume["persistentVolumeClaim"] or {}).get("claimName", ""))
            if not _OBJECT_NAME.fullmatch(claim):  # no such object can exist; never a path out of the root
                raise PodConfigError(
                    f'MountVolume.SetUp failed for volume "{name}" : '
                    f'persistentvolumeclaim "{claim}" not found',
                    reason="ContainerCreating",
                    event="FailedMount",
                )
            plans.append(
                VolumePlan(name=name, kind="persistentVolumeClaim", directory=claims_root / namespace / claim)
            )
        else:
            kinds = sorted(key for key in volume if key != "name")
            raise PodConfigError(
                f'MountVolume.SetUp failed for volume "{name}" : volume type {kinds!r} is not supported '
                "by the kubetask local node (expected emptyDir, configMap, secret, downwardAPI, projected, "
                "hostPath or persistentVolumeClaim)",
                reason="ContainerCreating",
                event="FailedMount",
            )
    return plans


def _object_files(
    kind: Kind,
    source: Mapping[str, Any],
    *,
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    volume: str,
    default_mode: int | None = None,
) -> list[VolumeFile]:
    name = source.get("name") if kind == "ConfigMap" else source.get("secretName", source.get("name"))
    obj = objects.get((kind, str(name or "")))
    mode = source.get("defaultMode", default_mode if default_mode is not None else 0o644)
    if obj is None:
        if source.get("optional"):
            return []
        raise PodConfigError(
            f'MountVolume.SetUp failed for volume "{volume}" : {kind.lower()} "{name}" not found',
            reason="ContainerCreating",
            event="FailedMount",
        )
    data = object_data(obj, kind)
    items = source.get("items")
    if not items:
        return [VolumeFile(path=key, content=value, mode=mode) for key, value in sorted(data.items())]
    files = []
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if source.get("optional"):
                continue
            # pkg/volume/configmap/configmap.go and pkg/volume/secret/secret.go word it differently
            missing = (
                "configmap references non-existent config key"
                if kind == "ConfigMap"
                else "references non-existent secret key"
            )
            raise PodConfigError(
                f'MountVolume.SetUp failed for volume "{volume}" : {missing}: {key}',
                reason="ContainerCreating",
                event="FailedMount",
            )
        files.append(VolumeFile(path=item.get("path", key), content=data[key], mode=item.get("mode", mode)))
    return files


def _downward_files(
    pod: Mapping[str, Any], source: Mapping[str, Any], *, network: PodNetwork
) -> list[VolumeFile]:
    mode = source.get("defaultMode", 0o644)
    files = []
    for item in source.get("items") or []:
        if "fieldRef" in item:
            value = field_value(pod, (item["fieldRef"] or {}).get("fieldPath", ""), network=network)
            files.append(
                VolumeFile(path=item.get("path", ""), content=value.encode(), mode=item.get("mode", mode))
            )
    return files


def _projected_files(
    pod: Mapping[str, Any],
    projected: Mapping[str, Any],
    *,
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    network: PodNetwork,
    volume: str,
    tokens: Mapping[TokenKey, str],
) -> list[VolumeFile]:
    mode = projected.get("defaultMode", 0o644)
    files: list[VolumeFile] = []
    for source in projected.get("sources") or []:
        if "configMap" in source:
            files += _object_files(
                "ConfigMap", source["configMap"] or {}, objects=objects, volume=volume, default_mode=mode
            )
        elif "secret" in source:
            files += _object_files(
                "Secret", source["secret"] or {}, objects=objects, volume=volume, default_mode=mode
            )
        elif "downwardAPI" in source:
            files += _downward_files(
                pod, {"defaultMode": mode, **(source["downwardAPI"] or {})}, network=network
            )
        elif "serviceAccountToken" in source:
            projection = source["serviceAccountToken"] or {}
            token = tokens.get(token_key(projection))
            if token is None:
                raise PodConfigError(
                    f'MountVolume.SetUp failed for volume "{volume}" : failed to fetch token: '
                    "the node has no token for this projection",
                    reason="ContainerCreating",
                    event="FailedMount",
                )
            files.append(
                VolumeFile(path=str(projection.get("path") or "token"), content=token.encode(), mode=mode)
            )
        # clusterTrustBundle sources (alpha, off by default) have no meaning on the local node: skipped.
    return files


def materialise_volumes(plans: Sequence[VolumePlan], *, volumes_dir: Path) -> dict[str, Path]:
    """Write each planned volume under ``volumes_dir/<name>``; returns each volume's local directory."""
    directories: dict[str, Path] = {}
    for plan in plans:
        directory = plan.directory if plan.directory is not None else volumes_dir / plan.name
        if not directory.exists():  # a hostPath may name an existing file: it is used as it is
            directory.mkdir(parents=True)
            if plan.kind in ("emptyDir", "persistentVolumeClaim"):
                os.chmod(directory, 0o777)  # as the kubelet makes an emptyDir: any container user writes
        for item in plan.files:
            target = (directory / item.path).resolve()
            if not target.is_relative_to(directory.resolve()):
                raise PodConfigError(
                    f'MountVolume.SetUp failed for volume "{plan.name}" : item path '
                    f"{item.path!r} escapes the volume",
                    reason="ContainerCreating",
                    event="FailedMount",
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.content)
            os.chmod(target, item.mode & 0o777)
        directories[plan.name] = directory
    return directories


def mount_mapping(
    container: Mapping[str, Any], *, volume_dirs: Mapping[str, Path], termination_file: Path
) -> dict[str, str]:
    """Container path -> local path for the container's volume mounts and its termination message path."""
    mapping: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        name = mount.get("name", "")
        if name not in volume_dirs:
            raise PodConfigError(
                f"container {container.get('name')!r} mounts volume {name!r}, which the pod does not "
                f"define (expected one of {sorted(volume_dirs)!r})"
            )
        local = _sub_path(volume_dirs[name], str(mount.get("subPath") or ""), volume=name)
        mapping[normalise(str(mount.get("mountPath", "")))] = str(local)
    termination_path = container.get("terminationMessagePath") or "/dev/termination-log"
    mapping[normalise(termination_path)] = str(termination_file)
    return mapping


def _sub_path(volume_dir: Path, sub_path: str, *, volume: str) -> Path:
    """The local directory of a mount's ``subPath``, made when missing as a kubelet makes it. Like the
    kubelet's subpath checks (pkg/volume/util/subpath), a subPath that leads out of its volume, by ``..``
    or through a symbolic link the pod planted there, is refused rather than followed."""
    local = volume_dir / sub_path
    if not local.resolve().is_relative_to(volume_dir.resolve()):
        raise PodConfigError(
            f'failed to prepare subPath for volumeMount of volume "{volume}": subpath {sub_path!r} '
            "is outside the volume (expected a path inside it)",
            reason="CreateContainerConfigError",
        )
    if not local.exists():  # a kubelet creates a missing subPath as a directory
        local.mkdir(parents=True)
    return local


def normalise(path: str) -> str:
    """An absolute container path as the kernel resolves it lexically: ``//``, ``.`` and ``..`` folded."""
    folded = posixpath.normpath("/" + path.lstrip("/"))
    return "/" + folded.lstrip("/")


# What ends a path in a command line, an environment value or a shell script: whitespace, shell operators,
# quotes, expansions, globs and list separators (``PATH=a:b``, ``--opt=a,b``). Everything else continues it.
_PATH_END = r"\s;&|<>()'\"`$,=:*?\[\]{}!\\^"
# An absolute path: a '/' that does not continue a word (``x/dev`` is relative, ``//dev`` is ``/dev``).
_ABSOLUTE_PATH = re.compile(rf"(?<![A-Za-z0-9_.~+@%#/-])/[^{_PATH_END}]*")


def map_paths(text: str, mapping: Mapping[str, str]) -> str:
    """Replace every absolute path in ``text`` that lies in a mapped container path by the local path.

    A path is taken whole, up to the first character that ends it (``_PATH_END``), and folded (``//``,
    ``.``, ``..``) before it is compared, so no spelling of a mapped path reaches the host's file of the
    same name: ``>/dev/termination-log;``, ``$(cat /dev/termination-log)``, ``//dev/./termination-log``.
    A folded path that leaves a mapping (``/data/../etc``) is not mapped, so a mapped path never leads out
    of its local directory. The longest mapped path wins. A path after ``scheme:`` (``s3://bucket/x``) is
    part of a URL and kept. What the text cannot show is not mapped: paths built at run time (``cd /dev;
    echo > termination-log``, ``/dev/"termination-log"``, variables) and paths inside files.
    """
    prefixes = sorted((path for path in mapping if path not in ("", "/")), key=len, reverse=True)
    if not prefixes:
        return text

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("//") and text[: match.start()].endswith(":"):
            return token
        folded = normalise(token)
        for prefix in prefixes:
            if folded == prefix or folded.startswith(prefix + "/"):
                trailing = "/" if token.endswith("/") else ""
                return mapping[prefix] + folded[len(prefix) :] + trailing
        return token

    return _ABSOLUTE_PATH.sub(replace, text)
