"""What kubectl's create commands send: protobuf bodies of built-in kinds, decoded and stored as a real
server stores them (kubectl create job|deployment|cronjob|role|rolebinding|quota send
application/vnd.kubernetes.protobuf; field numbers after k8s.io/api's generated.proto)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


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


def test_kinds_not_decoded_are_refused_whole(kubectl: Callable[..., Any], namespace: str) -> None:
    # Services are not in the protobuf table yet: refused with a 415 naming the kind, never stored with
    # fields dropped.
    result = kubectl("create", "service", "clusterip", "s", "-n", namespace, "--tcp=80:8080", check=False)
    assert result.returncode != 0
    assert "protobuf bodies of kind 'Service' are not supported by this emulator" in result.stderr
    assert kubectl("get", "service", "s", "-n", namespace, check=False).returncode != 0
