"""The real kubectl against the emulator: discovery, validated apply, tables, wait, logs, events, delete."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask_local import ThreadedApiServer

from .conftest import Http, crd_manifest

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {"size": {"type": "integer", "minimum": 1}},
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}
COLUMNS = [
    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def _pod(name: str, namespace: str, *containers: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers or ("main",)]},
    }


def _write(tmp_path: Path, name: str, *documents: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(documents))
    return str(path)


@pytest.fixture(scope="module")
def boxes_crd(kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> None:
    manifest = crd_manifest(
        group="kubectl.example.dev", plural="boxes", kind="Box", schema=SCHEMA, columns=COLUMNS
    )
    kubectl("apply", "-f", _write(tmp_path_factory.mktemp("crd"), "crd.yaml", manifest))


class TestDiscovery:
    def test_api_resources_resolve_core_and_custom_kinds(self, kubectl: Kubectl, boxes_crd: None) -> None:
        lines = kubectl("api-resources", "--no-headers").stdout.splitlines()
        rows = {line.split()[0]: line.split() for line in lines}
        assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
        assert rows["boxes"][-3:] == ["kubectl.example.dev/v1", "true", "Box"]

    def test_aggregated_discovery_when_asked_legacy_otherwise(self, http: Http, boxes_crd: None) -> None:
        kubectl_accept = (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        )
        core = http.get("/api", headers={"Accept": kubectl_accept})
        assert core.headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
        pods = next(r for r in core.body["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
        assert pods["scope"] == "Namespaced"
        assert {s["subresource"] for s in pods["subresources"]} == {"status", "log", "attach", "binding"}
        groups = http.get("/apis", headers={"Accept": kubectl_accept}).body["items"]
        boxes = next(g for g in groups if g["metadata"]["name"] == "kubectl.example.dev")
        assert boxes["versions"][0]["resources"][0]["responseKind"]["kind"] == "Box"
        legacy = http.get("/apis", headers={"Accept": "application/json"})
        assert legacy.body["kind"] == "APIGroupList"

    def test_short_names_and_categories(self, kubectl: Kubectl, boxes_crd: None, namespace: str) -> None:
        kubectl("get", "box", "-n", namespace)
        kubectl("get", "examples", "-n", namespace)


class TestImperativeCreate:
    """kubectl sends built-in kinds to `kubectl create` as protobuf bodies."""

    def test_create_namespace_service_account_secret_and_config_map(self, kubectl: Kubectl) -> None:
        kubectl("create", "namespace", "imperative")
        kubectl("create", "serviceaccount", "robot", "-n", "imperative")
        kubectl("create", "secret", "generic", "token", "--from-literal=key=s3cr3t", "-n", "imperative")
        kubectl("create", "configmap", "settings", "--from-literal=mode=fast", "-n", "imperative")

        assert kubectl("get", "namespace", "imperative", "-o", "jsonpath={.status.phase}").stdout == "Active"
        robot = json.loads(kubectl("get", "serviceaccount", "robot", "-n", "imperative", "-o", "json").stdout)
        assert robot["metadata"]["namespace"] == "imperative"
        data = kubectl("get", "configmap", "settings", "-n", "imperative", "-o", "jsonpath={.data.mode}")
        assert data.stdout == "fast"
        secret = json.loads(kubectl("get", "secret", "token", "-n", "imperative", "-o", "json").stdout)
        assert secret["type"] == "Opaque"  # kubectl sends type "" and the API server defaults it
        assert base64.b64decode(secret["data"]["key"]) == b"s3cr3t"
        namespace = json.loads(kubectl("get", "namespace", "imperative", "-o", "json").stdout)
        assert "generation" not in namespace["metadata"]  # kinds without a generation show none
        kubectl("delete", "namespace", "imperative", "--wait=true")


class TestApply:
    def test_plain_apply_with_validation_creates_and_updates(
        self,
        kubectl: Kubectl,
        boxes_crd: None,
        namespace: str,
        tmp_path: Path,
        http: Http,
    ) -> None:
        box = {
            "apiVersion": "kubectl.example.dev/v1",
            "kind": "Box",
            "metadata": {"name": "b", "namespace": namespace},
            "spec": {"size": 1},
        }
        pod = _pod("p", namespace)
        assert "created" in kubectl("apply", "-f", _write(tmp_path, "a.yaml", box, pod)).stdout
        box["spec"]["size"] = 2
        pod["metadata"]["labels"] = {"changed": "yes"}
        output = kubectl("apply", "-f", _write(tmp_path, "b.yaml", box, pod)).stdout
        assert "box.kubectl.example.dev/b configured" in output
        assert "pod/p configured" in output
        assert (
            http.get(f"/apis/kubectl.example.dev/v1/namespaces/{namespace}/boxes/b").body["spec"]["size"] == 2
        )

    def test_apply_refuses_unknown_fields(
        self, kubectl: Kubectl, boxes_crd: None, namespace: str, tmp_path: Path
    ) -> None:
        box = {
            "apiVersion": "kubectl.example.dev/v1",
            "kind": "Box",
            "metadata": {"name": "u", "namespace": namespace},
            "spec": {"size": 1, "colour": "red"},
        }
        result = kubectl("apply", "-f", _write(tmp_path, "u.yaml", box), check=False)
        assert result.returncode != 0
        assert 'unknown field "spec.colour"' in result.stderr

    def test_apply_shows_schema_errors_naming_the_field(
        self,
        kubectl: Kubectl,
        boxes_crd: None,
        namespace: str,
        tmp_path: Path,
    ) -> None:
        box = {
            "apiVersion": "kubectl.example.dev/v1",
            "kind": "Box",
            "metadata": {"name": "z", "namespace": namespace},
            "spec": {"size": 0},
        }
        result = kubectl("apply", "-f", _write(tmp_path, "z.yaml", box), check=False)
        assert result.returncode != 0
        assert (
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
            in result.stderr
        )


class TestTables:
    def test_get_custom_resources_shows_printer_columns(
        self,
        kubectl: Kubectl,
        boxes_crd: None,
        namespace: str,
        http: Http,
    ) -> None:
        http.post(
            f"/apis/kubectl.example.dev/v1/namespaces/{namespace}/boxes",
            {"metadata": {"name": "t"}, "spec": {"size": 3}},
        )
        http.patch(
            f"/apis/kubectl.example.dev/v1/namespaces/{namespace}/boxes/t/status",
            {"status": {"phase": "Full"}},
        )
        header, row = kubectl("get", "boxes", "-n", namespace).stdout.splitlines()
        assert header.split() == ["NAME", "SIZE", "PHASE", "AGE"]
        assert row.split()[:3] == ["t", "3", "Full"]
        assert row.split()[3].endswith("s")

    def test_get_pods_shows_ready_status_restarts_age(
        self, kubectl: Kubectl, namespace: str, http: Http
    ) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("tp", namespace))
        lines = kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()
        assert lines[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
        assert lines[1].split()[:4] == ["tp", "0/1", "Pending", "0"]
        assert lines[0].split()[7:] == ["NOMINATED", "NODE", "READINESS", "GATES"]

    def test_get_nodes_wide_shows_addresses_os_kernel_and_runtime(self, kubectl: Kubectl, http: Http) -> None:
        http.post("/api/v1/nodes", {"metadata": {"name": "wide-node"}})
        status = {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
            "nodeInfo": {
                "kubeletVersion": "v1.36.0",
                "osImage": "Test OS",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "containerd://2.0",
            },
        }
        http.patch("/api/v1/nodes/wide-node/status", {"status": status})
        lines = kubectl("get", "node", "wide-node", "-o", "wide").stdout.splitlines()
        assert lines[0].split()[5:] == [
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        ]
        assert lines[1].split()[5:] == ["10.0.0.7", "<none>", "Test", "OS", "6.1.0", "containerd://2.0"]
        http.delete("/api/v1/nodes/wide-node")


class TestWaitAndDelete:
    def test_wait_for_a_condition_set_later(self, kubectl: Kubectl, namespace: str, http: Http) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("w", namespace))
        timer = threading.Timer(
            0.5,
            lambda: http.patch(
                f"/api/v1/namespaces/{namespace}/pods/w/status",
                {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
            ),
        )
        timer.start()
        result = kubectl("wait", "--for=condition=Ready", "pod/w", "-n", namespace, "--timeout=10s")
        timer.join()
        assert "condition met" in result.stdout

    def test_delete_waits_until_finalizers_are_gone(
        self, kubectl: Kubectl, namespace: str, http: Http
    ) -> None:
        http.post(
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"metadata": {"name": "f", "finalizers": ["example.dev/x"]}},
        )
        path = f"/api/v1/namespaces/{namespace}/configmaps/f"
        timer = threading.Timer(1.0, lambda: http.patch(path, {"metadata": {"finalizers": None}}))
        timer.start()
        started = time.monotonic()
        kubectl("delete", "configmap", "f", "-n", namespace, "--timeout=10s")
        timer.join()
        assert time.monotonic() - started >= 0.9
        assert http.get(path).status == 404

    def test_wait_for_delete(self, kubectl: Kubectl, namespace: str, http: Http) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "gone"}})
        timer = threading.Timer(0.5, lambda: http.delete(f"/api/v1/namespaces/{namespace}/configmaps/gone"))
        timer.start()
        kubectl("wait", "--for=delete", "configmap/gone", "-n", namespace, "--timeout=10s")
        timer.join()


@pytest.fixture
def logs(api: ThreadedApiServer) -> Iterator[dict[tuple[str, str, str], bytes]]:
    """A log source of our own making: what the node plugs in, here a dict the test fills."""
    store: dict[tuple[str, str, str], bytes] = {}

    async def source(namespace: str, pod: str, container: str, params: Mapping[str, str]) -> bytes | None:
        data = store.get((namespace, pod, container))
        if data is not None and params.get("tailLines"):
            data = b"".join(data.splitlines(keepends=True)[-int(params["tailLines"]) :])
        return data

    api.api.set_log_source(source)
    yield store
    api.api.set_log_source(None)


class TestLogs:
    def test_logs_of_a_single_container_pod(
        self, kubectl: Kubectl, namespace: str, http: Http, logs: dict[Any, bytes]
    ) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("l", namespace))
        logs[(namespace, "l", "main")] = b"one\ntwo\nthree\n"
        assert kubectl("logs", "l", "-n", namespace).stdout == "one\ntwo\nthree\n"
        assert kubectl("logs", "l", "-n", namespace, "--tail=1").stdout == "three\n"

    def test_multi_container_pods_need_a_container_name(
        self,
        kubectl: Kubectl,
        namespace: str,
        http: Http,
        logs: dict[Any, bytes],
    ) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("m", namespace, "a", "b"))
        logs[(namespace, "m", "b")] = b"from b\n"
        result = kubectl("logs", "m", "-n", namespace, "--all-containers=false", "-c", "b")
        assert result.stdout == "from b\n"

    def test_follow_streams_until_the_container_terminates(
        self,
        kubectl: Kubectl,
        namespace: str,
        http: Http,
        logs: dict[Any, bytes],
    ) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("f", namespace))
        logs[(namespace, "f", "main")] = b"start\n"

        def finish() -> None:
            logs[(namespace, "f", "main")] = b"start\nend\n"
            time.sleep(0.3)
            http.patch(f"/api/v1/namespaces/{namespace}/pods/f/status", {"status": {"phase": "Succeeded"}})

        timer = threading.Timer(0.5, finish)
        timer.start()
        result = kubectl("logs", "-f", "f", "-n", namespace, timeout=15)
        timer.join()
        assert result.stdout == "start\nend\n"

    def test_not_started_container_answers_400(
        self, kubectl: Kubectl, namespace: str, http: Http, logs: dict[Any, bytes]
    ) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("n", namespace))
        result = kubectl("logs", "n", "-n", namespace, check=False)
        assert result.returncode != 0
        assert "is waiting to start" in result.stderr


class TestAttach:
    """``pods/attach`` is served over WebSocket (kubectl 1.30+ tries it first); node tests attach for real."""

    def test_discovery_lists_pods_attach(self, http: Http) -> None:
        resources = {r["name"]: r for r in http.get("/api/v1").body["resources"]}
        assert resources["pods/attach"]["verbs"] == ["create", "get"]
        assert resources["pods/attach"]["kind"] == "PodAttachOptions"

    def test_spdy_attach_is_refused_naming_what_is_served(
        self, http: Http, namespace: str, logs: dict[Any, bytes]
    ) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("a", namespace))
        logs[(namespace, "a", "main")] = b""
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods/a/attach?stdout=true", {})
        assert reply.status == 400
        assert "served over WebSocket" in reply.body["message"]
        assert "v5.channel.k8s.io" in reply.body["message"]


class TestUnservedPodSubresources:
    @pytest.mark.parametrize(
        "args",
        [
            pytest.param(("exec", "u", "--", "ls"), id="exec"),
            pytest.param(("port-forward", "u", "18080:80"), id="port-forward"),
        ],
    )
    def test_kubectl_says_the_local_cluster_does_not_serve_it(
        self, kubectl: Kubectl, http: Http, namespace: str, args: tuple[str, ...]
    ) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("u", namespace))
        http.patch(f"/api/v1/namespaces/{namespace}/pods/u/status", {"status": {"phase": "Running"}})
        result = kubectl("-n", namespace, *args, check=False, timeout=15)
        assert result.returncode != 0
        assert "is not served by the kubetask local cluster" in result.stderr
        assert "not found" not in result.stderr


class TestEvents:
    def test_describe_shows_core_events_of_the_object(
        self, kubectl: Kubectl, namespace: str, http: Http
    ) -> None:
        pod = http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("e", namespace)).body
        event = {
            "metadata": {"name": "e.1"},
            "type": "Normal",
            "reason": "Scheduled",
            "message": "placed on the node",
            "involvedObject": {
                "kind": "Pod",
                "namespace": namespace,
                "name": "e",
                "uid": pod["metadata"]["uid"],
                "apiVersion": "v1",
            },
            "source": {"component": "tester"},
            "count": 1,
            "firstTimestamp": pod["metadata"]["creationTimestamp"],
            "lastTimestamp": pod["metadata"]["creationTimestamp"],
        }
        assert http.post(f"/api/v1/namespaces/{namespace}/events", event).status == 201
        output = kubectl("describe", "pod", "e", "-n", namespace).stdout
        assert "Scheduled" in output
        assert "placed on the node" in output

    def test_events_k8s_io_v1_and_core_events_are_one_resource(
        self, kubectl: Kubectl, namespace: str, http: Http
    ) -> None:
        pod = http.post(f"/api/v1/namespaces/{namespace}/pods", _pod("ne", namespace)).body
        event = {
            "metadata": {"name": "n.1"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "type": "Warning",
            "reason": "Checked",
            "action": "Check",
            "note": "a new-style event",
            "reportingController": "tester",
            "reportingInstance": "tester-1",
            "regarding": {"kind": "Pod", "namespace": namespace, "name": "ne", "uid": pod["metadata"]["uid"]},
        }
        created = http.post(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", event)
        assert created.status == 201
        assert created.body["note"] == "a new-style event"
        selector = "regarding.name%3Dne,reason%3DChecked"
        listed = http.get(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events?fieldSelector={selector}")
        assert [item["note"] for item in listed.body["items"]] == ["a new-style event"]
        core = http.get(f"/api/v1/namespaces/{namespace}/events/n.1").body
        assert core["apiVersion"] == "v1"
        assert core["message"] == "a new-style event"
        assert core["involvedObject"]["name"] == "ne"
        assert core["reportingComponent"] == "tester"
        assert "a new-style event" in kubectl("describe", "pod", "ne", "-n", namespace).stdout
        patched = http.patch(f"/apis/events.k8s.io/v1/namespaces/{namespace}/events/n.1", {"note": "edited"})
        assert patched.body["note"] == "edited"
        assert http.get(f"/api/v1/namespaces/{namespace}/events/n.1").body["message"] == "edited"
