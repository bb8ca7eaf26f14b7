"""Merge patch, JSON patch, strategic merge patch, PUT and server-side apply."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Http, crd_manifest

JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def _deployment(name: str) -> dict[str, Any]:
    containers = [
        {
            "name": "main",
            "image": "python:3.11",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        },
        {"name": "side", "image": "busybox"},
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": "a"}},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": containers}},
        },
    }


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


class TestMergePatch:
    def test_merges_objects_and_null_deletes(self, http: Http, namespace: str) -> None:
        path = f"/api/v1/namespaces/{namespace}/configmaps/m"
        http.post(
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"metadata": {"name": "m"}, "data": {"a": "1", "b": "2"}},
        )
        reply = http.patch(path, {"data": {"a": None, "c": "3"}, "metadata": {"labels": {"x": "y"}}})
        assert reply.status == 200
        assert reply.body["data"] == {"b": "2", "c": "3"}
        assert reply.body["metadata"]["labels"] == {"x": "y"}

    def test_resource_version_in_the_patch_is_a_precondition(self, http: Http, namespace: str) -> None:
        created = http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "p"}}).body
        path = f"/api/v1/namespaces/{namespace}/configmaps/p"
        http.patch(path, {"data": {"a": "1"}})
        stale = http.patch(
            path,
            {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "data": {"a": "2"}},
        )
        assert stale.status == 409


class TestJsonPatch:
    def test_kopf_style_test_on_resource_version_then_add(self, http: Http, namespace: str) -> None:
        created = http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "j"}}).body
        rv = created["metadata"]["resourceVersion"]
        path = f"/api/v1/namespaces/{namespace}/configmaps/j"
        ops = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "add", "path": "/metadata/finalizers", "value": ["example.dev/f"]},
        ]
        reply = http.patch(path, ops, content_type=JSON_PATCH)
        assert reply.status == 200
        assert reply.body["metadata"]["finalizers"] == ["example.dev/f"]
        again = http.patch(path, ops, content_type=JSON_PATCH)
        assert again.status == 422
        assert again.body["kind"] == "Status"
        assert again.body["reason"] == "Invalid"
        assert "testing value /metadata/resourceVersion failed" in again.body["message"]

    @pytest.mark.parametrize(
        ("ops", "expected"),
        [
            pytest.param(
                [{"op": "replace", "path": "/data/a", "value": "9"}], {"a": "9", "b": "2"}, id="replace"
            ),
            pytest.param([{"op": "remove", "path": "/data/a"}], {"b": "2"}, id="remove"),
            pytest.param(
                [{"op": "move", "from": "/data/a", "path": "/data/c"}], {"b": "2", "c": "1"}, id="move"
            ),
            pytest.param(
                [{"op": "copy", "from": "/data/a", "path": "/data/d"}],
                {"a": "1", "b": "2", "d": "1"},
                id="copy",
            ),
        ],
    )
    def test_operations(
        self, http: Http, namespace: str, ops: list[dict[str, Any]], expected: dict[str, str]
    ) -> None:
        http.post(
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"metadata": {"name": "o"}, "data": {"a": "1", "b": "2"}},
        )
        reply = http.patch(f"/api/v1/namespaces/{namespace}/configmaps/o", ops, content_type=JSON_PATCH)
        assert reply.body["data"] == expected

    def test_missing_path_answers_422(self, http: Http, namespace: str) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "q"}})
        reply = http.patch(
            f"/api/v1/namespaces/{namespace}/configmaps/q",
            [{"op": "replace", "path": "/data/zzz", "value": "1"}],
            content_type=JSON_PATCH,
        )
        assert reply.status == 422


class TestStrategicMergePatch:
    def test_containers_and_env_merge_by_name(self, http: Http, namespace: str) -> None:
        base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        http.post(base, _deployment("s"))
        env = [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "env": env}]}}}}
        reply = http.patch(f"{base}/s", patch, content_type=STRATEGIC)
        assert reply.status == 200
        containers = {c["name"]: c for c in _containers(reply.body)}
        assert set(containers) == {"main", "side"}
        assert containers["main"]["image"] == "python:3.11"
        assert containers["main"]["env"] == [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "two"},
            {"name": "C", "value": "3"},
        ]
        assert reply.body["metadata"]["generation"] == 2

    def test_patch_delete_directive_removes_a_list_item(self, http: Http, namespace: str) -> None:
        base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        http.post(base, _deployment("d"))
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}}
        reply = http.patch(f"{base}/d", patch, content_type=STRATEGIC)
        assert [c["name"] for c in _containers(reply.body)] == ["main"]

    def test_pod_spec_is_immutable_except_images(self, http: Http, namespace: str) -> None:
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}
        http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        path = f"/api/v1/namespaces/{namespace}/pods/p"
        image = {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}
        assert http.patch(path, image, content_type=STRATEGIC).status == 200
        command = {"spec": {"containers": [{"name": "c", "command": ["sh"]}]}}
        refused = http.patch(path, command, content_type=STRATEGIC)
        assert refused.status == 422
        assert refused.body["details"]["causes"][0]["field"] == "spec"

    def test_finalizers_merge_as_a_set(self, http: Http, namespace: str) -> None:
        http.post(
            f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "f", "finalizers": ["a/x"]}}
        )
        reply = http.patch(
            f"/api/v1/namespaces/{namespace}/configmaps/f",
            {"metadata": {"finalizers": ["b/y"]}},
            content_type=STRATEGIC,
        )
        assert reply.body["metadata"]["finalizers"] == ["a/x", "b/y"]

    def test_custom_resources_refuse_strategic_merge_patch(self, http: Http, namespace: str) -> None:
        http.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd_manifest(group="smp.example.dev", plural="things", kind="Thing"),
        )
        http.post(
            f"/apis/smp.example.dev/v1/namespaces/{namespace}/things", {"metadata": {"name": "t"}, "spec": {}}
        )
        reply = http.patch(
            f"/apis/smp.example.dev/v1/namespaces/{namespace}/things/t",
            {"spec": {"a": 1}},
            content_type=STRATEGIC,
        )
        assert reply.status == 415


class TestPut:
    def test_put_replaces_the_object(self, http: Http, namespace: str) -> None:
        created = http.post(
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"metadata": {"name": "r"}, "data": {"a": "1", "b": "2"}},
        ).body
        replaced = http.put(f"/api/v1/namespaces/{namespace}/configmaps/r", {**created, "data": {"z": "26"}})
        assert replaced.status == 200
        assert replaced.body["data"] == {"z": "26"}
        assert replaced.body["metadata"]["uid"] == created["metadata"]["uid"]

    def test_put_cannot_rename(self, http: Http, namespace: str) -> None:
        created = http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "n"}}).body
        reply = http.put(
            f"/api/v1/namespaces/{namespace}/configmaps/n",
            {**created, "metadata": {**created["metadata"], "name": "other"}},
        )
        assert reply.status == 400


class TestServerSideApply:
    def test_apply_creates_then_updates_and_drops_fields_it_no_longer_applies(
        self, http: Http, namespace: str
    ) -> None:
        path = f"/api/v1/namespaces/{namespace}/configmaps/ssa?fieldManager=tester"
        first = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ssa"},
            "data": {"a": "1", "b": "2"},
        }
        created = http.patch(path, yaml.safe_dump(first).encode(), content_type=APPLY)
        assert created.status == 201
        assert created.body["metadata"]["managedFields"][0]["manager"] == "tester"
        http.patch(f"/api/v1/namespaces/{namespace}/configmaps/ssa", {"data": {"other": "kept"}})
        second = {**first, "data": {"a": "1", "c": "3"}}
        updated = http.patch(path, yaml.safe_dump(second).encode(), content_type=APPLY)
        assert updated.status == 200
        assert updated.body["data"] == {"a": "1", "c": "3", "other": "kept"}

    def test_apply_needs_a_field_manager(self, http: Http, namespace: str) -> None:
        reply = http.patch(
            f"/api/v1/namespaces/{namespace}/configmaps/x", b"metadata: {name: x}", content_type=APPLY
        )
        assert reply.status == 400

    def test_kubectl_apply_server_side(
        self,
        kubectl: Callable[..., Any],
        namespace: str,
        tmp_path: Path,
        http: Http,
    ) -> None:
        manifest = tmp_path / "deployment.yaml"
        deployment = _deployment("applied")
        manifest.write_text(yaml.safe_dump(deployment))
        result = kubectl("apply", "--server-side", "-n", namespace, "-f", str(manifest))
        assert "serverside-applied" in result.stdout
        deployment["spec"]["template"]["spec"]["containers"] = _containers(deployment)[:1]  # drop the sidecar
        manifest.write_text(yaml.safe_dump(deployment))
        kubectl("apply", "--server-side", "-n", namespace, "-f", str(manifest))
        live = http.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/applied").body
        assert [c["name"] for c in _containers(live)] == ["main"]


class TestApplyConflicts:
    def test_two_appliers_disagreeing_on_a_field_conflict(
        self, kubectl: Callable[..., Any], namespace: str, tmp_path: Path, http: Http
    ) -> None:
        manifest = tmp_path / "deployment.yaml"
        deployment = _deployment("contested")
        deployment["spec"]["replicas"] = 1
        manifest.write_text(yaml.safe_dump(deployment))
        kubectl("apply", "--server-side", "--field-manager=first", "-n", namespace, "-f", str(manifest))
        deployment["spec"]["replicas"] = 5
        manifest.write_text(yaml.safe_dump(deployment))
        refused = kubectl(
            "apply",
            "--server-side",
            "--field-manager=second",
            "-n",
            namespace,
            "-f",
            str(manifest),
            check=False,
        )
        assert refused.returncode != 0
        assert 'conflict with "first" using apps/v1: .spec.replicas' in refused.stderr
        kubectl(
            "apply",
            "--server-side",
            "--field-manager=second",
            "--force-conflicts",
            "-n",
            namespace,
            "-f",
            str(manifest),
        )
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/contested"
        assert http.get(path).body["spec"]["replicas"] == 5

    def test_appliers_agreeing_or_setting_other_fields_do_not_conflict(
        self, http: Http, namespace: str
    ) -> None:
        path = f"/api/v1/namespaces/{namespace}/configmaps/shared"
        first = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"a": "1"}}
        second = {**first, "data": {"a": "1", "b": "2"}}
        assert (
            http.patch(f"{path}?fieldManager=one", yaml.safe_dump(first).encode(), content_type=APPLY).status
            == 201
        )
        assert (
            http.patch(f"{path}?fieldManager=two", yaml.safe_dump(second).encode(), content_type=APPLY).status
            == 200
        )
        clash = {**first, "data": {"b": "3"}}
        reply = http.patch(f"{path}?fieldManager=one", yaml.safe_dump(clash).encode(), content_type=APPLY)
        assert reply.status == 409
        assert reply.body["details"]["causes"] == [
            {"reason": "FieldManagerConflict", "message": 'conflict with "two" using v1', "field": ".data.b"}
        ]
