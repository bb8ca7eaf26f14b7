"""The chart ships the one TaskRun CRD of the repository (and the TaskMap CRD generated from it), so
`helm upgrade` keeps them current."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetask_operator

SOURCE = Path(__file__).parents[2] / "charts" / "kubetask" / "files" / "taskrun-crd.yaml"
MAP_SOURCE = SOURCE.with_name("taskmap-crd.yaml")
QUEUE_SOURCE = SOURCE.with_name("taskqueue-crd.yaml")
Render = Callable[..., list[dict[str, Any]]]


def _crds(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == "CustomResourceDefinition"]


@pytest.mark.parametrize(
    ("source_file", "name"),
    [
        pytest.param(SOURCE, "taskruns.kubetask.dev", id="taskruns"),
        pytest.param(MAP_SOURCE, "taskmaps.kubetask.dev", id="taskmaps"),
        pytest.param(QUEUE_SOURCE, "taskqueues.kubetask.dev", id="taskqueues"),
    ],
)
def test_the_rendered_crd_is_the_source_file_plus_release_labels(
    render_chart: Render, source_file: Path, name: str
) -> None:
    source = yaml.safe_load(source_file.read_text())
    crds = _crds(render_chart({}, release="prod"))
    assert sorted(crd["metadata"]["name"] for crd in crds) == [
        "taskmaps.kubetask.dev",
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
    crds = _crds(render_chart(values))
    assert len(crds) == 3
    for crd in crds:
        assert crd["metadata"].get("annotations", {}) == expected_annotations


def test_crds_enabled_false_leaves_the_crd_out(render_chart: Render) -> None:
    assert _crds(render_chart({"crds": {"enabled": False}})) == []


def test_the_operator_package_reads_the_same_file() -> None:
    assert kubetask_operator.load_crd() == yaml.safe_load(SOURCE.read_text())
    assert kubetask_operator.load_map_crd() == yaml.safe_load(MAP_SOURCE.read_text())
    assert kubetask_operator.load_crds() == [
        yaml.safe_load(f.read_text()) for f in (SOURCE, MAP_SOURCE, QUEUE_SOURCE)
    ]


def test_a_taskmap_takes_every_taskrun_field_but_the_maps_own_with_the_same_schema() -> None:
    def spec_of(path: Path) -> dict[str, Any]:
        crd = yaml.safe_load(path.read_text())
        schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        return schema

    taskrun, taskmap = spec_of(SOURCE), spec_of(MAP_SOURCE)
    own = {"inputs", "inputsFrom", "cancelled", "ttlSecondsAfterFinished"}
    for field, schema in taskrun["properties"].items():
        if field not in own:
            assert taskmap["properties"][field] == schema, field
    assert "inputsFrom" not in taskmap["properties"]
    assert {"items", "itemsFrom", "parallelism", "maxFailedItems"} <= set(taskmap["properties"])
