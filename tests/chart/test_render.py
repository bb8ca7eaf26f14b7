"""Every object the chart renders is a valid Kubernetes object, for each value set and supported version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

#: The oldest and newest Kubernetes versions we support (Chart.yaml's kubeVersion is the lower bound).
SUPPORTED_VERSIONS = ["1.30.0", "1.37.0"]
CLUSTER_SCOPED_KINDS = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Namespace"}

Render = Callable[..., list[dict[str, Any]]]


def _name(document: dict[str, Any]) -> str:
    return f"{document['kind']}/{document['metadata']['name']}"


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_every_object_validates_strictly(
    render_chart: Render, chart_values: dict[str, Any], version: str
) -> None:
    documents = render_chart(chart_values)
    assert documents, "the chart rendered nothing"
    failures = []
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{_name(document)}: {error.message} at {list(error.absolute_path)}")
    assert not failures, "\n".join(failures)


def test_namespaced_objects_name_their_namespace(render_chart: Render, chart_values: dict[str, Any]) -> None:
    for document in render_chart(chart_values, namespace="ops"):
        if document["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in document["metadata"], _name(document)
        else:
            assert document["metadata"].get("namespace"), f"{_name(document)} has no namespace"


def test_every_object_carries_the_release_labels(render_chart: Render, chart_values: dict[str, Any]) -> None:
    for document in render_chart(chart_values, release="prod"):
        labels = document["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/instance") == "prod", _name(document)
        assert labels.get("app.kubernetes.io/part-of") == "kubetask", _name(document)


@pytest.mark.parametrize(
    ("release", "expected_name"),
    [
        pytest.param("kubetask", "kubetask", id="release-named-like-the-chart"),
        pytest.param("prod", "prod-kubetask", id="short-release"),
        # Helm allows release names up to 53 characters; the test hook adds "-test" and must still fit.
        pytest.param("a" * 53, "a" * 53 + "-kubetask", id="longest-release-name"),
    ],
)
def test_object_names_are_dns_labels_derived_from_the_release(
    render_chart: Render, release: str, expected_name: str
) -> None:
    documents = render_chart({}, release=release)
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == expected_name
    for document in documents:
        if document["kind"] != "CustomResourceDefinition":
            assert len(document["metadata"]["name"]) <= 63, _name(document)


def test_deployment_uses_the_configured_image(render_chart: Render) -> None:
    def image(values: dict[str, Any]) -> str:
        deployment = next(d for d in render_chart(values) if d["kind"] == "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        return str(container["image"])

    assert image({}) == "ghcr.io/kubetask/kubetask-operator:0.1.0"
    assert image({"image": {"tag": "0.2.0"}}) == "ghcr.io/kubetask/kubetask-operator:0.2.0"
    digest = "sha256:" + "b" * 64
    assert (
        image({"image": {"tag": "0.2.0", "digest": digest}}) == f"ghcr.io/kubetask/kubetask-operator@{digest}"
    )


def test_scheduling_values_reach_the_operator_pod(render_chart: Render) -> None:
    values = {
        "nodeSelector": {"pool": "ops"},
        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
        "priorityClassName": "high",
        "imagePullSecrets": [{"name": "registry"}],
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "podAnnotations": {"a": "b"},
        "podLabels": {"c": "d"},
    }
    deployment = next(d for d in render_chart(values) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]
    assert pod["spec"]["nodeSelector"] == {"pool": "ops"}
    assert pod["spec"]["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert pod["spec"]["affinity"] == values["affinity"]
    assert pod["spec"]["priorityClassName"] == "high"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    assert {"name": "HTTPS_PROXY", "value": "http://proxy:3128"} in pod["spec"]["containers"][0]["env"]
    assert pod["metadata"]["annotations"] == {"a": "b"}
    assert pod["metadata"]["labels"]["c"] == "d"


def test_metrics_port_is_exposed_and_annotated_only_when_set(render_chart: Render) -> None:
    def pod(values: dict[str, Any]) -> dict[str, Any]:
        deployment = next(d for d in render_chart(values) if d["kind"] == "Deployment")
        template: dict[str, Any] = deployment["spec"]["template"]
        return template

    off = pod({})
    assert [p["name"] for p in off["spec"]["containers"][0]["ports"]] == ["liveness"]
    assert "annotations" not in off["metadata"]
    on = pod({"operator": {"metricsPort": 9090}})
    ports = {p["name"]: p["containerPort"] for p in on["spec"]["containers"][0]["ports"]}
    assert ports == {"liveness": 8080, "metrics": 9090}
    assert on["metadata"]["annotations"]["prometheus.io/port"] == "9090"


def test_storage_secret_is_created_in_every_namespace_tasks_run_in(render_chart: Render) -> None:
    credentials = {
        "secretName": "storage",
        "create": True,
        "data": {"AWS_ACCESS_KEY_ID": "key", "PORT": 9000},
    }
    everywhere = render_chart({"storage": {"credentials": credentials}}, namespace="ops")
    assert [(d["metadata"]["namespace"]) for d in everywhere if d["kind"] == "Secret"] == ["ops"]
    watched = render_chart({"storage": {"credentials": credentials}, "watchNamespaces": ["a", "b"]})
    secrets = [d for d in watched if d["kind"] == "Secret"]
    assert [d["metadata"]["namespace"] for d in secrets] == ["a", "b"]
    assert secrets[0]["stringData"] == {"AWS_ACCESS_KEY_ID": "key", "PORT": "9000"}
    assert not [
        d for d in render_chart({"storage": {"credentials": {"secretName": "x"}}}) if d["kind"] == "Secret"
    ]


def test_each_namespace_can_have_its_own_storage_secret(render_chart: Render) -> None:
    credentials = {
        "secretName": "storage",
        "create": True,
        "perNamespace": {"b": {"AWS_ACCESS_KEY_ID": "key-b"}, "a": {"AWS_ACCESS_KEY_ID": "key-a"}},
    }
    documents = render_chart({"storage": {"credentials": credentials}, "watchNamespaces": ["a", "b"]})
    secrets = {d["metadata"]["namespace"]: d for d in documents if d["kind"] == "Secret"}
    assert {namespace: s["stringData"] for namespace, s in secrets.items()} == {
        "a": {"AWS_ACCESS_KEY_ID": "key-a"},
        "b": {"AWS_ACCESS_KEY_ID": "key-b"},
    }
    assert {s["metadata"]["name"] for s in secrets.values()} == {"storage"}


def test_notes_tell_how_to_run_a_first_taskrun() -> None:
    notes = (Path(__file__).parents[2] / "charts" / "kubetask" / "templates" / "NOTES.txt").read_text()
    for expected in ("kind: TaskRun", "kubectl apply -f -", "kubetask submit", "helm test", "kubetask logs"):
        assert expected in notes


def test_the_packaged_chart_renders_the_same_objects(helm: Callable[..., Any], tmp_path: Path) -> None:
    chart = Path(__file__).parents[2] / "charts" / "kubetask"
    helm("package", str(chart), "-d", str(tmp_path))
    (package,) = tmp_path.glob("kubetask-*.tgz")
    from_package = helm("template", "kubetask", str(package), "-n", "kubetask").stdout
    from_folder = helm("template", "kubetask", str(chart), "-n", "kubetask").stdout
    assert from_package == from_folder
    assert "kind: CustomResourceDefinition" in from_package  # files/ made it into the package
