"""The chart ships the one TaskRun CRD of the repository, so `helm upgrade` keeps it current."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetask_operator

SOURCE = Path(__file__).parents[2] / "charts" / "kubetask" / "files" / "taskrun-crd.yaml"
Render = Callable[..., list[dict[str, Any]]]


def _crds(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == "CustomResourceDefinition"]


def test_the_rendered_crd_is_the_source_file_plus_release_labels(render_chart: Render) -> None:
    source = yaml.safe_load(SOURCE.read_text())
    (rendered,) = _crds(render_chart({}, release="prod"))
    assert rendered["spec"] == source["spec"]
    assert rendered["metadata"]["name"] == source["metadata"]["name"] == "taskruns.kubetask.dev"
    labels = rendered["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == "prod"
    assert {k: labels[k] for k in source["metadata"].get("labels", {})} == source["metadata"].get(
        "labels", {}
    )


def test_the_crd_is_a_template_not_a_crds_folder_file() -> None:
    # Helm installs crds/ once and never upgrades it; a template is upgraded with the release.
    assert not (SOURCE.parents[1] / "crds").exists()
    assert "files/taskrun-crd.yaml" in (SOURCE.parents[1] / "templates" / "crds.yaml").read_text()


@pytest.mark.parametrize(
    ("values", "expected_annotations"),
    [
        pytest.param({}, {"helm.sh/resource-policy": "keep"}, id="kept-by-default"),
        pytest.param({"crds": {"keep": False}}, {}, id="removed-with-the-release"),
    ],
)
def test_keep_protects_every_taskrun_from_helm_uninstall(
    render_chart: Render, values: dict[str, Any], expected_annotations: dict[str, str]
) -> None:
    (crd,) = _crds(render_chart(values))
    assert crd["metadata"].get("annotations", {}) == expected_annotations


def test_crds_enabled_false_leaves_the_crd_out(render_chart: Render) -> None:
    assert _crds(render_chart({"crds": {"enabled": False}})) == []


def test_the_operator_package_reads_the_same_file() -> None:
    assert kubetask_operator.load_crd() == yaml.safe_load(SOURCE.read_text())
