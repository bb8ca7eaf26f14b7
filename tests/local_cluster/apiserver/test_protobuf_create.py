"""What kubectl's create commands send: protobuf bodies of built-in kinds, decoded and stored as a real
server stores them (kubectl create job|deployment|cronjob|role|rolebinding|quota|service|ingress|pdb|secret
send application/vnd.kubernetes.protobuf). Field numbers, pointer fields and inlined structs after the Go
types of k8s.io/api (their ``protobuf:`` and ``json:`` tags, from which generated.proto is generated);
k8s.io/apimachinery/pkg/runtime/serializer/protobuf for the envelope."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kubetask_local.apiserver import _protobuf
from kubetask_local.apiserver._errors import ApiError


def get(kubectl: Callable[..., Any], namespace: str, *what: str) -> Any:
    return json.loads(kubectl("get", *what, "-n", namespace, "-o", "json").stdout)


def test_create_job(kubectl: Callable[..., Any], namespace: str) -> None:
    kubectl("create", "job", "j", "-n", namespace, "--image=busybox:1.36", "--", "echo", "hi")
    job = get(kubectl, namespace, "job", "j")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"], container["command"]) == (
        "j",
        "busybox:1.36",
        ["echo", "hi"],
    )
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "creationTimestamp" not in job["spec"]["template"].get("metadata", {})


def test_create_deployment(kubectl: Callable[..., Any], namespace: str) -> None:
    kubectl("create", "deployment", "d", "-n", namespace, "--image=busybox", "--replicas=2", "--port=80")
    spec = get(kubectl, namespace, "deployment", "d")["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "d"}}
    assert spec["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_create_cronjob(kubectl: Callable[..., Any], namespace: str) -> None:
    kubectl("create", "cronjob", "c", "-n", namespace, "--image=busybox", "--schedule=*/5 * * * *")
    spec = get(kubectl, namespace, "cronjob", "c")["spec"]
    assert spec["schedule"] == "*/5 * * * *"
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"


def test_create_role_and_rolebinding(kubectl: Callable[..., Any], namespace: str) -> None:
    kubectl("create", "role", "r", "-n", namespace, "--verb=get,list", "--resource=pods", "--resource-name=x")
    kubectl("create", "rolebinding", "rb", "-n", namespace, "--role=r", "--user=alice")
    role = get(kubectl, namespace, "role", "r")
    assert role["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["x"]}
    ]
    binding = get(kubectl, namespace, "rolebinding", "rb")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
    assert binding["subjects"] == [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}]


def test_create_quota(kubectl: Callable[..., Any], namespace: str) -> None:
    kubectl("create", "quota", "q", "-n", namespace, "--hard=pods=2,requests.cpu=1")
    quota = get(kubectl, namespace, "resourcequota", "q")
    assert quota["spec"]["hard"] == {"pods": "2", "requests.cpu": "1"}
    assert quota["status"]["used"] == {"pods": "0", "requests.cpu": "0"}


@pytest.mark.parametrize(
    ("command", "what", "expected"),
    [
        pytest.param(
            ["create", "service", "clusterip", "s", "--tcp=80:8080"],
            ["service", "s"],
            {
                "type": "ClusterIP",
                "selector": {"app": "s"},
                "ports": [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            },
            id="service-clusterip",
        ),
        pytest.param(
            ["create", "service", "nodeport", "s", "--tcp=80:http", "--node-port=30080"],
            ["service", "s"],
            {
                "type": "NodePort",
                "ports": [
                    {
                        "name": "80-http",
                        "port": 80,
                        "protocol": "TCP",
                        "targetPort": "http",
                        "nodePort": 30080,
                    }
                ],
            },
            id="service-nodeport-named-target",
        ),
        pytest.param(
            ["create", "service", "externalname", "s", "--external-name=example.com"],
            ["service", "s"],
            {"type": "ExternalName", "externalName": "example.com"},
            id="service-externalname",
        ),
        pytest.param(
            # IngressRule inlines IngressRuleValue (json:",inline"): its http rules are the rule's own.
            ["create", "ingress", "i", "--rule=foo.com/bar=svc1:8080"],
            ["ingress", "i"],
            {
                "rules": [
                    {
                        "host": "foo.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/bar",
                                    "pathType": "Exact",
                                    "backend": {"service": {"name": "svc1", "port": {"number": 8080}}},
                                }
                            ]
                        },
                    }
                ]
            },
            id="ingress-inlined-rule-value",
        ),
        pytest.param(
            ["create", "poddisruptionbudget", "b", "--selector=app=x", "--min-available=50%"],
            ["poddisruptionbudget", "b"],
            {"minAvailable": "50%", "selector": {"matchLabels": {"app": "x"}}},
            id="pdb-int-or-string",
        ),
        pytest.param(
            ["create", "secret", "generic", "g", "--from-literal=a=b"],
            ["secret", "g"],
            {"data": {"a": "Yg=="}, "type": "Opaque"},
            id="secret-bytes",
        ),
    ],
)
def test_create_commands_sending_protobuf(
    kubectl: Callable[..., Any], namespace: str, command: list[str], what: list[str], expected: dict[str, Any]
) -> None:
    # kubectl v1.37 sends these as application/vnd.kubernetes.protobuf (seen with -v=9); `kubectl run` and
    # `kubectl create -f` send JSON.
    kubectl(*command, "-n", namespace)
    stored = get(kubectl, namespace, *what)
    section = stored if what[0] == "secret" else stored["spec"]
    assert {key: section.get(key) for key in expected} == expected


def test_a_protobuf_pod_keeps_explicit_zeros_and_inlined_volume_sources() -> None:
    # What a Go client (client-go's typed Pods().Create) sends: a pointer field set to false
    # (enableServiceLinks, *bool) is kept, non-pointer zeros are left out as JSON's omitempty does, and
    # Volume's embedded VolumeSource (json:"") becomes the volume's own fields.
    spec = (
        _bytes(2, _bytes(1, b"main") + _bytes(2, b"busybox") + _varint_field(16, 0))  # stdin: false
        + _bytes(1, _bytes(1, b"data") + _bytes(2, _bytes(1, _bytes(1, b"/srv"))))  # hostPath.path
        + _varint_field(30, 0)  # enableServiceLinks: false
        + _varint_field(4, 7)  # terminationGracePeriodSeconds
    )
    pod = _bytes(1, _bytes(1, b"p")) + _bytes(2, spec)
    body = _protobuf.MAGIC + _bytes(1, _bytes(1, b"v1") + _bytes(2, b"Pod")) + _bytes(2, pod)
    assert _protobuf.decode(body) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "main", "image": "busybox"}],
            "volumes": [{"name": "data", "hostPath": {"path": "/srv"}}],
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 7,
        },
    }


def test_an_unknown_protobuf_field_is_refused_not_dropped() -> None:
    body = (
        _protobuf.MAGIC + _bytes(1, _bytes(1, b"v1") + _bytes(2, b"Pod")) + _bytes(2, _varint_field(999, 1))
    )
    with pytest.raises(ApiError) as refused:
        _protobuf.decode(body)
    assert refused.value.code == 415
    assert "protobuf field 999 of io.k8s.api.core.v1.Pod is not supported" in refused.value.message


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("run", id="kubectl-run"),
        pytest.param("create-f", id="kubectl-create-f"),
    ],
)
def test_pods_from_kubectl_are_admitted_as_on_a_real_cluster(
    kubectl: Callable[..., Any], namespace: str, how: str, tmp_path: Any
) -> None:
    # kubectl v1.37 sends these as JSON; the pod comes back with what admission adds on a real cluster:
    # the ServiceAccount token volume and the two default tolerations.
    if how == "run":
        kubectl("run", "p", "-n", namespace, "--image=busybox", "--restart=Never", "--", "sleep", "1")
    else:
        manifest = tmp_path / "pod.yaml"
        manifest.write_text(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
            "spec: {containers: [{name: p, image: busybox, command: [sleep, '1']}]}\n"
        )
        kubectl("create", "-f", str(manifest), "-n", namespace)
    spec = get(kubectl, namespace, "pod", "p")["spec"]
    assert (
        spec["containers"][0]["volumeMounts"][0]["mountPath"]
        == "/var/run/secrets/kubernetes.io/serviceaccount"
    )
    assert spec["volumes"][0]["name"].startswith("kube-api-access-")
    assert [t["key"] for t in spec["tolerations"]] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
