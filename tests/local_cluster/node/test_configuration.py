"""Configuration reaches the container as on a kubelet: env (values, fieldRef, ConfigMap and Secret refs),
envFrom, ``$(VAR)`` expansion, ConfigMap/Secret/emptyDir/downwardAPI volumes with mount paths mapped to local
directories, workingDir; missing references wait as CreateContainerConfigError until they appear."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubetask_local.testing import wait_for

pytestmark = pytest.mark.e2e

DUMP_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def _apply_config(pods: Any) -> None:
    pods.cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"GREETING": "hello", "inputs.json": '{"name": "world"}', "1st": "x"},
        },
        namespace=pods.namespace,
    )
    pods.cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "data": {"TOKEN": base64.b64encode(b"s3cret").decode()},
        },
        namespace=pods.namespace,
    )


def test_env_from_values_fields_configmaps_and_secrets(pods: Any) -> None:
    _apply_config(pods)
    container = pods.container(
        DUMP_ENV,
        env=[
            {"name": "WHO", "value": "$(GREETING) $(POD_NAME) $$(GREETING)"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "GREETING"}}},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "TOKEN"}}},
            {
                "name": "OPTIONAL",
                "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x", "optional": True}},
            },
        ],
        envFrom=[{"configMapRef": {"name": "settings"}}, {"secretRef": {"name": "creds"}, "prefix": "S_"}],
    )
    pods.create("env", container)
    pods.wait_phase("env", "Succeeded")
    env = json.loads(pods.logs("env"))
    assert env["WHO"] == "hello $(POD_NAME) $(GREETING)"  # POD_NAME is defined later: left as written
    assert (env["POD_NAME"], env["NS"]) == ("env", pods.namespace)
    assert env["POD_IP"]
    assert (env["FROM_CM"], env["FROM_SECRET"]) == ("hello", "s3cret")
    assert (env["GREETING"], env["S_TOKEN"]) == ("hello", "s3cret")
    assert "OPTIONAL" not in env
    assert env["inputs.json"] == '{"name": "world"}'  # dots are valid in variable names
    assert "1st" not in env  # not a valid variable name: skipped as the kubelet does
    assert env["KUBETASK_TERMINATION_MESSAGE_PATH"]


def test_volumes_are_materialised_and_mount_paths_map_in_args_env_and_working_dir(pods: Any) -> None:
    _apply_config(pods)
    code = """
        import json, os, sys
        inputs = json.load(open(sys.argv[1]))
        token = open(os.environ["TOKEN_FILE"]).read()
        with open(os.path.join(os.getcwd(), "written.txt"), "w") as file:
            file.write("made in the working dir")
        labels = open(sys.argv[2]).read()
        cwd_is_scratch = os.listdir(".") == ["written.txt"]
        print(json.dumps({"inputs": inputs, "token": token, "cwd_is_scratch": cwd_is_scratch,
                          "labels": labels}))
    """
    container = pods.container(
        code,
        args=["/var/run/kubetask/inputs/inputs.json", "/etc/podinfo/labels"],
        env=[{"name": "TOKEN_FILE", "value": "/etc/creds/TOKEN"}],
        workingDir="/scratch",
        volumeMounts=[
            {"name": "inputs", "mountPath": "/var/run/kubetask/inputs"},
            {"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "podinfo", "mountPath": "/etc/podinfo"},
        ],
    )
    volumes = [
        {
            "name": "inputs",
            "configMap": {"name": "settings", "items": [{"key": "inputs.json", "path": "inputs.json"}]},
        },
        {"name": "creds", "secret": {"secretName": "creds"}},
        {"name": "scratch", "emptyDir": {}},
        {
            "name": "podinfo",
            "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
        },
    ]
    pods.create("volumes", container, volumes=volumes, labels={"team": "data"})
    pods.wait_phase("volumes", "Succeeded")
    seen = json.loads(pods.logs("volumes"))
    assert seen["inputs"] == {"name": "world"}
    assert seen["token"] == "s3cret"
    assert seen["cwd_is_scratch"] is True
    assert seen["labels"] == 'team="data"\n'


def test_a_missing_configmap_waits_as_create_container_config_error_until_it_exists(pods: Any) -> None:
    container = pods.container(
        "import os; print(os.environ['LATE'])",
        env=[{"name": "LATE", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "v"}}}],
    )
    pods.create("late", container)
    pod = pods.waiting_reason("late", "CreateContainerConfigError")
    assert pod["status"]["phase"] == "Pending"
    assert pods.state(pod)["waiting"]["message"] == 'configmap "late" not found'
    pods.cluster.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}, "data": {"v": "now"}},
        namespace=pods.namespace,
    )
    pods.wait_phase("late", "Succeeded")
    assert pods.logs("late") == "now\n"


def test_a_missing_secret_key_names_the_key(pods: Any) -> None:
    _apply_config(pods)
    container = pods.container(
        "print(1)", env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "NOPE"}}}]
    )
    pods.create("nokey", container)
    pod = pods.waiting_reason("nokey", "CreateContainerConfigError")
    assert pods.state(pod)["waiting"]["message"] == f"couldn't find key NOPE in Secret {pods.namespace}/creds"


def test_a_missing_volume_source_keeps_the_pod_creating_with_a_failed_mount_event(pods: Any) -> None:
    container = pods.container("print(1)", volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}])
    pods.create("nomount", container, volumes=[{"name": "cfg", "configMap": {"name": "not-there"}}])
    messages = wait_for(
        lambda: [event["message"] for event in pods.events("nomount") if event["reason"] == "FailedMount"],
        30,
        "a FailedMount event",
    )
    assert 'configmap "not-there" not found' in messages[0]
    pod = pods.get("nomount")
    assert (pod["status"]["phase"], pods.state(pod)["waiting"]["reason"]) == ("Pending", "ContainerCreating")


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        pytest.param(
            {"name": "creds", "secret": {"secretName": "nope"}},
            'MountVolume.SetUp failed for volume "creds" : secret "nope" not found',
            id="missing-secret",
        ),
        pytest.param(
            {"name": "creds", "configMap": {"name": "nope"}},
            'MountVolume.SetUp failed for volume "creds" : configmap "nope" not found',
            id="missing-configmap",
        ),
        pytest.param(
            {"name": "creds", "secret": {"secretName": "creds", "items": [{"key": "NOPE", "path": "x"}]}},
            'MountVolume.SetUp failed for volume "creds" : references non-existent secret key: NOPE',
            id="missing-secret-key",
        ),
    ],
)
def test_a_volume_that_cannot_be_set_up_repeats_failed_mount_as_the_kubelet_retries(
    pods: Any, volume: dict[str, Any], message: str
) -> None:
    # kubelet: pkg/volume/secret/secret.go and pkg/volume/configmap/configmap.go (SetUpAt), reported by the
    # volume manager as a Warning FailedMount event at each attempt while the container waits in
    # ContainerCreating with no message; client-go aggregates the repeats into one event's count.
    _apply_config(pods)
    container = pods.container("print(1)", volumeMounts=[{"name": "creds", "mountPath": "/etc/creds"}])
    pods.create("badvolume", container, volumes=[volume])

    def repeated() -> dict[str, Any] | None:
        mounts = [event for event in pods.events("badvolume") if event["reason"] == "FailedMount"]
        return next((event for event in mounts if (event.get("count") or 1) >= 2), None)

    event = wait_for(repeated, 60, "a FailedMount event repeated")
    assert (event["type"], event["message"]) == ("Warning", message)
    assert event["source"]["component"] == "kubelet"
    pod = pods.get("badvolume")
    waiting = pods.state(pod)["waiting"]
    assert (pod["status"]["phase"], waiting) == ("Pending", {"reason": "ContainerCreating"})


def test_command_and_args_are_expanded_as_the_kubelet_expands_them(pods: Any) -> None:
    # kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/ and
    # third_party/forked/golang/expansion: $(NAME) of a container variable is replaced, an undefined one is
    # left as written, $$ is one $. The operator escapes user strings ($ -> $$) relying on exactly this.
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    args = ["$(X)", "$$(X)", "$$$$", "$(UNDEFINED)", "a$b", "$(X", "$$$(X)"]
    container = pods.container(code, env=[{"name": "X", "value": "1"}]) | {"args": args}
    pods.create("expanded", container)
    pods.wait_phase("expanded", "Succeeded")
    assert json.loads(pods.logs("expanded")) == ["1", "$(X)", "$$", "$(UNDEFINED)", "a$b", "$(X", "$1"]
