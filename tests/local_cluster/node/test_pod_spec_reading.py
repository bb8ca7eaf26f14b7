"""Pure reading of pod specs by the local node: images, placement, quantities, env, volumes, paths."""

from __future__ import annotations

import base64
import decimal
from pathlib import Path
from typing import Any

import pytest

from kubetask_local.node._env import PodNetwork, expand, referenced_objects, resolve_env
from kubetask_local.node._errors import PodConfigError, QuantityError
from kubetask_local.node._logs import LogOptions, log_options, render
from kubetask_local.node._spec import (
    Taint,
    invalid_image_message,
    memory_limit_bytes,
    parse_quantity,
    pull_fails,
    qos_class,
    unschedulable_message,
)
from kubetask_local.node._status import tail_for_message, termination_message
from kubetask_local.node._volumes import map_paths, materialise_volumes, mount_mapping, plan_volumes

NETWORK = PodNetwork(node_name="kubetask-local", host_ip="127.0.0.1", pod_ip="127.0.0.1")


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "main", "image": "python:3.11"}], **spec},
    }


@pytest.mark.parametrize(
    ("image", "valid"),
    [
        pytest.param("python:3.11", True, id="tag"),
        pytest.param("ghcr.io/org/kubetask:1.0", True, id="registry"),
        pytest.param("localhost:5000/a/b", True, id="registry-port"),
        pytest.param("busybox@sha256:" + "a" * 64, True, id="digest"),
        pytest.param("Python:3.11", False, id="upper-case"),
        pytest.param("python::3", False, id="double-colon"),
        pytest.param("", False, id="empty"),
        pytest.param("bad image", False, id="space"),
    ],
)
def test_image_references_are_parsed_as_runtimes_do(image: str, valid: bool) -> None:
    message = invalid_image_message(image)
    assert (message is None) == valid
    if not valid:
        assert repr(image) in str(message)
        assert "invalid reference format" in str(message)


@pytest.mark.parametrize(
    ("image", "fails"),
    [
        pytest.param("registry.example/app:1", True, id="listed-by-repository"),
        pytest.param("other/app:1", False, id="not-listed"),
        pytest.param("fail.invalid/anything:2", True, id="reserved-invalid-domain"),
        pytest.param("exact:tag", True, id="listed-exactly"),
    ],
)
def test_simulated_pull_failures(image: str, fails: bool) -> None:
    assert pull_fails(image, {"registry.example/app", "exact:tag"}) == fails


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, None, id="no-constraints"),
        pytest.param({"nodeSelector": {"disk": "ssd"}}, None, id="selector-matches"),
        pytest.param(
            {"nodeSelector": {"disk": "hdd"}}, "didn't match Pod's node affinity", id="selector-misses"
        ),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                                {"matchExpressions": [{"key": "disk", "operator": "Exists"}]},
                            ]
                        }
                    }
                }
            },
            None,
            id="affinity-second-term-matches",
        ),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "disk", "operator": "NotIn", "values": ["ssd"]}
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            "didn't match",
            id="affinity-not-in-misses",
        ),
        pytest.param({"tolerations": []}, "untolerated taint {dedicated: gpu}", id="taint-not-tolerated"),
        pytest.param(
            {
                "tolerations": [
                    {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
                ]
            },
            None,
            id="taint-tolerated",
        ),
        pytest.param({"tolerations": [{"operator": "Exists"}]}, None, id="tolerate-everything"),
    ],
)
def test_placement_on_the_one_node(spec: dict[str, Any], expected: str | None) -> None:
    pod = _pod(**spec)
    taints = () if not spec or "tolerations" not in spec else (Taint("dedicated", "gpu", "NoSchedule"),)
    message = unschedulable_message(pod, node_name="kubetask-local", labels={"disk": "ssd"}, taints=taints)
    if expected is None:
        assert message is None
    else:
        assert message is not None
        assert expected in message
        assert message.startswith("0/1 nodes are available")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("64Mi", 64 * 2**20, id="binary"),
        pytest.param("1G", 10**9, id="decimal"),
        pytest.param("1.5Gi", int(1.5 * 2**30), id="fraction"),
        pytest.param("129e6", 129 * 10**6, id="exponent"),
        pytest.param("500m", decimal.Decimal("0.5"), id="milli"),
        pytest.param(128, 128, id="plain-number"),
    ],
)
def test_quantities(text: object, expected: object) -> None:
    assert parse_quantity(text, field="limits.memory") == expected


def test_a_bad_quantity_names_the_field_and_value() -> None:
    with pytest.raises(QuantityError, match=r"containers\[main\]\.resources\.limits\.memory: '12 parsecs'"):
        memory_limit_bytes({"name": "main", "resources": {"limits": {"memory": "12 parsecs"}}})


def test_qos_classes() -> None:
    assert qos_class(_pod()) == "BestEffort"
    guaranteed = {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert qos_class(_pod(containers=[{"name": "a", "resources": guaranteed}])) == "Guaranteed"
    assert qos_class(_pod(containers=[{"name": "a", "resources": {"requests": {"cpu": "1"}}}])) == "Burstable"


# ---------------------------------------------------------------- environment


def test_env_order_expansion_and_references() -> None:
    container = {
        "name": "main",
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}, {"secretRef": {"name": "s"}}],
        "env": [
            {"name": "GREETING", "value": "hello $(NAME) $$(NAME) $(UNDEFINED)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "KEY", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "NAME"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
            {"name": "MAYBE", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
        ],
        "resources": {"limits": {"memory": "64Mi"}},
    }
    objects = {
        ("ConfigMap", "cm"): {"data": {"NAME": "world", "bad key": "skipped"}},
        ("Secret", "s"): {"data": {"password": base64.b64encode(b"s3cret").decode(), "NAME": "c2VjcmV0"}},
    }
    env = resolve_env(_pod(), container, objects=objects, network=NETWORK)
    assert env == {
        "CM_NAME": "world",
        "password": "s3cret",
        "NAME": "secret",
        "GREETING": "hello secret $(NAME) $(UNDEFINED)",
        "POD": "p",
        "APP": "x",
        "IP": "127.0.0.1",
        "KEY": "world",
        "PASSWORD": "s3cret",
        "MEM": "64Mi",
    }
    assert referenced_objects(_pod(containers=[container])) == {
        ("ConfigMap", "cm"),
        ("Secret", "s"),
        ("Secret", "gone"),
    }


@pytest.mark.parametrize(
    ("env", "objects", "message"),
    [
        pytest.param(
            [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
            {},
            'configmap "cm" not found',
            id="missing-configmap",
        ),
        pytest.param(
            [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            {("Secret", "s"): {"data": {}}},
            "couldn't find key k in Secret ns/s",
            id="missing-key",
        ),
    ],
)
def test_missing_references_are_config_errors(env: list[Any], objects: dict[Any, Any], message: str) -> None:
    with pytest.raises(PodConfigError, match=message) as raised:
        resolve_env(_pod(), {"name": "main", "env": env}, objects=objects, network=NETWORK)
    assert raised.value.reason == "CreateContainerConfigError"


# The kubelet's expansion, case by case from its own table
# (third_party/forked/golang/expansion/expand_test.go, doExpansionTest): defined $(NAME) replaced,
# undefined left as written, $$ -> $, nothing else special.
_EXPANSION_VARIABLES = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$(VAR_A)", "A", id="whole-string"),
        pytest.param("$(VAR_A)-$(VAR_A)", "A-A", id="repeat"),
        pytest.param("___$(VAR_B)___", "___B___", id="middle"),
        pytest.param("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A", id="escape-and-expand"),
        pytest.param("f000-$$VAR_A", "f000-$VAR_A", id="mixed-in-escapes"),
        pytest.param("foo\\$(VAR_C)bar", "foo\\Cbar", id="backslash-ignored"),
        pytest.param("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))", id="nested"),
        pytest.param("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)", id="nested-second-type"),
        pytest.param("$(VAR_REF)", "$(VAR_A)", id="value-is-a-reference"),
        pytest.param("foo$(VAR_EMPTY)bar", "foobar", id="empty-var"),
        pytest.param("foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!", id="unterminated"),
        pytest.param("$?_boo_$!", "$?_boo_$!", id="shell-specials"),
        pytest.param("$VAR_A", "$VAR_A", id="bare-operator"),
        pytest.param("$(VAR_DNE)", "$(VAR_DNE)", id="undefined"),
        pytest.param("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)", id="even-operators-undefined"),
        pytest.param("$$$$$$(VAR_A)", "$$$(VAR_A)", id="even-operators-defined"),
        pytest.param("$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)", id="odd-operators-undefined"),
        pytest.param("$$$$$$$(VAR_A)", "$$$A", id="odd-operators-defined"),
        pytest.param("${VAR_A}", "${VAR_A}", id="shell-syntax"),
        pytest.param("$(VAR_B)_______$(A", "B_______$(A", id="trailing-incomplete"),
        pytest.param("$(VAR_C)_______$(", "C_______$(", id="trailing-incomplete-empty"),
        pytest.param("$(VAR_A)foobarzab$", "Afoobarzab$", id="operator-at-end"),
        pytest.param("--$($($($($--", "--$($($($($--", id="lots-of-openers"),
        pytest.param("$(foo$$var)", "$(foo$$var)", id="escaped-operators-in-names"),
        pytest.param("\n", "\n", id="newline"),
    ],
)
def test_expansion_is_the_kubelets(text: str, expected: str) -> None:
    assert expand(text, _EXPANSION_VARIABLES) == expected


# ---------------------------------------------------------------- volumes and paths


def test_volumes_materialise_and_mount_paths_map(tmp_path: Path) -> None:
    pod = _pod(
        volumes=[
            {
                "name": "inputs",
                "configMap": {"name": "cm", "items": [{"key": "inputs.json", "path": "inputs.json"}]},
            },
            {"name": "creds", "secret": {"secretName": "s", "defaultMode": 0o400}},
            {"name": "scratch", "emptyDir": {}},
            {
                "name": "info",
                "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
            },
        ]
    )
    objects = {
        ("ConfigMap", "cm"): {"data": {"inputs.json": '{"a": 1}'}},
        ("Secret", "s"): {"data": {"token": base64.b64encode(b"t0k").decode()}},
    }
    plans = plan_volumes(pod, objects=objects, network=NETWORK, claims_root=tmp_path / "claims")
    dirs = materialise_volumes(plans, volumes_dir=tmp_path / "volumes")
    assert (dirs["inputs"] / "inputs.json").read_text() == '{"a": 1}'
    assert (dirs["creds"] / "token").read_bytes() == b"t0k"
    assert (dirs["creds"] / "token").stat().st_mode & 0o777 == 0o400
    assert (dirs["info"] / "labels").read_text() == 'app="x"\n'
    container = {
        "name": "main",
        "volumeMounts": [
            {"name": "inputs", "mountPath": "/var/run/kubetask/inputs"},
            {"name": "scratch", "mountPath": "/var/run/kubetask"},
            {"name": "creds", "mountPath": "/etc/creds/"},
        ],
    }
    mapping = mount_mapping(container, volume_dirs=dirs, termination_file=tmp_path / "termination-log")
    inputs, scratch = dirs["inputs"], dirs["scratch"]
    assert map_paths("/var/run/kubetask/inputs/inputs.json", mapping) == f"{inputs}/inputs.json"
    assert map_paths("--out=/var/run/kubetask/out", mapping) == f"--out={scratch}/out"
    assert map_paths("cat /etc/creds/token /etc/credsX", mapping) == f"cat {dirs['creds']}/token /etc/credsX"
    assert map_paths("/dev/termination-log", mapping) == str(tmp_path / "termination-log")
    assert map_paths("x/var/run/kubetask", mapping) == "x/var/run/kubetask"


def test_a_missing_volume_source_is_a_mount_failure(tmp_path: Path) -> None:
    pod = _pod(volumes=[{"name": "v", "configMap": {"name": "absent"}}])
    with pytest.raises(PodConfigError, match='volume "v" : configmap "absent" not found') as raised:
        plan_volumes(pod, objects={}, network=NETWORK, claims_root=tmp_path)
    assert (raised.value.reason, raised.value.event) == ("ContainerCreating", "FailedMount")
    optional = _pod(volumes=[{"name": "v", "configMap": {"name": "absent", "optional": True}}])
    assert plan_volumes(optional, objects={}, network=NETWORK, claims_root=tmp_path)[0].files == ()


def test_an_unsupported_volume_type_says_what_is_supported(tmp_path: Path) -> None:
    pod = _pod(volumes=[{"name": "v", "nfs": {"server": "x"}}])
    with pytest.raises(PodConfigError, match=r"volume type \['nfs'\] is not supported .*expected emptyDir"):
        plan_volumes(pod, objects={}, network=NETWORK, claims_root=tmp_path)


# ---------------------------------------------------------------- logs and termination messages

RAW = (
    b"2026-01-01T00:00:01.000000000Z stdout F one\n"
    b"2026-01-01T00:00:02.000000000Z stderr P tw\n"
    b"2026-01-01T00:00:02.500000000Z stderr F o\n"
    b"2026-01-01T00:00:03.000000000Z stdout F three\n"
)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, b"one\ntwo\nthree\n", id="all"),
        pytest.param({"tailLines": "2"}, b"two\nthree\n", id="tail"),
        pytest.param({"limitBytes": "5"}, b"one\nt", id="limit-bytes"),
        pytest.param({"sinceTime": "2026-01-01T00:00:02Z"}, b"two\nthree\n", id="since-time"),
        pytest.param(
            {"timestamps": "true", "tailLines": "1"},
            b"2026-01-01T00:00:03.000000000Z three\n",
            id="timestamps",
        ),
    ],
)
def test_logs_are_rendered_as_kubectl_logs_asks(params: dict[str, str], expected: bytes) -> None:
    assert render(RAW, log_options(params)) == expected


def test_termination_message_policy() -> None:
    assert (
        termination_message(file_text="{}", exit_code=1, policy="FallbackToLogsOnError", log_tail="x") == "{}"
    )
    assert termination_message(file_text="", exit_code=1, policy="FallbackToLogsOnError", log_tail="x") == "x"
    assert termination_message(file_text="", exit_code=0, policy="FallbackToLogsOnError", log_tail="x") == ""
    assert termination_message(file_text="", exit_code=1, policy="File", log_tail="x") == ""
    tail = tail_for_message("".join(f"line {i}\n" for i in range(500)))
    assert tail.splitlines()[-1] == "line 499"
    assert len(tail.splitlines()) == 80
    assert len(tail_for_message("y" * 10_000).encode()) == 2048
    assert LogOptions().tail_lines is None


def test_a_host_path_file_is_used_in_place(tmp_path: Path) -> None:
    host_file = tmp_path / "app.ini"
    host_file.write_text("[app]\n")
    pod = _pod(volumes=[{"name": "cfg", "hostPath": {"path": str(host_file), "type": "File"}}])
    plans = plan_volumes(pod, objects={}, network=NETWORK, claims_root=tmp_path / "claims")
    dirs = materialise_volumes(plans, volumes_dir=tmp_path / "volumes")
    container = {"name": "main", "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app.ini"}]}
    mapping = mount_mapping(container, volume_dirs=dirs, termination_file=tmp_path / "termination-log")
    assert map_paths("--config=/etc/app.ini", mapping) == f"--config={host_file}"
    assert host_file.read_text() == "[app]\n"
