"""Finalizers, graceful pod deletion, propagation policies, garbage collection, namespaces."""

from __future__ import annotations

from typing import Any

from .conftest import Http, crd_manifest, wait_for


def _owner_ref(obj: dict[str, Any], *, block: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "blockOwnerDeletion": block,
    }


def _configmap(http: Http, namespace: str, name: str, **meta: Any) -> dict[str, Any]:
    reply = http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": name, **meta}})
    assert reply.status == 201, reply.body
    return reply.body


def _exists(http: Http, path: str) -> bool:
    return http.get(path).status == 200


class TestFinalizers:
    def test_finalizers_hold_the_object_with_a_deletion_timestamp(self, http: Http, namespace: str) -> None:
        _configmap(http, namespace, "held", finalizers=["example.dev/hold"])
        path = f"/api/v1/namespaces/{namespace}/configmaps/held"
        reply = http.delete(path)
        assert reply.status == 202
        assert reply.body["metadata"]["deletionTimestamp"]
        assert _exists(http, path)
        again = http.delete(path)
        assert again.body["metadata"]["deletionTimestamp"] == reply.body["metadata"]["deletionTimestamp"]
        released = http.patch(path, {"metadata": {"finalizers": None}})
        assert released.status == 200
        assert not _exists(http, path)

    def test_no_new_finalizers_while_deleting(self, http: Http, namespace: str) -> None:
        _configmap(http, namespace, "closing", finalizers=["example.dev/a"])
        path = f"/api/v1/namespaces/{namespace}/configmaps/closing"
        http.delete(path)
        reply = http.patch(path, {"metadata": {"finalizers": ["example.dev/a", "example.dev/b"]}})
        assert reply.status == 422

    def test_delete_preconditions(self, http: Http, namespace: str) -> None:
        _configmap(http, namespace, "pre")
        path = f"/api/v1/namespaces/{namespace}/configmaps/pre"
        reply = http.delete(path, {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
        assert reply.status == 409
        assert _exists(http, path)

    def test_immediate_delete_answers_status_success(self, http: Http, namespace: str) -> None:
        created = _configmap(http, namespace, "bye")
        reply = http.delete(f"/api/v1/namespaces/{namespace}/configmaps/bye")
        assert reply.status == 200
        assert reply.body["status"] == "Success"
        assert reply.body["details"]["uid"] == created["metadata"]["uid"]


class TestPodGracefulDeletion:
    def _node(self, http: Http, name: str) -> None:
        http.post("/api/v1/nodes", {"metadata": {"name": name}})

    def test_pod_on_a_node_waits_for_the_node_to_finish(self, http: Http, namespace: str) -> None:
        self._node(http, "grace-node")
        pod = {
            "metadata": {"name": "p"},
            "spec": {
                "nodeName": "grace-node",
                "terminationGracePeriodSeconds": 20,
                "containers": [{"name": "c", "image": "busybox"}],
            },
        }
        http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        path = f"/api/v1/namespaces/{namespace}/pods/p"
        reply = http.delete(path)
        assert reply.status == 202
        assert reply.body["metadata"]["deletionGracePeriodSeconds"] == 20
        assert _exists(http, path)
        shorter = http.delete(path, {"gracePeriodSeconds": 5})
        assert shorter.body["metadata"]["deletionGracePeriodSeconds"] == 5
        final = http.delete(
            path, {"gracePeriodSeconds": 0}
        )  # what the kubelet sends when containers are gone
        assert final.status == 200
        assert not _exists(http, path)

    def test_unscheduled_pod_goes_at_once(self, http: Http, namespace: str) -> None:
        pod = {"metadata": {"name": "u"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        assert http.delete(f"/api/v1/namespaces/{namespace}/pods/u").status == 200
        assert not _exists(http, f"/api/v1/namespaces/{namespace}/pods/u")

    def test_pod_on_an_unknown_node_goes_at_once(self, http: Http, namespace: str) -> None:
        pod = {
            "metadata": {"name": "o"},
            "spec": {"nodeName": "no-such-node", "containers": [{"name": "c", "image": "busybox"}]},
        }
        http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        assert http.delete(f"/api/v1/namespaces/{namespace}/pods/o").status == 200


class TestBinding:
    def test_binding_places_a_pod_once(self, http: Http, namespace: str) -> None:
        pod = {"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "b"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
        }
        path = f"/api/v1/namespaces/{namespace}/pods/b"
        assert http.post(f"{path}/binding", binding).status == 201
        bound = http.get(path).body
        assert bound["spec"]["nodeName"] == "node-a"
        assert {"type": "PodScheduled", "status": "True"}.items() <= bound["status"]["conditions"][0].items()
        again = http.post(f"{path}/binding", {**binding, "target": {"kind": "Node", "name": "node-b"}})
        assert again.status == 409
        assert 'already assigned to node "node-a"' in again.body["message"]


class TestGarbageCollection:
    def test_background_cascade_deletes_dependents(self, http: Http, namespace: str) -> None:
        owner = _configmap(http, namespace, "owner")
        _configmap(http, namespace, "child", ownerReferences=[_owner_ref(owner)])
        _configmap(
            http, namespace, "held-child", ownerReferences=[_owner_ref(owner)], finalizers=["example.dev/f"]
        )
        http.delete(f"/api/v1/namespaces/{namespace}/configmaps/owner", {"propagationPolicy": "Background"})
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        wait_for(lambda: not _exists(http, f"{base}/child"), what="the dependent to be collected")
        held = http.get(f"{base}/held-child").body
        assert held["metadata"]["deletionTimestamp"]  # the finalizer is respected

    def test_dependents_with_another_live_owner_stay(self, http: Http, namespace: str) -> None:
        first, second = _configmap(http, namespace, "o1"), _configmap(http, namespace, "o2")
        _configmap(http, namespace, "shared", ownerReferences=[_owner_ref(first), _owner_ref(second)])
        http.delete(f"/api/v1/namespaces/{namespace}/configmaps/o1")
        wait_for(lambda: not _exists(http, f"/api/v1/namespaces/{namespace}/configmaps/o1"), what="o1 gone")
        assert _exists(http, f"/api/v1/namespaces/{namespace}/configmaps/shared")

    def test_foreground_deletes_dependents_first(self, http: Http, namespace: str) -> None:
        owner = _configmap(http, namespace, "fg")
        _configmap(
            http,
            namespace,
            "fg-child",
            ownerReferences=[_owner_ref(owner, block=True)],
            finalizers=["example.dev/slow"],
        )
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        reply = http.delete(f"{base}/fg", {"propagationPolicy": "Foreground"})
        assert "foregroundDeletion" in reply.body["metadata"]["finalizers"]
        wait_for(
            lambda: http.get(f"{base}/fg-child").body["metadata"].get("deletionTimestamp"),
            what="child deleting",
        )
        assert _exists(http, f"{base}/fg")
        http.patch(f"{base}/fg-child", {"metadata": {"finalizers": None}})
        wait_for(lambda: not _exists(http, f"{base}/fg"), what="the owner to go after its dependents")

    def test_orphan_keeps_dependents_without_the_owner_reference(self, http: Http, namespace: str) -> None:
        owner = _configmap(http, namespace, "orph")
        _configmap(http, namespace, "orph-child", ownerReferences=[_owner_ref(owner)])
        http.delete(f"/api/v1/namespaces/{namespace}/configmaps/orph", {"propagationPolicy": "Orphan"})
        child = http.get(f"/api/v1/namespaces/{namespace}/configmaps/orph-child").body
        assert "ownerReferences" not in child["metadata"]

    def test_cross_kind_cascade_from_a_custom_resource_to_pods(self, http: Http, namespace: str) -> None:
        http.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd_manifest(group="gc.example.dev", plural="jobs", kind="Job"),
        )
        job = http.post(
            f"/apis/gc.example.dev/v1/namespaces/{namespace}/jobs", {"metadata": {"name": "j"}, "spec": {}}
        ).body
        pod = {
            "metadata": {"name": "j-pod", "ownerReferences": [_owner_ref(job)]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        http.post(f"/api/v1/namespaces/{namespace}/pods", pod)
        http.delete(f"/apis/gc.example.dev/v1/namespaces/{namespace}/jobs/j")
        wait_for(
            lambda: not _exists(http, f"/api/v1/namespaces/{namespace}/pods/j-pod"), what="the pod collected"
        )


class TestNamespaces:
    def test_new_namespaces_get_a_default_service_account(self, http: Http, namespace: str) -> None:
        assert _exists(http, f"/api/v1/namespaces/{namespace}/serviceaccounts/default")

    def test_namespace_teardown_lets_the_node_finish_its_pods(self, http: Http) -> None:
        http.post("/api/v1/nodes", {"metadata": {"name": "teardown-node"}})
        http.post("/api/v1/namespaces", {"metadata": {"name": "busy"}})
        pod = {
            "metadata": {"name": "running"},
            "spec": {"nodeName": "teardown-node", "containers": [{"name": "c", "image": "busybox"}]},
        }
        http.post("/api/v1/namespaces/busy/pods", pod)
        http.delete("/api/v1/namespaces/busy")
        terminating = http.get("/api/v1/namespaces/busy/pods/running").body
        assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
        assert _exists(http, "/api/v1/namespaces/busy")
        http.delete("/api/v1/namespaces/busy/pods/running", {"gracePeriodSeconds": 0})  # the node is done
        wait_for(lambda: not _exists(http, "/api/v1/namespaces/busy"), what="the namespace to go")

    def test_deleting_a_namespace_deletes_its_content(self, http: Http) -> None:
        http.post("/api/v1/namespaces", {"metadata": {"name": "doomed"}})
        _configmap(http, "doomed", "inside")
        _configmap(http, "doomed", "slow", finalizers=["example.dev/f"])
        reply = http.delete("/api/v1/namespaces/doomed")
        assert reply.body["status"]["phase"] == "Terminating"
        refused = http.post("/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "late"}})
        assert refused.status == 403
        assert not _exists(http, "/api/v1/namespaces/doomed/configmaps/inside")
        assert _exists(http, "/api/v1/namespaces/doomed")
        http.patch("/api/v1/namespaces/doomed/configmaps/slow", {"metadata": {"finalizers": None}})
        wait_for(lambda: not _exists(http, "/api/v1/namespaces/doomed"), what="the namespace to go")
