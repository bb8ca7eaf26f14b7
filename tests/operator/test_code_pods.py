"""``spec.code`` in the pod: the code options reach kubetask-execute, and a ConfigMap archive is mounted
read-only and read from its file. Pods validate against the official schema."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from kubetask_operator._errors import InvalidSpecError
from kubetask_operator._pods import SCRATCH_MOUNT, TaskRunRef, build_pod
from kubetask_operator._settings import Settings
from kubetask_operator._spec import parse_spec

REF = TaskRunRef(name="demo", namespace="team", uid="0b7c8a52-1111-2222-3333-444455556666")
BASE: dict[str, Any] = {"image": "registry.example/app:1.0", "task": {"module": "tasks", "name": "add"}}
SHA = "0123456789abcdef" * 4


def _pod(code: dict[str, Any] | None) -> dict[str, Any]:
    spec = {**BASE, **({"code": code} if code is not None else {})}
    pod = build_pod(parse_spec(spec), REF, Settings(), 1)
    kubernetes_validate.validate(pod, "1.30", strict=True)
    return pod


def _argument(pod: dict[str, Any], flag: str) -> str | None:
    command = pod["spec"]["containers"][0]["command"]
    return command[command.index(flag) + 1] if flag in command else None


def test_a_storage_archive_is_passed_to_kubetask_execute() -> None:
    pod = _pod({"uri": "s3://bucket/code/x.tar.gz", "sha256": SHA})
    assert _argument(pod, "--code-uri") == "s3://bucket/code/x.tar.gz"
    assert _argument(pod, "--code-sha256") == SHA
    (container,) = pod["spec"]["containers"]
    assert {"name": "KUBETASK_SCRATCH_DIR", "value": SCRATCH_MOUNT} in container["env"]
    assert "kubetask-code" not in [volume["name"] for volume in pod["spec"]["volumes"]]


def test_a_configmap_archive_is_mounted_read_only_and_read_from_its_file() -> None:
    pod = _pod({"uri": "configmap:kubetask-code-" + SHA, "sha256": SHA})
    assert _argument(pod, "--code-uri") == "/var/run/kubetask/code/code.tar.gz"
    assert {"name": "kubetask-code", "configMap": {"name": "kubetask-code-" + SHA}} in pod["spec"]["volumes"]
    (container,) = pod["spec"]["containers"]
    assert {"name": "kubetask-code", "mountPath": "/var/run/kubetask/code", "readOnly": True} in container[
        "volumeMounts"
    ]


def test_without_code_the_pod_is_as_before() -> None:
    pod = _pod(None)
    assert _argument(pod, "--code-uri") is None
    assert "KUBETASK_SCRATCH_DIR" not in [var["name"] for var in pod["spec"]["containers"][0]["env"]]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param("x", "spec.code: expected an object {uri, sha256}, got 'x'", id="not-an-object"),
        pytest.param({"uri": "/c.tar.gz"}, "spec.code: expected both code.uri and code.sha256", id="no-sha"),
        pytest.param(
            {"uri": "/c", "sha256": SHA.upper()},
            "spec.code.sha256: expected 64 lowercase hexadecimal digits",
            id="uppercase-sha",
        ),
        pytest.param(
            {"uri": "configmap:Bad_Name", "sha256": SHA},
            "spec.code.uri: expected configmap:NAME with NAME a ConfigMap name",
            id="bad-configmap-name",
        ),
        pytest.param({"uri": "no scheme", "sha256": SHA}, "spec.code.uri: expected a URI", id="not-a-uri"),
    ],
)
def test_a_bad_code_field_is_an_invalid_spec_naming_it(code: object, message: str) -> None:
    with pytest.raises(InvalidSpecError) as raised:
        parse_spec({**BASE, "code": code})
    assert str(raised.value).startswith(message)


def test_the_code_volume_name_is_reserved() -> None:
    template = {"volumes": [{"name": "kubetask-code", "emptyDir": {}}]}
    with pytest.raises(InvalidSpecError, match=r"podTemplate\.volumes\[0\]\.name"):
        parse_spec({**BASE, "podTemplate": template})
