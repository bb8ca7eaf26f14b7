"""Helm 4 (server-side apply by default, protobuf release storage) installs, upgrades and uninstalls the
kubetask chart against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import VENV_BIN, Http

CHART = Path(__file__).resolve().parents[3] / "charts" / "kubetask"
HELM = VENV_BIN / "helm"

pytestmark = pytest.mark.skipif(not HELM.exists(), reason=f"no helm binary at {HELM} (run .ci/install-helm)")


def _helm(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "HELM_CACHE_HOME": str(kubeconfig.parent / "helm-cache"),
        "HELM_CONFIG_HOME": str(kubeconfig.parent / "helm-config"),
        "HELM_DATA_HOME": str(kubeconfig.parent / "helm-data"),
    }
    result = subprocess.run(
        [str(HELM), *args], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
    return result


def _env(http: Http, namespace: str) -> dict[str, str]:
    deployment = http.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/kt-kubetask").body
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def test_helm_install_upgrade_uninstall(kubeconfig: Path, http: Http) -> None:
    namespace = "helm-target"
    _helm(kubeconfig, "install", "kt", str(CHART), "-n", namespace, "--create-namespace")

    releases = json.loads(_helm(kubeconfig, "list", "-n", namespace, "-o", "json").stdout)
    assert [(r["name"], r["status"], r["revision"]) for r in releases] == [("kt", "deployed", "1")]
    assert http.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/kt-kubetask").status == 200
    assert (
        http.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/taskruns.kubetask.dev").status
        == 200
    )
    deployment = http.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/kt-kubetask").body
    assert {field["manager"] for field in deployment["metadata"]["managedFields"]} == {"helm"}
    assert _env(http, namespace)["KUBETASK_LOG_LEVEL"] == "info"
    stored = http.get(f"/api/v1/namespaces/{namespace}/secrets?labelSelector=owner%3Dhelm,name%3Dkt").body[
        "items"
    ]
    assert [secret["type"] for secret in stored] == ["helm.sh/release.v1"]

    _helm(kubeconfig, "upgrade", "kt", str(CHART), "-n", namespace, "--set", "operator.logLevel=debug")
    assert _env(http, namespace)["KUBETASK_LOG_LEVEL"] == "debug"
    releases = json.loads(_helm(kubeconfig, "list", "-n", namespace, "-o", "json").stdout)
    assert [(r["status"], r["revision"]) for r in releases] == [("deployed", "2")]

    _helm(kubeconfig, "uninstall", "kt", "-n", namespace, "--wait", "--timeout", "20s")
    assert http.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/kt-kubetask").status == 404
    assert http.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/kt-kubetask").status == 404
    assert http.get(f"/api/v1/namespaces/{namespace}/secrets?labelSelector=owner%3Dhelm").body["items"] == []
