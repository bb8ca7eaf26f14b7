"""`helm install` against a cluster creates every object the chart renders, `helm upgrade` changes them,
`helm uninstall` removes them (keeping the CRD unless crds.keep=false). A private local cluster by default:
uninstalling must not take the shared cluster's CRD away. The `helm test` hook's own command runs against
the session's cluster with the operator, as the hook's pod runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask_local.testing import Cluster, start_local_cluster

pytestmark = pytest.mark.e2e

CHART = Path(__file__).parents[2] / "charts" / "kubetask"
Helm = Callable[..., subprocess.CompletedProcess[str]]
Render = Callable[..., list[dict[str, Any]]]
CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


@pytest.fixture(scope="module")
def install_cluster(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A private local cluster for this module (no operator: helm only writes objects), or the real one
    given to pytest. Each test removes what it installs, so they share it."""
    if not cluster.is_local:
        yield cluster
        return
    private = start_local_cluster(tmp_path_factory.mktemp("install-cluster"), operator=False)
    try:
        yield private
    finally:
        assert private.process is not None
        private.process.stop()


@pytest.fixture
def kube_helm(
    helm: Helm, install_cluster: Cluster, tmp_path: Path
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """helm against install_cluster; ``values`` (a dict) goes in as a --values file."""

    def run(
        *args: str, values: dict[str, Any] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        extra: list[str] = []
        if values is not None:
            path = tmp_path / f"values-{len(list(tmp_path.glob('values-*')))}.yaml"
            path.write_text(yaml.safe_dump(values))
            extra = ["--values", str(path)]
        return helm(*args, *extra, "--kubeconfig", str(install_cluster.kubeconfig), check=check)

    return run


def _with_crd_policy(cluster: Cluster, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """kubetask dev applies the CRD itself: the release leaves it alone, or adopts it when it is to remove it
    at uninstall (crds.keep=false). On a real cluster kubetask is already installed and the CRD belongs to
    that release: leave it alone."""
    crds = values.get("crds", {})
    if not cluster.is_local:
        return {**values, "crds": {**crds, "enabled": False}}, []
    if crds.get("keep") is False:
        return {**values, "crds": {**crds, "takeOwnership": True}}, ["--take-ownership"]
    return values, []


def _exists(cluster: Cluster, document: dict[str, Any]) -> bool:
    api_version = document["apiVersion"]
    group = api_version.split("/")[0] if "/" in api_version else ""
    resource = f"{document['kind'].lower()}.{group}" if group else document["kind"].lower()
    args = ["get", resource, document["metadata"]["name"], "--ignore-not-found", "-o", "name"]
    if document["kind"] not in CLUSTER_SCOPED:
        args += ["-n", document["metadata"]["namespace"]]
    return bool(cluster.kubectl(*args).stdout.strip())


def _names(documents: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{d['kind']}/{d['metadata']['name']}" for d in documents)


@pytest.mark.parametrize(
    ("values", "crd_survives"),
    [
        pytest.param({}, True, id="defaults-keep-the-crd"),
        pytest.param(
            {"crds": {"keep": False}, "watchNamespaces": ["kt-install-a", "kt-install-b"]},
            False,
            id="watched-namespaces-crd-removed",
        ),
    ],
)
def test_install_creates_everything_and_uninstall_removes_it(
    kube_helm: Callable[..., Any],
    install_cluster: Cluster,
    render_chart: Render,
    values: dict[str, Any],
    crd_survives: bool,
) -> None:
    release = namespace = "kt-install"
    for name in (namespace, "kt-install-a", "kt-install-b"):
        install_cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    values, flags = _with_crd_policy(install_cluster, values)
    rendered = [
        d
        for d in render_chart(values, release=release, namespace=namespace)
        if d["metadata"].get("annotations", {}).get("helm.sh/hook") != "test"
    ]
    installed = kube_helm("install", release, str(CHART), "-n", namespace, *flags, values=values)
    assert "kubetask submit" in installed.stdout  # NOTES.txt
    try:
        missing = _names([d for d in rendered if not _exists(install_cluster, d)])
        assert not missing, f"helm install did not create {missing}"
        (status,) = json.loads(kube_helm("list", "-n", namespace, "-o", "json").stdout)
        assert status["status"] == "deployed"
    finally:
        kube_helm("uninstall", release, "-n", namespace)
    left = _names([d for d in rendered if _exists(install_cluster, d)])
    crds = _names([d for d in rendered if d["kind"] == "CustomResourceDefinition"])
    assert left == (crds if crd_survives else []), "helm uninstall left objects behind"


def test_upgrade_changes_the_operator_settings_and_refuses_bad_values(
    kube_helm: Callable[..., Any], install_cluster: Cluster
) -> None:
    release = namespace = "kt-upgrade"
    install_cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    values, flags = _with_crd_policy(install_cluster, {})
    kube_helm("install", release, str(CHART), "-n", namespace, *flags, values=values)
    try:
        kube_helm(
            "upgrade",
            release,
            str(CHART),
            "-n",
            namespace,
            "--reuse-values",
            values={"operator": {"logLevel": "debug"}},
        )
        deployment = install_cluster.kubectl_json("get", "deployment", "kt-upgrade-kubetask", "-n", namespace)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert {"name": "KUBETASK_LOG_LEVEL", "value": "debug"} in container["env"]
        refused = kube_helm(
            "upgrade",
            release,
            str(CHART),
            "-n",
            namespace,
            "--reuse-values",
            values={"replicas": 2, "leaderElection": {"enabled": False}},
            check=False,
        )
        assert refused.returncode != 0
        assert "replicas=2 needs leaderElection.enabled=true" in refused.stderr
    finally:
        kube_helm("uninstall", release, "-n", namespace)


def test_the_helm_test_command_succeeds_against_the_operator(
    helm: Helm, cluster: Cluster, namespace: str, kubetask_cli: Callable[..., Any]
) -> None:
    shown = helm(
        "template",
        "kubetask",
        str(CHART),
        "-n",
        namespace,
        "--show-only",
        "templates/tests/submit-taskrun.yaml",
    ).stdout
    (pod,) = (d for d in yaml.safe_load_all(shown) if d and d["kind"] == "Pod")
    command = pod["spec"]["containers"][0]["command"]
    assert command[:2] == ["kubetask", "submit"]
    # In the cluster the pod authenticates as its ServiceAccount; here the test's kubeconfig stands in.
    result = kubetask_cli(*command[1:])
    assert result.exit_code == 0, result.stderr
    outputs = result.stdout[result.stdout.rfind("\n{") + 1 :]  # after the task's log, streamed live
    assert json.loads(outputs) == {"o0": "helm test kubetask"}
    assert (
        cluster.kubectl_json("get", "taskruns.kubetask.dev", "-n", namespace)["items"] == []
    )  # --delete-after


@pytest.mark.parametrize("mode", [pytest.param("-f", id="apply-f"), pytest.param("-k", id="apply-k")])
def test_kubectl_apply_of_the_manifests_creates_everything(install_cluster: Cluster, mode: str) -> None:
    manifests = CHART.parents[1] / "manifests"
    documents = [
        d for path in sorted(manifests.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d
    ]
    if not install_cluster.is_local:  # kubetask is installed there already: let the server check, not apply
        install_cluster.kubectl("apply", mode, str(manifests), "--dry-run=server")
        return
    applied = install_cluster.kubectl("apply", mode, str(manifests)).stdout
    assert len(applied.strip().splitlines()) == len(documents)
    missing = _names([d for d in documents if d["kind"] != "Namespace" and not _exists(install_cluster, d)])
    assert not missing, f"kubectl apply did not create {missing}"
    install_cluster.kubectl("delete", mode, str(manifests), "--ignore-not-found")
    left = _names([d for d in documents if d["kind"] != "Namespace" and _exists(install_cluster, d)])
    assert left == [], f"kubectl delete left {left}"


def _reachable_by_other_users(path: Path) -> bool:
    """Whether a user other than the owner may reach ``path``: every folder above it open to others."""
    return all(folder.stat().st_mode & 0o001 for folder in path.parents)


def test_the_chart_tried_on_kubetask_dev_installs_and_passes_helm_test(
    helm: Helm, cluster: Cluster, local_cluster_factory: Callable[..., Cluster]
) -> None:
    """As the README tells users to try it: `kubetask dev`, then helm install and helm test, with no flags.
    kubetask dev's own operator acts (the local cluster runs no Deployment controller); the CRD kubetask dev
    applied is left to it."""
    if not cluster.is_local:
        pytest.skip("tries the chart on kubetask dev")
    if os.geteuid() == 0 and not _reachable_by_other_users(Path(sys.executable).resolve()):
        # A node running as root runs the helm-test pod as its runAsUser (65532), as a kubelet does; that
        # user cannot start this machine's Python, so its pod fails with StartError: permission denied.
        pytest.skip(f"as root, pods run as their runAsUser, who cannot reach {sys.executable}")
    dev = local_cluster_factory(operator=True)
    kubeconfig = ["--kubeconfig", str(dev.kubeconfig)]
    installed = helm("install", "kubetask", str(CHART), "-n", "kubetask", "--create-namespace", *kubeconfig)
    assert "was already in the cluster and this release does not own it" in installed.stdout
    crd = dev.kubectl_json("get", "crd", "taskruns.kubetask.dev")
    assert "meta.helm.sh/release-name" not in crd["metadata"].get("annotations", {})
    tested = helm("test", "kubetask", "-n", "kubetask", "--logs", *kubeconfig, check=False, timeout=300)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert '"o0": "helm test kubetask"' in tested.stdout
    helm("uninstall", "kubetask", "-n", "kubetask", *kubeconfig)
    assert dev.kubectl("get", "crd", "taskruns.kubetask.dev", "-o", "name").stdout.strip()
