"""Code that ships without an image build, end to end: a task module written into a fresh folder that no
pod's PYTHONPATH holds is submitted (CLI and Python), runs, is edited and runs the new code; with no storage
the archive travels in a ConfigMap shared by its TaskRuns and garbage collected with the last of them."""

from __future__ import annotations

import hashlib
import importlib
import json
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import kubetask
import kubetask_client
from kubetask_local.testing import Cluster, KubectlError, wait_for

pytestmark = pytest.mark.e2e

Cli = Callable[..., Any]
WAIT = 180.0

TASK = """import kubetask


@kubetask.task
def greet(name: str) -> str:
    return f"hello {{name}}, {version}"
"""


def write_module(folder: Path, name: str, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(TASK.format(version=version))
    return path


@dataclass(frozen=True)
class Project:
    """A fresh folder for a task module no pod can import (not in its image, not on its PYTHONPATH)."""

    cluster: Cluster
    namespace: str
    image: str
    folder: Path
    module_name: str

    def write(self, version: str) -> Path:
        return write_module(self.folder, self.module_name, version)

    def taskrun(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.cluster.kubectl_json(
            "get", "taskruns.kubetask.dev", name, "-n", self.namespace
        )
        return found

    def import_module(self, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
        monkeypatch.syspath_prepend(str(self.folder))
        importlib.invalidate_caches()
        return importlib.import_module(self.module_name)


@pytest.fixture
def project(cluster: Cluster, namespace: str, selftest_image: str, tmp_path: Path) -> Iterator[Project]:
    name = f"shipped_{secrets.token_hex(4)}"
    yield Project(cluster, namespace, selftest_image, tmp_path / "project", name)
    sys.modules.pop(name, None)  # forgotten here afterwards


def submit_cli(cli: Cli, project: Project, module: Path, *, name: str, extra: tuple[str, ...] = ()) -> Any:
    return cli(
        "submit", f"{module}:greet", "-i", "name=ada", "--image", project.image, "-n", project.namespace,
        "--name", name, "--wait", "--quiet", "--wait-timeout", str(int(WAIT)), *extra,
    )  # fmt: skip


def test_the_cli_ships_a_fresh_folder_and_runs_the_edited_code_next_time(
    kubetask_cli: Cli, project: Project
) -> None:
    module = project.write("v1")
    first = submit_cli(kubetask_cli, project, module, name="first")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout) == {"o0": "hello ada, v1"}

    project.write("v2")
    second = submit_cli(kubetask_cli, project, module, name="second")
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout) == {"o0": "hello ada, v2"}

    codes = [project.taskrun(name)["spec"]["code"] for name in ("first", "second")]
    assert codes[0]["sha256"] != codes[1]["sha256"]
    for code in codes:
        assert code["sha256"] in code["uri"]  # content-addressed, wherever it is stored


def test_without_the_shipped_code_the_pod_cannot_find_the_module(kubetask_cli: Cli, project: Project) -> None:
    result = submit_cli(kubetask_cli, project, project.write("v1"), name="no-code", extra=("--no-code",))
    assert result.exit_code == 1
    assert f"cannot import task module {project.module_name!r}" in result.stderr
    assert "code" not in project.taskrun("no-code")["spec"]


def test_python_submit_ships_the_code_and_uploads_each_content_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("from python")
    module = project.import_module(monkeypatch)
    handles = [
        kubetask.submit(module.greet, {"name": name}, image=project.image, namespace=project.namespace,
                        kubeconfig=str(project.cluster.kubeconfig))
        for name in ("grace", "linus")
    ]  # fmt: skip
    outputs = [handle.wait(WAIT).outputs for handle in handles]
    assert outputs == [{"o0": "hello grace, from python"}, {"o0": "hello linus, from python"}]
    code = [project.taskrun(handle.name)["spec"]["code"] for handle in handles]
    assert code[0] == code[1]  # the same content: one archive, named by its hash


# ---------------------------------------------------------------- no storage: a ConfigMap per archive


@pytest.fixture
def kubeconfig_without_storage(cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cluster's kubeconfig minus any storage extension, and no KUBETASK_STORAGE_PREFIX: a client that
    knows no storage."""
    document = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in document.get("clusters") or []:
        entry.get("cluster", {}).pop("extensions", None)
    path = tmp_path / "kubeconfig-without-storage"
    path.write_text(yaml.safe_dump(document))
    monkeypatch.delenv("KUBETASK_STORAGE_PREFIX", raising=False)
    return path


def configmap(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = cluster.kubectl_json("get", "configmap", name, "-n", namespace)
    except KubectlError as error:
        if "NotFound" in str(error) or "not found" in str(error):
            return None
        raise
    return found


def test_without_storage_a_shared_configmap_carries_the_code_until_its_last_taskrun_goes(
    project: Project, monkeypatch: pytest.MonkeyPatch, kubeconfig_without_storage: Path
) -> None:
    cluster, namespace = project.cluster, project.namespace
    project.write("from a configmap")
    module = project.import_module(monkeypatch)
    handles = [
        kubetask.submit(module.greet, {"name": name}, image=project.image, namespace=namespace,
                        kubeconfig=str(kubeconfig_without_storage))
        for name in ("one", "two")
    ]  # fmt: skip
    uris = {project.taskrun(handle.name)["spec"]["code"]["uri"] for handle in handles}
    (uri,) = uris
    assert uri.startswith("configmap:kubetask-code-")
    name = uri.removeprefix("configmap:")
    shared = configmap(cluster, namespace, name)
    assert shared is not None
    owners = shared["metadata"]["ownerReferences"]
    assert sorted(owner["name"] for owner in owners) == sorted(handle.name for handle in handles)
    assert all(owner["controller"] is False and owner["kind"] == "TaskRun" for owner in owners)

    assert [handle.wait(WAIT).outputs for handle in handles] == [
        {"o0": "hello one, from a configmap"},
        {"o0": "hello two, from a configmap"},
    ]

    # A real garbage collector deletes a dependent only once none of its owners exists, and otherwise drops
    # the reference to the deleted one ("Owners and dependents",
    # https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/, and
    # pkg/controller/garbagecollector/garbagecollector.go, attemptToDeleteItem).
    first, second = handles
    first.delete()

    def first_and_its_pods_are_gone() -> bool:
        pods = cluster.kubectl_json(
            "get", "pods", "-n", namespace, "-l", f"kubetask.dev/taskrun={first.name}"
        )
        runs = cluster.kubectl_json("get", "taskruns.kubetask.dev", "-n", namespace)["items"]
        return not pods["items"] and first.name not in [run["metadata"]["name"] for run in runs]

    wait_for(first_and_its_pods_are_gone, WAIT, "the first TaskRun and its pod to be garbage collected")

    def owned_by_the_second_alone() -> bool:
        kept = configmap(cluster, namespace, name)
        assert kept is not None, "the ConfigMap went while the second TaskRun still uses it"
        return [owner["uid"] for owner in kept["metadata"]["ownerReferences"]] == [
            second.taskrun["metadata"]["uid"]
        ]

    wait_for(owned_by_the_second_alone, WAIT, "the collector to drop the reference to the deleted TaskRun")

    second.delete()
    wait_for(
        lambda: configmap(cluster, namespace, name) is None, WAIT, "the ConfigMap to go with its last owner"
    )


def test_the_api_server_refuses_a_malformed_code_sha256(cluster: Cluster, namespace: str) -> None:
    manifest = {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": "bad-code", "namespace": namespace},
        "spec": {
            "image": "python:3.12",
            "task": {"module": "m", "name": "t"},
            "code": {"uri": "s3://bucket/code.tar.gz", "sha256": "ABC"},
        },
    }
    with pytest.raises(KubectlError) as raised:
        cluster.apply(manifest)
    assert "spec.code.sha256" in str(raised.value)


def test_kubetask_dev_gives_its_operator_and_its_clients_a_storage_prefix(
    kubetask_cli: Cli, project: Project
) -> None:
    if not project.cluster.is_local:
        pytest.skip("checks what `kubetask dev` writes into its own kubeconfig")
    # A cluster entry of a kubeconfig carries `extensions: [{name, extension}]` that kubectl keeps and ignores
    # (https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/#Cluster, client-go
    # tools/clientcmd/api/v1/types.go NamedExtension; minikube records its own details this way). Every
    # kubectl call of this suite reads this kubeconfig, so the real kubectl accepts it.
    document = yaml.safe_load(project.cluster.kubeconfig.read_text())
    (extension,) = document["clusters"][0]["cluster"]["extensions"]
    assert extension["name"] == "kubetask.dev/storage"
    prefix = extension["extension"]["prefix"]
    assert prefix.startswith("file:///")

    result = submit_cli(kubetask_cli, project, project.write("stored"), name="stored")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"o0": "hello ada, stored"}
    taskrun = project.taskrun("stored")
    code = taskrun["spec"]["code"]
    assert code["uri"] == f"{prefix}/code/{code['sha256']}.tar.gz"  # the client used the cluster's storage
    stored = Path(code["uri"].removeprefix("file://"))
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == code["sha256"]
    # ... and so did the operator: the run's outputs document is under the same prefix.
    assert taskrun["status"]["outputsUri"].startswith(f"{prefix}/{project.namespace}/stored/")


def test_a_refused_taskrun_leaves_no_configmap_behind(
    project: Project, monkeypatch: pytest.MonkeyPatch, kubeconfig_without_storage: Path
) -> None:
    project.write("refused")
    module = project.import_module(monkeypatch)
    with pytest.raises(kubetask_client.InvalidTaskRunError, match="pendingTimeout"):
        # The client's duration grammar accepts 0s; the CRD refuses a zero pendingTimeout (a CEL rule).
        kubetask.submit(
            module.greet, {"name": "x"}, image=project.image, namespace=project.namespace,
            pending_timeout="0s", kubeconfig=str(kubeconfig_without_storage),
        )  # fmt: skip
    listed = project.cluster.kubectl_json("get", "configmaps", "-n", project.namespace)["items"]
    assert [
        item["metadata"]["name"] for item in listed if item["metadata"]["name"].startswith("kubetask-code-")
    ] == []


@pytest.mark.parametrize(
    ("code", "patch", "message"),
    [
        pytest.param(
            {"uri": "s3://bucket/code/a.tar.gz", "sha256": "a" * 64},
            {"spec": {"code": {"sha256": "b" * 64}}},
            "spec.code is immutable",
            id="change",
        ),
        pytest.param(
            {"uri": "s3://bucket/code/a.tar.gz", "sha256": "a" * 64},
            {"spec": {"code": None}},
            "spec.code cannot be added or removed",
            id="remove",
        ),
        pytest.param(
            None,
            {"spec": {"code": {"uri": "s3://bucket/code/a.tar.gz", "sha256": "a" * 64}}},
            "spec.code cannot be added or removed",
            id="add",
        ),
    ],
)
def test_spec_code_is_immutable(
    cluster: Cluster, namespace: str, code: dict[str, str] | None, patch: dict[str, Any], message: str
) -> None:
    spec: dict[str, Any] = {"image": "python:3.12", "task": {"module": "m", "name": "t"}, "cancelled": True}
    if code is not None:
        spec["code"] = code
    cluster.apply(
        {
            "apiVersion": "kubetask.dev/v1alpha1",
            "kind": "TaskRun",
            "metadata": {"name": "fixed"},
            "spec": spec,
        },
        namespace=namespace,
    )
    with pytest.raises(KubectlError) as refused:
        cluster.kubectl(
            "patch",
            "taskruns.kubetask.dev",
            "fixed",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            json.dumps(patch),
        )
    assert message in str(refused.value)
