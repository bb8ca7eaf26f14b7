"""values.schema.json and manifests/ are generated from the chart and never drift from it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).parents[2]
MANIFESTS = REPO / "manifests"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kubetask_chart_generate", REPO / "charts" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _helm() -> str:
    beside = Path(sys.executable).parent / "helm"
    found = str(beside) if beside.exists() else shutil.which("helm")
    assert found, "no helm binary: run `bash .ci/install-helm .venv/bin`"
    return found


def test_committed_files_match_the_generator(generator: ModuleType) -> None:
    expected = generator.expected_files(helm=_helm())
    stale = [str(path.relative_to(REPO)) for path in generator.stale_files(expected)]
    assert not stale, f"stale generated files {stale}: run `.venv/bin/python charts/generate.py`"


def test_a_chart_change_makes_exactly_the_affected_file_stale(generator: ModuleType) -> None:
    expected = generator.expected_files(helm=_helm())
    rbac = generator.MANIFESTS / "02-rbac.yaml"
    changed = {**expected, rbac: expected[rbac] + "# a rule added to the chart\n"}
    assert generator.stale_files(changed) == [rbac]
    without_rbac = {path: text for path, text in expected.items() if path != rbac}
    assert generator.stale_files(without_rbac) == [rbac], "a file the chart no longer makes is stale too"


def _manifest_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        documents.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return documents


def test_manifests_apply_in_dependency_order() -> None:
    kinds = [d["kind"] for d in _manifest_documents()]
    assert kinds[0] == "Namespace"
    assert kinds.index("CustomResourceDefinition") < kinds.index("Deployment")
    assert kinds.index("ServiceAccount") < kinds.index("Deployment")
    assert "Pod" not in kinds, "the helm test hook does not belong in the plain manifests"


def test_manifests_validate_and_live_in_the_kubetask_namespace() -> None:
    for document in _manifest_documents():
        for version in ("1.30.0", "1.37.0"):
            kubernetes_validate.validate(document, version, strict=True)
        if document["kind"] not in {
            "Namespace",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
        }:
            assert document["metadata"]["namespace"] == "kubetask"


def test_manifests_mention_no_helm() -> None:
    for path in MANIFESTS.glob("*.yaml"):
        text = path.read_text()
        assert "helm.sh/" not in text, path.name
        assert "managed-by: Helm" not in text, path.name


def test_kustomize_builds_the_same_objects_as_the_files() -> None:
    kubectl = Path(sys.executable).parent / "kubectl"
    built = subprocess.run(
        [str(kubectl), "kustomize", str(MANIFESTS)], capture_output=True, text=True, timeout=60, check=True
    ).stdout

    def identities(documents: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return sorted(
            (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in documents
        )

    kustomized = [d for d in yaml.safe_load_all(built) if d]
    assert identities(kustomized) == identities(_manifest_documents())
