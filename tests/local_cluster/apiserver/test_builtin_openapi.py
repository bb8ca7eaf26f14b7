"""Built-in kinds' OpenAPI v3 comes from the official schemas, so ``kubectl explain`` works as on a real
cluster (it reads /openapi/v3 and the group-version documents; k8s.io/kubectl/pkg/explain/v2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.local_cluster.apiserver.conftest import Http


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param("pod.spec", "FIELD: spec <PodSpec>", id="pod.spec"),
        pytest.param("pod.spec.restartPolicy", "FIELD: restartPolicy <string>", id="restartPolicy"),
        pytest.param("deployment.spec.replicas", "FIELD: replicas <integer>", id="deployment"),
        pytest.param("configmap.immutable", "FIELD: immutable <boolean>", id="configmap"),
    ],
)
def test_kubectl_explain_built_in_fields(kubectl: Callable[..., Any], field: str, expected: str) -> None:
    result = kubectl("explain", field)
    assert expected in result.stdout, result.stdout


def test_explain_of_a_missing_field_says_so(kubectl: Callable[..., Any]) -> None:
    result = kubectl("explain", "pod.spec.nothingHere", check=False)
    assert result.returncode != 0
    assert 'field "nothingHere" does not exist' in result.stderr


def test_core_document_holds_the_official_pod_schema(http: Http) -> None:
    index = http.get("/openapi/v3").body["paths"]
    document = http.get(index["api/v1"]["serverRelativeURL"]).body
    pod = document["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["spec"]["$ref"] == "#/components/schemas/io.k8s.api.core.v1.PodSpec"
    assert "io.k8s.api.core.v1.Container" in document["components"]["schemas"]
