"""The client's side of shipping code, without a cluster: what is shipped, where it goes, and the ConfigMap
that holds it when there is no storage."""

from __future__ import annotations

import base64
import importlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetask
from kubetask_client import ApiError, ClientUsageError
from kubetask_client._code import (
    CONFIGMAP_MAX_BYTES,
    CodeShipper,
    archive_for_task,
    code_configmap,
    is_installed,
    owner_reference,
)
from kubetask_client._commands import build_parser
from kubetask_client._kube import connect
from kubetask_client._taskrun import SubmitOptions, TaskReference, taskrun_manifest


def kubeconfig(path: Path, *, extensions: list[dict[str, Any]] | None) -> Path:
    cluster: dict[str, Any] = {"server": "http://127.0.0.1:1"}
    if extensions is not None:
        cluster["extensions"] = extensions
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": cluster},
                    {"name": "other", "cluster": {"server": "https://other.example:6443"}},
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "main", "context": {"cluster": "c", "user": "u"}},
                    {"name": "elsewhere", "context": {"cluster": "other", "user": "u"}},
                ],
                "current-context": "main",
            }
        )
    )
    return path


STORAGE = [{"name": "kubetask.dev/storage", "extension": {"prefix": "file:///var/kubetask"}}]


# ---------------------------------------------------------------- the storage prefix


def test_the_storage_prefix_comes_from_the_clusters_kubeconfig_extension(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", extensions=[{"name": "other", "extension": {}}, *STORAGE])
    assert connect(kubeconfig=str(path)).storage_prefix == "file:///var/kubetask"
    # another cluster, no extension
    assert connect(kubeconfig=str(path), context="elsewhere").storage_prefix is None


def test_without_the_extension_there_is_no_storage_prefix(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", extensions=None)
    assert connect(kubeconfig=str(path)).storage_prefix is None


# ---------------------------------------------------------------- what is shipped


def test_a_task_module_in_a_project_folder_is_packed_from_its_code_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "code_root_tasks.py").write_text(
        "import kubetask\n\n\n@kubetask.task\ndef t() -> int:\n    return 1\n"
    )
    (tmp_path / "README.md").write_text("beside the package")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("app.code_root_tasks")
    try:
        archive = archive_for_task(module.t)
    finally:
        for name in ("app.code_root_tasks", "app"):
            sys.modules.pop(name, None)
    assert archive is not None
    assert archive.root == str(tmp_path)
    assert archive.files == ("README.md", "app/__init__.py", "app/code_root_tasks.py")


def test_installed_locations_ship_nothing(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "site-packages"
    assert is_installed(str(site / "pkg" / "m.py"), locations=[str(site)])
    assert not is_installed(str(tmp_path / "project" / "m.py"), locations=[str(site)])
    assert not is_installed(str(tmp_path / "lib" / "site-packages-not"), locations=[str(site)])


def test_no_code_on_the_command_line() -> None:
    parser = build_parser()
    base = ["submit", "m.py:t", "--image", "i"]
    assert parser.parse_args(base).ship_code is True
    assert parser.parse_args([*base, "--no-code"]).ship_code is False


def test_the_taskrun_names_the_archive_in_spec_code() -> None:
    code = {"uri": "configmap:kubetask-code-" + "a" * 64, "sha256": "a" * 64}
    manifest = taskrun_manifest(
        name="t",
        namespace="ns",
        reference=TaskReference(module="m", name="t"),
        inputs=None,
        options=SubmitOptions(image="i"),
        code=code,
    )
    assert manifest["spec"]["code"] == code


# ---------------------------------------------------------------- the ConfigMap


def archive_of(tmp_path: Path, files: dict[str, bytes]) -> kubetask.CodeArchive:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return kubetask.pack_code(str(tmp_path))


def test_the_configmap_holds_the_archive_as_immutable_binary_data_named_by_its_hash(tmp_path: Path) -> None:
    archive = archive_of(tmp_path, {"t.py": b"X = 1\n"})
    body = code_configmap(archive, namespace="team")
    assert body["metadata"]["name"] == "kubetask-code-" + archive.sha256
    assert body["metadata"]["namespace"] == "team"
    assert body["metadata"]["annotations"] == {"kubetask.dev/code-sha256": archive.sha256}
    assert body["immutable"] is True
    assert base64.b64decode(body["binaryData"]["code.tar.gz"]) == archive.data
    assert "ownerReferences" not in body["metadata"]  # owners are added once each TaskRun exists


def test_an_archive_too_large_for_a_configmap_is_refused_saying_to_configure_storage(tmp_path: Path) -> None:
    incompressible = io.BytesIO()
    seed = 1
    for _ in range(CONFIGMAP_MAX_BYTES // 4 + 1024):  # a deterministic stream gzip cannot shrink
        seed = (seed * 1103515245 + 12345) % 2**31
        incompressible.write(seed.to_bytes(4, "little"))
    archive = archive_of(tmp_path, {"model.bin": incompressible.getvalue(), "t.py": b""})
    with pytest.raises(ClientUsageError) as raised:
        code_configmap(archive, namespace="team")
    message = str(raised.value)
    assert f"more than the {CONFIGMAP_MAX_BYTES // 1024} KiB" in message
    assert "configure storage (KUBETASK_STORAGE_PREFIX=s3://bucket/prefix)" in message
    assert "--no-code (code=False)" in message


def test_each_using_taskrun_is_a_non_controller_owner() -> None:
    taskrun = {"metadata": {"name": "run-1", "namespace": "team", "uid": "u-1"}}
    assert owner_reference(taskrun) == {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskRun",
        "name": "run-1",
        "uid": "u-1",
        "controller": False,
        "blockOwnerDeletion": False,
    }


# ---------------------------------------------------------------- storage and the ConfigMap's life


def test_an_archive_is_uploaded_once_per_content(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    archive = archive_of(tmp_path / "src", {"t.py": b"T = 1\n"})
    prefix = (tmp_path / "storage").as_uri()
    uri = kubetask.upload_code(archive, prefix=prefix)
    assert uri == f"{prefix}/code/{archive.sha256}.tar.gz"
    stored = Path(uri.removeprefix("file://"))
    assert stored.read_bytes() == archive.data
    stored.write_bytes(b"a stand-in: left alone, since an archive of this name is there")
    assert kubetask.upload_code(archive, prefix=prefix) == uri
    assert stored.read_bytes().startswith(b"a stand-in")


class FakeConfigMaps:
    """The requests CodeShipper makes through TaskRunApi.request, recorded; a ConfigMap collected between
    ship and adopt (its PATCH answers 404)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def request(self, method: str, path: str, *, body: Any = None, **_: Any) -> None:
        assert path.startswith("/api/v1/namespaces/team/configmaps"), path
        if method == "POST":
            self.calls.append(("create", body))
            return
        assert method == "PATCH", method
        self.calls.append(("patch", body))
        raise ApiError("configmap gone", status=404)


def test_a_configmap_collected_before_its_owner_was_added_is_made_again_with_the_owner(
    tmp_path: Path,
) -> None:
    archive = archive_of(tmp_path, {"t.py": b"T = 1\n"})
    fake = FakeConfigMaps()
    shipper = CodeShipper(fake, storage_prefix=None)  # type: ignore[arg-type]  # the requests it makes
    shipped = shipper.ship(archive, namespace="team")
    assert shipped.uri == f"configmap:kubetask-code-{archive.sha256}"
    taskrun = {"metadata": {"name": "run-1", "namespace": "team", "uid": "u-1"}}
    shipper.adopt(shipped, archive, taskrun)
    kinds = [kind for kind, _ in fake.calls]
    assert kinds == ["create", "patch", "create"]
    assert fake.calls[1][1] == {"metadata": {"ownerReferences": [owner_reference(taskrun)]}}
    assert fake.calls[2][1]["metadata"]["ownerReferences"] == [owner_reference(taskrun)]
