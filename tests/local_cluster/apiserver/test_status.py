"""Status subresource isolation and generation."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Http, crd_manifest


@pytest.fixture(scope="module")
def gadgets(http: Http) -> str:
    reply = http.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd_manifest(group="status.example.dev", plural="gadgets", kind="Gadget"),
    )
    assert reply.status == 201
    return "/apis/status.example.dev/v1"


def _gadget(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "status.example.dev/v1",
        "kind": "Gadget",
        "metadata": {"name": name},
        "spec": {"size": 1},
        "status": {"phase": "ignored-on-create"},
    }


class TestCustomResourceStatus:
    def test_create_drops_status(self, http: Http, gadgets: str, namespace: str) -> None:
        created = http.post(f"{gadgets}/namespaces/{namespace}/gadgets", _gadget("g")).body
        assert "status" not in created

    def test_status_writes_change_only_status(self, http: Http, gadgets: str, namespace: str) -> None:
        http.post(f"{gadgets}/namespaces/{namespace}/gadgets", _gadget("g"))
        reply = http.patch(
            f"{gadgets}/namespaces/{namespace}/gadgets/g/status",
            {"spec": {"size": 99}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Ready"}},
        )
        assert reply.status == 200
        assert reply.body["status"] == {"phase": "Ready"}
        assert reply.body["spec"] == {"size": 1}
        assert "labels" not in reply.body["metadata"]
        assert reply.body["metadata"]["generation"] == 1

    def test_object_writes_never_change_status(self, http: Http, gadgets: str, namespace: str) -> None:
        http.post(f"{gadgets}/namespaces/{namespace}/gadgets", _gadget("g"))
        http.patch(f"{gadgets}/namespaces/{namespace}/gadgets/g/status", {"status": {"phase": "Ready"}})
        reply = http.patch(f"{gadgets}/namespaces/{namespace}/gadgets/g", {"status": {"phase": "Hacked"}})
        assert reply.body["status"] == {"phase": "Ready"}

    def test_generation_moves_only_on_spec_changes(self, http: Http, gadgets: str, namespace: str) -> None:
        path = f"{gadgets}/namespaces/{namespace}/gadgets/g"
        http.post(f"{gadgets}/namespaces/{namespace}/gadgets", _gadget("g"))
        assert http.patch(path, {"metadata": {"labels": {"a": "b"}}}).body["metadata"]["generation"] == 1
        assert http.patch(path + "/status", {"status": {"phase": "X"}}).body["metadata"]["generation"] == 1
        assert http.patch(path, {"spec": {"size": 2}}).body["metadata"]["generation"] == 2

    def test_status_put_and_get(self, http: Http, gadgets: str, namespace: str) -> None:
        created = http.post(f"{gadgets}/namespaces/{namespace}/gadgets", _gadget("g")).body
        reply = http.put(
            f"{gadgets}/namespaces/{namespace}/gadgets/g/status", {**created, "status": {"phase": "P"}}
        )
        assert reply.status == 200
        assert http.get(f"{gadgets}/namespaces/{namespace}/gadgets/g/status").body["status"] == {"phase": "P"}

    def test_put_of_a_custom_resource_needs_a_resource_version(
        self, http: Http, gadgets: str, namespace: str
    ) -> None:
        created = http.post(f"{gadgets}/namespaces/{namespace}/gadgets", _gadget("g")).body
        unconditional = {**created, "metadata": {"name": "g"}}
        reply = http.put(f"{gadgets}/namespaces/{namespace}/gadgets/g", unconditional)
        assert reply.status == 422
        assert reply.body["details"]["causes"][0]["field"] == "metadata.resourceVersion"


class TestPodStatus:
    def test_pod_status_is_isolated(self, http: Http, namespace: str) -> None:
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        path = f"/api/v1/namespaces/{namespace}/pods/p"
        http.patch(path + "/status", {"status": {"phase": "Running"}})
        assert http.patch(path, {"status": {"phase": "Failed"}}).body["status"]["phase"] == "Running"
        reply = http.patch(
            path + "/status", {"spec": {"nodeName": "elsewhere"}, "status": {"phase": "Succeeded"}}
        )
        assert reply.body["status"]["phase"] == "Succeeded"
        assert "nodeName" not in reply.body["spec"]
        assert reply.body["metadata"]["generation"] == 1


class TestScale:
    def test_kubectl_scale_a_deployment(self, http: Http, namespace: str, kubectl: Any) -> None:
        deployment = {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        }
        http.post(f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment)
        kubectl("scale", "deployment/web", "--replicas=3", "-n", namespace)
        live = http.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web").body
        assert live["spec"]["replicas"] == 3
        assert live["metadata"]["generation"] == 2
        scale = http.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web/scale").body
        assert scale["kind"] == "Scale"
        assert scale["spec"] == {"replicas": 3}
        assert scale["status"]["selector"] == "app=web"

    def test_custom_resource_scale_paths(self, http: Http, namespace: str) -> None:
        manifest = crd_manifest(group="scale.example.dev", plural="pools", kind="Pool")
        manifest["spec"]["versions"][0]["subresources"] = {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.size",
                "statusReplicasPath": ".status.ready",
                "labelSelectorPath": ".status.selector",
            },
        }
        http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", manifest)
        base = f"/apis/scale.example.dev/v1/namespaces/{namespace}/pools"
        http.post(base, {"metadata": {"name": "p"}, "spec": {"size": 1}})
        http.patch(f"{base}/p/status", {"status": {"ready": 1, "selector": "pool=p"}})
        reply = http.patch(f"{base}/p/scale", {"spec": {"replicas": 4}})
        assert reply.status == 200
        assert reply.body["spec"] == {"replicas": 4}
        assert reply.body["status"] == {"replicas": 1, "selector": "pool=p"}
        assert http.get(f"{base}/p").body["spec"]["size"] == 4
        assert http.patch(f"{base}/p/scale", {"spec": {"replicas": -1}}).status == 400
