"""The TaskRun CRD the package ships: one source, a valid CustomResourceDefinition, the agreed names."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate

import kubetask_operator
from kubetask_operator import load_crd

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_reads_the_charts_file() -> None:
    packaged = Path(kubetask_operator.__file__).with_name("taskrun-crd.yaml")
    assert packaged.is_symlink()
    assert packaged.resolve() == (ROOT / "charts" / "kubetask" / "files" / "taskrun-crd.yaml").resolve()


def test_a_valid_crd_with_the_agreed_names() -> None:
    crd = load_crd()
    kubernetes_validate.validate(crd, "1.30", strict=True)
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "taskruns.kubetask.dev"
    assert (spec["group"], spec["scope"]) == ("kubetask.dev", "Namespaced")
    assert spec["names"] | {"categories": None} == {
        "kind": "TaskRun",
        "listKind": "TaskRunList",
        "plural": "taskruns",
        "singular": "taskrun",
        "shortNames": ["ktr"],
        "categories": None,
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    assert columns[:4] == ["Phase", "Reason", "Attempts", "Started"]
    assert "Age" in columns


def test_load_crd_returns_a_fresh_copy() -> None:
    first = load_crd()
    first["spec"]["group"] = "changed"
    assert load_crd()["spec"]["group"] == "kubetask.dev"
