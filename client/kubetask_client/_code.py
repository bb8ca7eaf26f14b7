"""Shipping a task's code with its TaskRun, so a code change needs no image build.

``submit`` packs the code root of the task's module (``kubetask.pack_code``) and names the archive in the
TaskRun's ``spec.code``. Where the archive goes:

- under the storage prefix, when the client knows one: ``<prefix>/code/<sha256>.tar.gz``, uploaded only when
  no archive of that content is there yet. The prefix is ``$KUBETASK_STORAGE_PREFIX``, else the
  ``kubetask.dev/storage`` extension of the kubeconfig's cluster (``kubetask dev`` writes it);
- else into a ConfigMap per archive, ``kubetask-code-<sha256>`` in the TaskRun's namespace (``binaryData``,
  immutable), shared by every TaskRun that uses it: each is added as a non-controller owner, so garbage
  collection removes the ConfigMap with the last of them. ConfigMaps hold about 1 MiB, so archives over
  ``CONFIGMAP_MAX_BYTES`` are refused there with what to do instead.

A task whose module is installed in site-packages ships nothing: it came with the environment, which the
image is expected to carry.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import site
import sys
import sysconfig
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import kubetask
from kubetask_client._api import TaskRunApi
from kubetask_client._errors import ApiError, ClientUsageError
from kubetask_client._taskrun import API_VERSION, KIND

#: Largest archive put in a ConfigMap: the API server refuses ConfigMaps whose data and binaryData exceed
#: 1 MiB in all (pkg/apis/core/validation/validation.go, ValidateConfigMap, core.MaxSecretSize).
CONFIGMAP_MAX_BYTES = 900 * 1024
CONFIGMAP_PREFIX = "kubetask-code-"
#: The ConfigMap key holding the archive (the operator mounts it and reads this file).
CONFIGMAP_KEY = "code.tar.gz"
CONFIGMAP_URI_SCHEME = "configmap:"
STORAGE_PREFIX_VARIABLE = "KUBETASK_STORAGE_PREFIX"
ANNOTATION_SHA256 = "kubetask.dev/code-sha256"


# ---------------------------------------------------------------- the command line


def add_code_flags(parser: argparse.ArgumentParser) -> None:
    """``--no-code`` on ``kubetask submit``; its value is ``args.ship_code``."""
    parser.add_argument(
        "--no-code",
        dest="ship_code",
        action="store_false",
        help="do not ship the task's source with the TaskRun: IMAGE already holds it "
        "(by default the module's code root is packed, uploaded once per content and unpacked in the pod)",
    )


# ---------------------------------------------------------------- what to ship


def module_file_of(task: kubetask.Task[..., Any]) -> str | None:
    """The source file of the module the task's function is defined in (None for one without a file)."""
    module = sys.modules.get(task.function.__module__)
    filename = getattr(module, "__file__", None)
    return os.path.abspath(filename) if filename and filename.endswith(".py") else None


def installed_locations() -> list[str]:
    """Folders where installed distributions live (site-packages, the standard library)."""
    paths = sysconfig.get_paths()
    found = {paths[key] for key in ("purelib", "platlib", "stdlib", "platstdlib") if key in paths}
    found.update(site.getsitepackages())
    found.add(site.getusersitepackages())
    return sorted(os.path.realpath(path) for path in found if path)


def is_installed(path: str, *, locations: Iterable[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == location or real.startswith(location + os.sep) for location in locations)


def archive_for_task(task: kubetask.Task[..., Any]) -> kubetask.CodeArchive | None:
    """The packed code root of ``task``'s module; None when it comes from an installed distribution or has
    no file (nothing to ship). CodePackingError when the root is too large."""
    module_file = module_file_of(task)
    if module_file is None or is_installed(module_file, locations=installed_locations()):
        return None
    return kubetask.pack_code(kubetask.code_root_of(module_file))


# ---------------------------------------------------------------- where it goes


def configmap_name(archive: kubetask.CodeArchive) -> str:
    return CONFIGMAP_PREFIX + archive.sha256


def code_configmap(archive: kubetask.CodeArchive, *, namespace: str) -> dict[str, Any]:
    """The ConfigMap holding ``archive``; ClientUsageError when it is too large for one."""
    if len(archive.data) > CONFIGMAP_MAX_BYTES:
        raise ClientUsageError(
            f"the code of {archive.root!r} packs to {len(archive.data) // 1024} KiB, more than the "
            f"{CONFIGMAP_MAX_BYTES // 1024} KiB kubetask puts in a ConfigMap when no storage is configured: "
            f"configure storage ({STORAGE_PREFIX_VARIABLE}=s3://bucket/prefix), leave files out with "
            ".kubetaskignore, or build the code into the image and submit with --no-code (code=False)"
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(archive),
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "kubetask-client",
                "app.kubernetes.io/component": "code",
            },
            "annotations": {ANNOTATION_SHA256: archive.sha256},
        },
        "immutable": True,
        "binaryData": {CONFIGMAP_KEY: base64.b64encode(archive.data).decode("ascii")},
    }


def owner_reference(taskrun: Mapping[str, Any]) -> dict[str, Any]:
    """A using TaskRun as an owner of the shared ConfigMap: not its controller, and not blocking deletion."""
    metadata = taskrun["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": False,
        "blockOwnerDeletion": False,
    }


@dataclass(frozen=True)
class ShippedCode:
    """An archive in place for a TaskRun: ``spec.code``, and the ConfigMap it is in (if so)."""

    uri: str
    sha256: str
    configmap: str | None = None
    created_configmap: bool = False

    def spec(self) -> dict[str, str]:
        return {"uri": self.uri, "sha256": self.sha256}


class CodeShipper:
    """Puts archives where the cluster's pods can read them, and ties ConfigMaps to their TaskRuns."""

    def __init__(self, api: TaskRunApi, *, storage_prefix: str | None) -> None:
        self._api = api
        self.storage_prefix = storage_prefix

    @classmethod
    def for_api(cls, api: TaskRunApi, *, env: Mapping[str, str] | None = None) -> CodeShipper:
        env = os.environ if env is None else env
        return cls(api, storage_prefix=env.get(STORAGE_PREFIX_VARIABLE) or api.connection.storage_prefix)

    def ship(self, archive: kubetask.CodeArchive, *, namespace: str) -> ShippedCode:
        if self.storage_prefix is not None:
            return ShippedCode(
                uri=kubetask.upload_code(archive, prefix=self.storage_prefix), sha256=archive.sha256
            )
        body = code_configmap(archive, namespace=namespace)
        name = body["metadata"]["name"]
        created = self._create_configmap(body, tolerate_existing=True)
        return ShippedCode(
            uri=CONFIGMAP_URI_SCHEME + name, sha256=archive.sha256, configmap=name, created_configmap=created
        )

    def adopt(self, shipped: ShippedCode, archive: kubetask.CodeArchive, taskrun: Mapping[str, Any]) -> None:
        """Add ``taskrun`` as an owner of the archive's ConfigMap; recreate it if it was collected since."""
        if shipped.configmap is None:
            return
        namespace = taskrun["metadata"]["namespace"]
        reference = owner_reference(taskrun)
        try:
            self._api.request(
                "PATCH",
                _configmap_path(namespace, shipped.configmap),
                what=f"adding taskrun {reference['name']!r} as an owner of configmap {shipped.configmap!r}",
                body={"metadata": {"ownerReferences": [reference]}},  # merged by uid: other owners stay
                content_type="application/strategic-merge-patch+json",
            )
        except ApiError as error:
            if error.status != 404:
                raise
            body = code_configmap(archive, namespace=namespace)  # garbage collected since `ship`
            body["metadata"]["ownerReferences"] = [reference]
            self._create_configmap(body, tolerate_existing=False)

    def abandon(self, shipped: ShippedCode, *, namespace: str) -> None:
        """Remove a ConfigMap this submission created when its TaskRun could not be created."""
        if shipped.configmap is None or not shipped.created_configmap:
            return
        # Best effort: an unowned archive ConfigMap is harmless, and the next submission of it reuses it.
        with contextlib.suppress(ApiError):
            self._api.request(
                "DELETE",
                _configmap_path(namespace, shipped.configmap),
                what=f"deleting configmap {shipped.configmap!r}",
            )

    def _create_configmap(self, body: Mapping[str, Any], *, tolerate_existing: bool) -> bool:
        metadata = body["metadata"]
        try:
            self._api.request(
                "POST",
                _configmap_path(metadata["namespace"]),
                what=f"creating configmap {metadata['name']!r} (the task's code) "
                f"in namespace {metadata['namespace']!r}",
                body=dict(body),
            )
        except ApiError as error:
            if error.status == 409 and tolerate_existing:
                return False  # the same content, named by its hash, is already there
            raise
        return True


def _configmap_path(namespace: str, name: str | None = None) -> str:
    path = f"/api/v1/namespaces/{quote(namespace)}/configmaps"
    return path if name is None else f"{path}/{quote(name)}"


def create_with_code(
    api: TaskRunApi,
    task: kubetask.Task[..., Any],
    *,
    namespace: str,
    ship_code: bool,
    build_manifest: Callable[[Mapping[str, str] | None], Mapping[str, Any]],
) -> dict[str, Any]:
    """Create the TaskRun ``build_manifest(spec.code or None)``, with ``task``'s code shipped beside it when
    ``ship_code`` and it has code to ship."""
    archive = archive_for_task(task) if ship_code else None
    if archive is None:
        return api.create(build_manifest(None))
    shipper = CodeShipper.for_api(api)
    shipped = shipper.ship(archive, namespace=namespace)
    try:
        created = api.create(build_manifest(shipped.spec()))
    except BaseException:
        shipper.abandon(shipped, namespace=namespace)
        raise
    shipper.adopt(shipped, archive, created)
    return created
