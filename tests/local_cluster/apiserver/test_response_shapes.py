"""Answers shaped as a real API server shapes them, for clients that read them closely (the kubernetes
Python client's models, its e2e suite comparing error text byte for byte).

Sources: k8s.io/apimachinery/pkg/apis/meta/v1/types.go (the field order of Status and StatusDetails, which
encoding/json keeps: kind, apiVersion, metadata, status, message, reason, details{name, group, kind, ...},
code; json.Encoder ends the body with a newline); k8s.io/apiserver/pkg/registry/generic/registry/store.go
(``ReturnDeletedObject``: the stores of pods, services, serviceaccounts and namespaces answer a delete with
the object, the others with a Status); pkg/registry/core/service/storage (a created Service carries
``status.loadBalancer``).
"""

from __future__ import annotations

import pytest
from tests.local_cluster.apiserver.conftest import Http


def test_a_status_is_serialised_in_gos_field_order(http: Http, namespace: str) -> None:
    assert http.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", _deployment()).status == 201
    reply = http.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", _deployment(), raw=True)
    assert reply.status == 409
    assert reply.body.decode() == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"deployments.apps \\"twice\\" already exists","reason":"AlreadyExists",'
        '"details":{"name":"twice","group":"apps","kind":"deployments"},"code":409}\n'
    )


def _deployment() -> dict[str, object]:
    labels = {"app": "twice"}
    return {
        "metadata": {"name": "twice"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }


@pytest.mark.parametrize(
    ("plural", "body", "returns_object"),
    [
        pytest.param(
            "services", {"metadata": {"name": "o"}, "spec": {"ports": [{"port": 80}]}}, True, id="service"
        ),
        pytest.param("serviceaccounts", {"metadata": {"name": "o"}}, True, id="serviceaccount"),
        pytest.param("configmaps", {"metadata": {"name": "o"}}, False, id="configmap"),
    ],
)
def test_a_delete_answers_the_object_where_the_real_store_does(
    http: Http, namespace: str, plural: str, body: dict[str, object], returns_object: bool
) -> None:
    assert http.post(f"/api/v1/namespaces/{namespace}/{plural}", body).status == 201
    reply = http.delete(f"/api/v1/namespaces/{namespace}/{plural}/o")
    assert reply.status == 200
    assert (reply.body["kind"] != "Status") is returns_object, reply.body


def test_a_created_service_carries_its_load_balancer_status(http: Http, namespace: str) -> None:
    reply = http.post(
        f"/api/v1/namespaces/{namespace}/services",
        {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}},
    )
    assert reply.status == 201, reply.body
    assert reply.body["status"] == {"loadBalancer": {}}
