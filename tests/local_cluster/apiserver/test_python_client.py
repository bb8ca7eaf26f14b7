"""The kubernetes Python client's typed and custom-object APIs against the emulator."""

from __future__ import annotations

from collections.abc import Mapping

import kubernetes
import pytest

from kubetask_local import ThreadedApiServer

from .conftest import Http, crd_manifest

GROUP = "client.example.dev"


@pytest.fixture(scope="module")
def widgets(http: Http) -> None:
    reply = http.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd_manifest(group=GROUP, plural="widgets", kind="Widget"),
    )
    assert reply.status == 201


def test_custom_objects_round_trip(
    client: kubernetes.client.ApiClient, widgets: None, namespace: str
) -> None:
    custom = kubernetes.client.CustomObjectsApi(client)
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    created = custom.create_namespaced_custom_object(GROUP, "v1", namespace, "widgets", body)
    assert created["metadata"]["generation"] == 1
    patched = custom.patch_namespaced_custom_object(
        GROUP, "v1", namespace, "widgets", "w", {"spec": {"size": 2}}
    )
    assert patched["spec"] == {"size": 2}
    status = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, "widgets", "w", {"status": {"ready": True}}
    )
    assert status["status"] == {"ready": True}
    json_patched = custom.patch_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        "widgets",
        "w",
        [{"op": "replace", "path": "/spec/size", "value": 3}],
        _content_type="application/json-patch+json",
    )
    assert json_patched["spec"]["size"] == 3
    listed = custom.list_cluster_custom_object(GROUP, "v1", "widgets", label_selector="")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["w"]
    custom.delete_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w")
    with pytest.raises(kubernetes.client.ApiException) as missing:
        custom.get_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w")
    assert missing.value.status == 404


def test_typed_pod_api(client: kubernetes.client.ApiClient, namespace: str, api: ThreadedApiServer) -> None:
    core = kubernetes.client.CoreV1Api(client)
    pod = kubernetes.client.V1Pod(
        metadata=kubernetes.client.V1ObjectMeta(name="typed", labels={"a": "b"}),
        spec=kubernetes.client.V1PodSpec(
            containers=[kubernetes.client.V1Container(name="c", image="busybox")]
        ),
    )
    created = core.create_namespaced_pod(namespace, pod)
    assert created.status.phase == "Pending"
    assert created.spec.containers[0].termination_message_path == "/dev/termination-log"
    patched = core.patch_namespaced_pod("typed", namespace, {"metadata": {"labels": {"c": "d"}}})
    assert patched.metadata.labels == {"a": "b", "c": "d"}
    status = core.patch_namespaced_pod_status("typed", namespace, {"status": {"phase": "Running"}})
    assert status.status.phase == "Running"

    async def source(ns: str, name: str, container: str, params: Mapping[str, str]) -> bytes | None:
        return f"{ns}/{name}/{container}\n".encode()

    api.call(lambda: api.api.set_log_source(source))
    try:
        assert core.read_namespaced_pod_log("typed", namespace) == f"{namespace}/typed/c\n"
    finally:
        api.call(lambda: api.api.set_log_source(None))
    pods = core.list_namespaced_pod(namespace, field_selector="status.phase=Running")
    assert [p.metadata.name for p in pods.items] == ["typed"]
    core.delete_namespaced_pod("typed", namespace)
    assert core.list_namespaced_pod(namespace).items == []
