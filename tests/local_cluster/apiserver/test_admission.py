"""Admission as a default kube-apiserver runs it: Priority, Pod Security Admission and ResourceQuota refuse
pods with 403 and the real messages, so the operator's handling of refused pods runs end to end locally.

Sources (kubernetes/kubernetes):
- plugin/pkg/admission/priority/admission.go ("no PriorityClass with name %v was found"; the system classes
  system-cluster-critical and system-node-critical)
- staging/src/k8s.io/pod-security-admission/admission/admission.go and policy/check_*.go
  (``violates PodSecurity "restricted:latest": ...``; ``would violate PodSecurity`` warnings)
- staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go
  ("exceeded quota: %s, requested: %s, used: %s, limited: %s")
- https://kubernetes.io/docs/concepts/security/pod-security-admission/ (namespace labels)
"""

from __future__ import annotations

from typing import Any

from tests.local_cluster.apiserver.conftest import Http, wait_for


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }
    body["spec"].update(spec)
    return body


RESTRICTED_CONTAINER = {
    "name": "main",
    "image": "busybox",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


class TestPriority:
    def test_the_two_system_classes_are_served(self, http: Http) -> None:
        reply = http.get("/apis/scheduling.k8s.io/v1/priorityclasses")
        values = {item["metadata"]["name"]: item["value"] for item in reply.body["items"]}
        assert values == {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}

    def test_unknown_priority_class_is_403(self, http: Http, namespace: str) -> None:
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod(priorityClassName="nope"))
        assert reply.status == 403, reply.body
        assert reply.body["reason"] == "Forbidden"
        assert reply.body["message"] == 'pods "p" is forbidden: no PriorityClass with name nope was found'
        assert http.get(f"/api/v1/namespaces/{namespace}/pods/p").status == 404

    def test_a_class_sets_the_priority(self, http: Http, namespace: str) -> None:
        created = http.post(
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            {"metadata": {"name": f"high-{namespace}"}, "value": 1000, "preemptionPolicy": "Never"},
        )
        assert created.status == 201, created.body
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod(priorityClassName=f"high-{namespace}"))
        assert reply.status == 201, reply.body
        assert reply.body["spec"]["priority"] == 1000
        assert reply.body["spec"]["preemptionPolicy"] == "Never"

    def test_a_priority_that_disagrees_with_the_class_is_403(self, http: Http, namespace: str) -> None:
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod(priority=7))
        assert reply.status == 403, reply.body
        assert "the integer value of priority (7) must not be provided in pod spec" in reply.body["message"]


class TestPodSecurity:
    def label(self, http: Http, namespace: str, **labels: str) -> None:
        patch = {"metadata": {"labels": {f"pod-security.kubernetes.io/{k}": v for k, v in labels.items()}}}
        assert http.patch(f"/api/v1/namespaces/{namespace}", patch).status == 200

    def test_restricted_enforce_refuses_a_default_pod(self, http: Http, namespace: str) -> None:
        self.label(http, namespace, enforce="restricted")
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod())
        assert reply.status == 403, reply.body
        assert reply.body["message"] == (
            'pods "p" is forbidden: violates PodSecurity "restricted:latest": '
            'allowPrivilegeEscalation != false (container "main" must set '
            "securityContext.allowPrivilegeEscalation=false), "
            'unrestricted capabilities (container "main" must set '
            'securityContext.capabilities.drop=["ALL"]), '
            'runAsNonRoot != true (pod or container "main" must set securityContext.runAsNonRoot=true), '
            'seccompProfile (pod or container "main" must set securityContext.seccompProfile.type to '
            '"RuntimeDefault" or "Localhost")'
        )
        assert http.get(f"/api/v1/namespaces/{namespace}/pods/p").status == 404

    def test_restricted_enforce_admits_a_conforming_pod(self, http: Http, namespace: str) -> None:
        self.label(http, namespace, enforce="restricted")
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod(containers=[RESTRICTED_CONTAINER]))
        assert reply.status == 201, reply.body

    def test_baseline_refuses_privileged_and_host_paths(self, http: Http, namespace: str) -> None:
        self.label(http, namespace, enforce="baseline")
        body = pod(
            containers=[{"name": "main", "image": "busybox", "securityContext": {"privileged": True}}],
            volumes=[{"name": "root", "hostPath": {"path": "/"}}],
        )
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", body)
        assert reply.status == 403, reply.body
        assert reply.body["message"] == (
            'pods "p" is forbidden: violates PodSecurity "baseline:latest": '
            'privileged (container "main" must not set securityContext.privileged=true), '
            'hostPath volumes (volume "root")'
        )

    def test_warn_adds_a_warning_header_and_admits(self, http: Http, namespace: str) -> None:
        self.label(http, namespace, warn="restricted")
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod())
        assert reply.status == 201, reply.body
        assert 'would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false' in (
            reply.headers.get("Warning", "")
        )


class TestResourceQuota:
    def test_pod_count_over_quota_is_403_and_used_stays_current(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}"
        assert (
            http.post(
                f"{base}/resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}}
            ).status
            == 201
        )
        assert http.get(f"{base}/resourcequotas/q").body["status"] == {
            "hard": {"pods": "1"},
            "used": {"pods": "0"},
        }
        assert http.post(f"{base}/pods", pod("a")).status == 201
        assert http.get(f"{base}/resourcequotas/q").body["status"]["used"] == {"pods": "1"}
        reply = http.post(f"{base}/pods", pod("b"))
        assert reply.status == 403, reply.body
        assert reply.body["message"] == (
            'pods "b" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1'
        )
        assert http.delete(f"{base}/pods/a?gracePeriodSeconds=0").status in (200, 202)
        wait_for(lambda: http.get(f"{base}/pods/a").status == 404, what="the pod to go")
        assert http.get(f"{base}/resourcequotas/q").body["status"]["used"] == {"pods": "0"}
        assert http.post(f"{base}/pods", pod("b")).status == 201

    def test_requests_over_quota(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}"
        hard = {"requests.cpu": "1", "limits.memory": "1Gi"}
        assert (
            http.post(
                f"{base}/resourcequotas", {"metadata": {"name": "compute"}, "spec": {"hard": hard}}
            ).status
            == 201
        )
        container = {
            "name": "main",
            "image": "busybox",
            "resources": {"requests": {"cpu": "600m"}, "limits": {"memory": "512Mi"}},
        }
        assert http.post(f"{base}/pods", pod("a", containers=[container])).status == 201
        reply = http.post(f"{base}/pods", pod("b", containers=[container]))
        assert reply.status == 403, reply.body
        assert reply.body["message"] == (
            'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
            "used: requests.cpu=600m, limited: requests.cpu=1"
        )
        used = http.get(f"{base}/resourcequotas/compute").body["status"]["used"]
        assert used == {"requests.cpu": "600m", "limits.memory": "512Mi"}

    def test_count_of_other_resources(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}"
        quota = {"metadata": {"name": "objects"}, "spec": {"hard": {"count/configmaps": "2"}}}
        assert http.post(f"{base}/resourcequotas", quota).status == 201
        # this test server has no CA (plain HTTP), so no kube-root-ca.crt: the namespace starts with none
        for name in ("one", "two"):
            assert http.post(f"{base}/configmaps", {"metadata": {"name": name}}).status == 201
        reply = http.post(f"{base}/configmaps", {"metadata": {"name": "three"}})
        assert reply.status == 403, reply.body
        assert reply.body["message"] == (
            'configmaps "three" is forbidden: exceeded quota: objects, requested: count/configmaps=1, '
            "used: count/configmaps=2, limited: count/configmaps=2"
        )


class TestRuntimeClass:
    """plugin/pkg/admission/runtimeclass/admission.go: the named RuntimeClass must exist."""

    def test_unknown_runtime_class_is_403(self, http: Http, namespace: str) -> None:
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod(runtimeClassName="gvisor"))
        assert reply.status == 403, reply.body
        assert reply.body["message"] == 'pods "p" is forbidden: pod rejected: RuntimeClass "gvisor" not found'

    def test_a_runtime_class_adds_its_overhead(self, http: Http, namespace: str) -> None:
        runtime_class = {
            "metadata": {"name": f"rc-{namespace}"},
            "handler": "runc",
            "overhead": {"podFixed": {"memory": "64Mi"}},
        }
        assert http.post("/apis/node.k8s.io/v1/runtimeclasses", runtime_class).status == 201
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod(runtimeClassName=f"rc-{namespace}"))
        assert reply.status == 201, reply.body
        assert reply.body["spec"]["overhead"] == {"memory": "64Mi"}
