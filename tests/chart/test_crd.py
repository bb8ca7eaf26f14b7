"""The chart ships the one TaskRun CRD of the repository, so `helm upgrade` keeps it current."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetask_operator

SOURCE = Path(__file__).parents[2] / "charts" / "kubetask" / "files" / "taskrun-crd.yaml"
QUEUE_SOURCE = SOURCE.with_name("taskqueue-crd.yaml")
Render = Callable[..., list[dict[str, Any]]]


def _crds(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == "CustomResourceDefinition"]


@pytest.mark.parametrize(
    ("file", "name"),
    [
        pytest.param(SOURCE, "taskruns.kubetask.dev", id="taskrun"),
        pytest.param(QUEUE_SOURCE, "taskqueues.kubetask.dev", id="taskqueue"),
    ],
)
def test_the_rendered_crd_is_the_source_file_plus_release_labels(
    render_chart: Render, file: Path, name: str
) -> None:
    source = yaml.safe_load(file.read_text())
    crds = _crds(render_chart({}, release="prod"))
    assert sorted(crd["metadata"]["name"] for crd in crds) == [
        "taskqueues.kubetask.dev",
        "taskruns.kubetask.dev",
    ]
    (rendered,) = (crd for crd in crds if crd["metadata"]["name"] == name)
    assert rendered["spec"] == source["spec"]
    assert rendered["metadata"]["name"] == source["metadata"]["name"] == name
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
    for crd in _crds(render_chart(values)):
        assert crd["metadata"].get("annotations", {}) == expected_annotations


def test_crds_enabled_false_leaves_the_crd_out(render_chart: Render) -> None:
    assert _crds(render_chart({"crds": {"enabled": False}})) == []


def test_the_operator_package_reads_the_same_file() -> None:
    assert kubetask_operator.load_crd() == yaml.safe_load(SOURCE.read_text())
    assert kubetask_operator.load_crds() == [yaml.safe_load(f.read_text()) for f in (SOURCE, QUEUE_SOURCE)]
