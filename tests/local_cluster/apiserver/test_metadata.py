"""Server-populated metadata, resourceVersion, and the Status bodies of failures."""

from __future__ import annotations

import re

import kubernetes
import pytest

from .conftest import Http


def _configmap(name: str, **extra: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **extra}, "data": {"a": "1"}}


class TestCreate:
    def test_create_answers_201_with_server_populated_metadata(self, http: Http, namespace: str) -> None:
        reply = http.post(f"/api/v1/namespaces/{namespace}/configmaps", _configmap("one"))
        assert reply.status == 201
        meta = reply.body["metadata"]
        assert meta["namespace"] == namespace
        assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
        assert int(meta["resourceVersion"]) > 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])

    def test_generate_name_gets_a_random_suffix(self, http: Http, namespace: str) -> None:
        names = set()
        for _ in range(3):
            reply = http.post(
                f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"generateName": "gen-"}}
            )
            assert reply.status == 201
            names.add(reply.body["metadata"]["name"])
        assert len(names) == 3
        assert all(re.fullmatch(r"gen-[a-z0-9]{5}", name) for name in names)

    def test_generation_starts_at_one_for_kinds_with_a_spec(self, http: Http, namespace: str) -> None:
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        assert reply.body["metadata"]["generation"] == 1
        assert reply.body["status"]["phase"] == "Pending"

    def test_duplicate_answers_409_already_exists_status(self, http: Http, namespace: str) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/configmaps", _configmap("dup"))
        reply = http.post(f"/api/v1/namespaces/{namespace}/configmaps", _configmap("dup"))
        assert reply.status == 409
        assert reply.body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'configmaps "dup" already exists',
            "reason": "AlreadyExists",
            "details": {"name": "dup", "kind": "configmaps"},
            "code": 409,
        }

    def test_missing_name_answers_422_naming_the_field(self, http: Http, namespace: str) -> None:
        reply = http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {}})
        assert reply.status == 422
        assert reply.body["reason"] == "Invalid"
        assert reply.body["details"]["causes"][0]["field"] == "metadata.name"

    def test_bad_name_answers_422(self, http: Http, namespace: str) -> None:
        reply = http.post(f"/api/v1/namespaces/{namespace}/configmaps", _configmap("Not_Valid"))
        assert reply.status == 422
        assert "metadata.name: Invalid value: 'Not_Valid'" in reply.body["message"]

    def test_rbac_names_may_hold_colons(self, http: Http) -> None:
        role = {"metadata": {"name": "system:example:reader"}, "rules": []}
        assert http.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", role).status == 201
        bad = http.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", {"metadata": {"name": "a/b"}})
        assert bad.status == 422

    def test_unknown_namespace_answers_404(self, http: Http) -> None:
        reply = http.post("/api/v1/namespaces/nowhere/configmaps", _configmap("x"))
        assert reply.status == 404
        assert reply.body["message"] == 'namespaces "nowhere" not found'

    def test_pods_need_their_service_account(self, http: Http, namespace: str) -> None:
        pod = {
            "metadata": {"name": "sa"},
            "spec": {"serviceAccountName": "runner", "containers": [{"name": "c", "image": "busybox"}]},
        }
        refused = http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        assert refused.status == 403
        assert refused.body["message"] == (
            f'pods "sa" is forbidden: error looking up service account {namespace}/runner: '
            'serviceaccount "runner" not found'
        )
        http.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "runner"}})
        assert http.post(f"/api/v1/namespaces/{namespace}/pods", pod).status == 201

    def test_pod_without_containers_is_invalid(self, http: Http, namespace: str) -> None:
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", {"metadata": {"name": "p"}, "spec": {}})
        assert reply.status == 422
        assert reply.body["message"] == 'Pod "p" is invalid: spec.containers: Required value'


class TestResourceVersion:
    def test_every_write_bumps_one_global_counter(self, http: Http, namespace: str) -> None:
        first = http.post(f"/api/v1/namespaces/{namespace}/configmaps", _configmap("a")).body
        second = http.post(f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": "s"}}).body
        patched = http.patch(f"/api/v1/namespaces/{namespace}/configmaps/a", {"data": {"b": "2"}}).body
        versions = [int(obj["metadata"]["resourceVersion"]) for obj in (first, second, patched)]
        assert versions == sorted(versions)
        assert len(set(versions)) == 3

    def test_noop_patch_keeps_the_resource_version(self, http: Http, namespace: str) -> None:
        created = http.post(f"/api/v1/namespaces/{namespace}/configmaps", _configmap("same")).body
        patched = http.patch(f"/api/v1/namespaces/{namespace}/configmaps/same", {"data": {"a": "1"}}).body
        assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    def test_stale_resource_version_answers_409_conflict(self, http: Http, namespace: str) -> None:
        created = http.post(f"/api/v1/namespaces/{namespace}/configmaps", _configmap("c")).body
        http.patch(f"/api/v1/namespaces/{namespace}/configmaps/c", {"data": {"a": "2"}})
        stale = {**created, "data": {"a": "3"}}
        reply = http.put(f"/api/v1/namespaces/{namespace}/configmaps/c", stale)
        assert reply.status == 409
        assert reply.body["reason"] == "Conflict"
        assert reply.body["message"] == (
            'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
            "please apply your changes to the latest version and try again"
        )

    def test_missing_object_answers_404_status(self, http: Http, namespace: str) -> None:
        reply = http.get(f"/api/v1/namespaces/{namespace}/configmaps/none")
        assert reply.status == 404
        assert reply.body["kind"] == "Status"
        assert reply.body["reason"] == "NotFound"
        assert reply.body["message"] == 'configmaps "none" not found'


class TestKubernetesClient:
    def test_client_errors_carry_status_codes(
        self, client: kubernetes.client.ApiClient, namespace: str
    ) -> None:
        core = kubernetes.client.CoreV1Api(client)
        created = core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "k"}, "data": {"x": "y"}}
        )
        assert created.metadata.uid
        with pytest.raises(kubernetes.client.ApiException) as conflict:
            core.create_namespaced_config_map(namespace, {"metadata": {"name": "k"}})
        assert conflict.value.status == 409
        with pytest.raises(kubernetes.client.ApiException) as missing:
            core.read_namespaced_config_map("absent", namespace)
        assert missing.value.status == 404
