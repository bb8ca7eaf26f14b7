"""The pod builder: every spec field lands in the pod, and every pod validates against the official schema."""

from __future__ import annotations

import base64
import json
from typing import Any

import kubernetes_validate
import pytest

import kubetask
from kubetask_operator._errors import InvalidSpecError
from kubetask_operator._naming import pod_name
from kubetask_operator._pods import (
    INPUTS_MOUNT,
    SCRATCH_OUTPUT_PREFIX,
    TaskRunRef,
    build_inputs_configmap,
    build_pod,
    needs_inputs_configmap,
)
from kubetask_operator._settings import Settings
from kubetask_operator._spec import TaskRunSpec, parse_spec

REF = TaskRunRef(name="demo", namespace="team", uid="0b7c8a52-1111-2222-3333-444455556666")
BASE: dict[str, Any] = {"image": "registry.example/app:1.0", "task": {"module": "pkg.tasks", "name": "add"}}


def _build(
    spec: dict[str, Any] | None = None, *, settings: Settings | None = None, attempt: int = 1
) -> dict[str, Any]:
    merged = {key: value for key, value in {**BASE, **(spec or {})}.items() if value is not None}
    pod = build_pod(parse_spec(merged), REF, settings or Settings(), attempt)
    kubernetes_validate.validate(pod, "1.30", strict=True)
    return pod


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["spec"]["containers"]
    return container


def _argument(container: dict[str, Any], flag: str) -> str | None:
    command = container["command"]
    return command[command.index(flag) + 1] if flag in command else None


def test_the_pod_runs_the_runtime_command_with_the_task_loader_args() -> None:
    container = _container(_build({"inputs": {"a": 1}}))
    spec = parse_spec({**BASE, "inputs": {"a": 1}})
    assert container["command"] == kubetask.build_execute_command(
        inputs=kubetask.data_uri(b'{"a":1}'),
        output_prefix=SCRATCH_OUTPUT_PREFIX,
        loader_args=["task-module", "pkg.tasks", "task-name", "add"],
        resolver=spec.resolver,
    )


def test_a_custom_resolver_and_loader_args_go_to_the_command() -> None:
    spec = {"task": None, "resolver": "pkg.registry.resolver", "loaderArgs": ["key", "x"]}
    container = _container(_build(spec))
    assert _argument(container, "--resolver") == "pkg.registry.resolver"
    assert container["command"][-3:] == ["--", "key", "x"]


@pytest.mark.parametrize(
    ("spec", "flag", "expected"),
    [
        pytest.param(
            {"task": None, "loaderArgs": ["key", "greet/$(KUBETASK_ATTEMPT)"]},
            "--",
            "greet/$$(KUBETASK_ATTEMPT)",
            id="loader-arg-reference",
        ),
        pytest.param(
            {"task": None, "loaderArgs": ["key", "a$$b$"]}, "--", "a$$$$b$$", id="loader-arg-dollars"
        ),
        pytest.param(
            {"outputPrefix": "s3://b/$(HOME)/x"}, "--output-prefix", "s3://b/$$(HOME)/x/1", id="prefix"
        ),
        pytest.param({"inputsFrom": "s3://b/$$in.json"}, "--inputs", "s3://b/$$$$in.json", id="inputs-from"),
    ],
)
def test_every_user_string_in_the_command_is_escaped_from_kubelet_expansion(
    spec: dict[str, Any], flag: str, expected: str
) -> None:
    # The kubelet replaces $(VAR) in command and args and turns $$ into $ (kubernetes/kubernetes
    # third_party/forked/golang/expansion/expand.go); escaped, each argument reaches kubetask-execute as
    # written (test_e2e_command.py runs it).
    command = _container(_build(spec))["command"]
    if flag == "--":
        assert command[-1] == expected
    else:
        assert _argument({"command": command}, flag) == expected
    assert not any("$" in argument.replace("$$", "") for argument in command)


def test_identity_restart_policy_owner_and_labels() -> None:
    pod = _build(attempt=3)
    assert pod["metadata"]["name"] == pod_name("demo", REF.uid, 3)
    assert pod["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "kubetask-operator",
        "kubetask.dev/taskrun": "demo",
        "kubetask.dev/taskrun-uid": REF.uid,
        "kubetask.dev/attempt": "3",
    }
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "kubetask.dev/v1alpha1",
            "kind": "TaskRun",
            "name": "demo",
            "uid": REF.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert _container(pod)["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_the_runtime_is_told_the_containers_termination_message_path() -> None:
    container = _container(_build())
    told = {e["name"]: e["value"] for e in container["env"]}["KUBETASK_TERMINATION_MESSAGE_PATH"]
    assert told == container["terminationMessagePath"] == "/dev/termination-log"


def test_env_names_the_run_and_the_attempt_before_the_users_env() -> None:
    container = _container(
        _build(
            {"env": [{"name": "A", "value": "1"}], "envFrom": [{"secretRef": {"name": "creds"}}]}, attempt=2
        )
    )
    assert container["env"] == [
        {"name": "KUBETASK_RUN_NAME", "value": "demo"},
        {"name": "KUBETASK_NAMESPACE", "value": "team"},
        {"name": "KUBETASK_ATTEMPT", "value": "2"},
        {"name": "KUBETASK_TERMINATION_MESSAGE_PATH", "value": "/dev/termination-log"},
        {"name": "A", "value": "1"},
    ]
    assert container["envFrom"] == [{"secretRef": {"name": "creds"}}]


def test_secure_container_defaults_that_the_template_can_override() -> None:
    default = _container(_build())["securityContext"]
    assert default == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    overridden = _container(
        _build(
            {"podTemplate": {"securityContext": {"runAsNonRoot": False, "runAsUser": 0}}},
            settings=Settings(pod_security_level="privileged"),
        )
    )
    assert overridden["securityContext"]["runAsNonRoot"] is False
    assert overridden["securityContext"]["runAsUser"] == 0
    assert overridden["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_every_pod_template_field_reaches_the_pod() -> None:
    template = {
        "labels": {"team": "data"},
        "annotations": {"note": "x"},
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
        "volumes": [{"name": "data", "emptyDir": {}}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "podSecurityContext": {"fsGroup": 1000},
        "imagePullSecrets": [{"name": "regcred"}],
        "priorityClassName": "batch",
        "runtimeClassName": "gvisor",
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}
        ],
    }
    pod = _build(
        {
            "podTemplate": template,
            "serviceAccountName": "runner",
            "imagePullPolicy": "Always",
            "resources": {"limits": {"memory": "1Gi"}},
        },
        settings=Settings(service_accounts=frozenset({"team/runner"})),
    )
    spec, container = pod["spec"], _container(pod)
    assert pod["metadata"]["labels"]["team"] == "data"
    assert pod["metadata"]["annotations"]["note"] == "x"
    for key in (
        "nodeSelector",
        "tolerations",
        "affinity",
        "imagePullSecrets",
        "priorityClassName",
        "runtimeClassName",
        "topologySpreadConstraints",
    ):
        assert spec[key] == template[key], key
    assert spec["securityContext"] == {"fsGroup": 1000}
    assert {"name": "data", "emptyDir": {}} in spec["volumes"]
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert spec["serviceAccountName"] == "runner"
    assert spec["automountServiceAccountToken"] is True
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == {"limits": {"memory": "1Gi"}}


def test_template_labels_cannot_hide_the_pod_from_the_operator() -> None:
    pod = _build(
        {"podTemplate": {"labels": {"app.kubernetes.io/managed-by": "someone", "kubetask.dev/attempt": "9"}}}
    )
    assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubetask-operator"
    assert pod["metadata"]["labels"]["kubetask.dev/attempt"] == "1"


def test_default_resources_apply_only_without_spec_resources() -> None:
    settings = Settings(default_resources={"requests": {"cpu": "100m"}})
    assert _container(_build(settings=settings))["resources"] == {"requests": {"cpu": "100m"}}
    own = _container(_build({"resources": {"requests": {"cpu": "2"}}}, settings=settings))
    assert own["resources"] == {"requests": {"cpu": "2"}}
    assert "resources" not in _container(_build())


def test_no_service_account_token_unless_a_service_account_is_asked_for() -> None:
    assert _build()["spec"]["automountServiceAccountToken"] is False


def test_storage_gives_each_attempt_its_own_prefix_and_checkpoints() -> None:
    container = _container(_build(settings=Settings(storage_prefix="s3://bucket/runs"), attempt=2))
    assert _argument(container, "--output-prefix") == "s3://bucket/runs/team/demo/2"
    assert _argument(container, "--checkpoint-path") == "s3://bucket/runs/team/demo/2/checkpoint"
    assert _argument(container, "--prev-checkpoint") == "s3://bucket/runs/team/demo/1/checkpoint"
    own = _container(_build({"outputPrefix": "gs://mine/x/"}, attempt=1))
    assert _argument(own, "--output-prefix") == "gs://mine/x/1"
    assert _argument(own, "--prev-checkpoint") is None


def test_the_storage_secret_comes_first_so_the_taskruns_own_env_wins() -> None:
    settings = Settings(storage_prefix="s3://bucket/runs", storage_secret="kubetask-storage")
    assert _container(_build(settings=settings))["envFrom"] == [{"secretRef": {"name": "kubetask-storage"}}]
    own = {
        "envFrom": [{"secretRef": {"name": "my-bucket"}}, {"configMapRef": {"name": "cfg"}}],
        "env": [{"name": "AWS_ACCESS_KEY_ID", "value": "mine"}],
    }
    container = _container(_build(own, settings=settings))
    assert container["envFrom"] == [
        {"secretRef": {"name": "kubetask-storage"}},
        {"secretRef": {"name": "my-bucket"}},
        {"configMapRef": {"name": "cfg"}},
    ]
    assert {"name": "AWS_ACCESS_KEY_ID", "value": "mine"} in container["env"]
    assert "envFrom" not in _container(_build())


def test_without_storage_outputs_go_to_scratch_space() -> None:
    container = _container(_build())
    assert _argument(container, "--output-prefix") == SCRATCH_OUTPUT_PREFIX
    assert _argument(container, "--checkpoint-path") is None


def test_inputs_from_a_uri_are_passed_as_they_are() -> None:
    assert _argument(_container(_build({"inputsFrom": "s3://b/in.json"})), "--inputs") == "s3://b/in.json"


def test_small_inputs_travel_inline_as_a_data_uri() -> None:
    uri = _argument(_container(_build({"inputs": {"name": "wörld"}})), "--inputs")
    assert uri is not None
    assert uri.startswith("data:application/json;base64,")
    assert json.loads(base64.b64decode(uri.split(",", 1)[1])) == {"name": "wörld"}


def test_large_inputs_travel_in_a_configmap_owned_by_the_taskrun() -> None:
    inputs = {"blob": "x" * (1024 * 1024 - 100)}
    spec = parse_spec({**BASE, "inputs": inputs})
    settings = Settings()
    assert needs_inputs_configmap(spec, settings)
    pod = _build({"inputs": inputs})
    container = _container(pod)
    assert _argument(container, "--inputs") == f"{INPUTS_MOUNT}/inputs.json"
    assert {"name": "kubetask-inputs", "mountPath": INPUTS_MOUNT, "readOnly": True} in container[
        "volumeMounts"
    ]
    configmap = build_inputs_configmap(spec, REF)
    kubernetes_validate.validate(configmap, "1.30", strict=True)
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "kubetask-inputs")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert json.loads(configmap["data"]["inputs.json"]) == inputs
    assert configmap["metadata"]["ownerReferences"][0]["uid"] == REF.uid


def test_the_pod_has_a_backstop_deadline_only_with_both_timeouts() -> None:
    assert "activeDeadlineSeconds" not in _build({"timeout": "1m"})["spec"]
    assert _build({"timeout": "1m", "pendingTimeout": "30s"})["spec"]["activeDeadlineSeconds"] == 150


@pytest.mark.parametrize("name", ["a", "x" * 253, "my.dotted.name", "UPPER-not-allowed-but-handled"])
def test_pod_names_are_dns_labels_of_at_most_63_characters(name: str) -> None:
    for attempt in (1, 10, 100):
        pod = build_pod(
            parse_spec(BASE), TaskRunRef(name=name, namespace="team", uid=REF.uid), Settings(), attempt
        )
        assert len(pod["metadata"]["name"]) <= 63
        kubernetes_validate.validate(pod, "1.30", strict=True)
    assert pod_name(name, REF.uid, 1) != pod_name(name, REF.uid, 2)
    assert pod_name(name, REF.uid, 1) != pod_name(name, "another-uid", 1)
    assert pod_name(name, REF.uid, 1) == pod_name(name, REF.uid, 1)


def test_spec_defaults() -> None:
    assert parse_spec(BASE) == TaskRunSpec(
        image="registry.example/app:1.0",
        resolver=kubetask.DEFAULT_RESOLVER,
        loader_args=("task-module", "pkg.tasks", "task-name", "add"),
    )


# ------------------------------------------------------ policy: Pod Security Standards, ServiceAccounts


def _refusal(spec: dict[str, Any], settings: Settings | None = None) -> str:
    with pytest.raises(InvalidSpecError) as refused:
        _build(spec, settings=settings)
    return str(refused.value)


# What a TaskRun author could ask for before the operator enforced a level; each case names the TaskRun field
# the refusal must name and the lowest Pod Security Standards level that forbids it (the rules of
# k8s.io/pod-security-admission/policy, kubernetes/kubernetes staging/src/k8s.io/pod-security-admission).
FORBIDDEN = [
    pytest.param(
        {"securityContext": {"privileged": True}}, "securityContext.privileged", "baseline", id="privileged"
    ),
    pytest.param(
        {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}},
        "securityContext.capabilities.add[0]",
        "baseline",
        id="sys-admin",
    ),
    pytest.param(
        {"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
        "securityContext.seccompProfile.type",
        "baseline",
        id="seccomp-unconfined",
    ),
    pytest.param(
        {"volumes": [{"name": "root", "hostPath": {"path": "/"}}], "volumeMounts": []},
        "volumes[0].hostPath",
        "baseline",
        id="host-path",
    ),
    pytest.param(
        {"securityContext": {"procMount": "Unmasked"}}, "securityContext.procMount", "baseline", id="proc"
    ),
    pytest.param(
        {"podSecurityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}},
        "podSecurityContext.sysctls[0].name",
        "baseline",
        id="unsafe-sysctl",
    ),
    pytest.param(
        {"podSecurityContext": {"seLinuxOptions": {"type": "spc_t"}}},
        "podSecurityContext.seLinuxOptions.type",
        "baseline",
        id="selinux-type",
    ),
    pytest.param(
        {"annotations": {"container.apparmor.security.beta.kubernetes.io/task": "unconfined"}},
        "annotations[container.apparmor.security.beta.kubernetes.io/task]",
        "baseline",
        id="apparmor-annotation",
    ),
    pytest.param(
        {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
        "securityContext.appArmorProfile.type",
        "baseline",
        id="apparmor-field",
    ),
    pytest.param(
        {"securityContext": {"windowsOptions": {"hostProcess": True}}},
        "securityContext.windowsOptions.hostProcess",
        "baseline",
        id="windows-host-process",
    ),
    pytest.param(
        {"securityContext": {"runAsUser": 0}}, "securityContext.runAsUser", "restricted", id="uid-0"
    ),
    pytest.param(
        {"podSecurityContext": {"runAsUser": 0}}, "podSecurityContext.runAsUser", "restricted", id="pod-uid-0"
    ),
    pytest.param(
        {"securityContext": {"runAsNonRoot": False}}, "securityContext.runAsNonRoot", "restricted", id="root"
    ),
    pytest.param(
        {"securityContext": {"allowPrivilegeEscalation": True}},
        "securityContext.allowPrivilegeEscalation",
        "restricted",
        id="privilege-escalation",
    ),
    pytest.param(
        {"securityContext": {"capabilities": {"drop": []}}},
        "securityContext.capabilities.drop",
        "restricted",
        id="capabilities-kept",
    ),
    pytest.param(
        {"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}},
        "securityContext.capabilities.add[0]",
        "restricted",
        id="default-capability-added",
    ),
    pytest.param(
        {"volumes": [{"name": "share", "nfs": {"server": "nfs.example", "path": "/"}}]},
        "volumes[0].nfs",
        "restricted",
        id="nfs-volume",
    ),
]


@pytest.mark.parametrize(("template", "field", "forbidden_from"), FORBIDDEN)
def test_a_pod_breaking_the_enforced_level_is_refused_naming_the_field_and_the_level(
    template: dict[str, Any], field: str, forbidden_from: str
) -> None:
    for level in ("baseline", "restricted"):
        settings = Settings(pod_security_level=level)  # type: ignore[arg-type]
        if level == "baseline" and forbidden_from == "restricted":
            _build({"podTemplate": template}, settings=settings)  # allowed at baseline
            continue
        message = _refusal({"podTemplate": template}, settings)
        assert message.startswith(f"spec.podTemplate.{field}: expected "), message
        assert f"level {level!r}" in message, message
        assert "namespace 'team'" in message, message
    _build({"podTemplate": template}, settings=Settings(pod_security_level="privileged"))


def test_the_default_pod_meets_restricted_and_a_template_may_tighten_it() -> None:
    _build()
    _build(
        {
            "podTemplate": {
                "securityContext": {
                    "runAsUser": 1000,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                    "seccompProfile": {"type": "Localhost", "localhostProfile": "task.json"},
                },
                "podSecurityContext": {"runAsNonRoot": True, "fsGroup": 1000},
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
                "annotations": {"container.apparmor.security.beta.kubernetes.io/task": "runtime/default"},
            }
        }
    )


def test_each_namespace_may_have_its_own_level() -> None:
    settings = Settings(pod_security_levels={"team": "privileged"})
    _build({"podTemplate": {"securityContext": {"privileged": True}}}, settings=settings)
    elsewhere = Settings(pod_security_levels={"other": "privileged"})
    assert "level 'restricted'" in _refusal(
        {"podTemplate": {"securityContext": {"privileged": True}}}, elsewhere
    )


def test_every_field_breaking_the_level_is_named_at_once() -> None:
    message = _refusal({"podTemplate": {"securityContext": {"privileged": True, "runAsUser": 0}}})
    assert "spec.podTemplate.securityContext.privileged" in message
    assert "spec.podTemplate.securityContext.runAsUser" in message


@pytest.mark.parametrize(
    ("allowed", "account", "accepted"),
    [
        pytest.param(frozenset(), "default", False, id="none-allowed-by-default"),
        pytest.param(frozenset({"runner"}), "runner", True, id="name-in-any-namespace"),
        pytest.param(frozenset({"team/runner"}), "runner", True, id="namespace-and-name"),
        pytest.param(frozenset({"other/runner"}), "runner", False, id="another-namespaces-account"),
        pytest.param(frozenset({"runner"}), "admin", False, id="not-listed"),
    ],
)
def test_service_accounts_come_from_an_allow_list(
    allowed: frozenset[str], account: str, accepted: bool
) -> None:
    settings = Settings(service_accounts=allowed)
    if accepted:
        assert (
            _build({"serviceAccountName": account}, settings=settings)["spec"]["serviceAccountName"]
            == account
        )
    else:
        message = _refusal({"serviceAccountName": account}, settings)
        assert message.startswith("spec.serviceAccountName: expected a ServiceAccount the operator allows"), (
            message
        )
        assert repr(account) in message
        assert "KUBETASK_SERVICE_ACCOUNTS" in message


def test_without_a_service_account_the_pod_has_no_api_token() -> None:
    spec = _build()["spec"]
    assert "serviceAccountName" not in spec  # the namespace's default ServiceAccount
    assert spec["automountServiceAccountToken"] is False


# ------------------------------------------------------ policy: storage confined per namespace

CONFINED = Settings(storage_prefix="s3://bucket/runs")


@pytest.mark.parametrize(
    ("field", "uri"),
    [
        pytest.param("outputPrefix", "s3://bucket/runs/other/demo", id="another-namespaces-outputs"),
        pytest.param(
            "inputsFrom", "s3://bucket/runs/other/demo/1/outputs.json", id="another-namespaces-inputs"
        ),
        pytest.param("outputPrefix", "s3://bucket/runs/team/../other/x", id="dot-dot"),
        pytest.param("outputPrefix", "s3://bucket/runs/team%2F..%2Fother", id="percent-encoded-dot-dot"),
        pytest.param("outputPrefix", "s3://bucket/runs/teamster/x", id="a-longer-namespace-name"),
        pytest.param("outputPrefix", "s3://bucket/runs", id="the-whole-storage"),
        pytest.param("inputsFrom", "gs://elsewhere/in.json", id="outside-the-storage"),
    ],
)
def test_a_taskrun_cannot_name_storage_outside_its_namespace(field: str, uri: str) -> None:
    message = _refusal({field: uri}, CONFINED)
    assert message.startswith(f"spec.{field}: expected a URI under 's3://bucket/runs/team/'"), message
    assert message.endswith(f"got {uri!r}"), message


@pytest.mark.parametrize(
    ("spec", "settings"),
    [
        pytest.param({"outputPrefix": "s3://bucket/runs/team/mine"}, CONFINED, id="own-outputs"),
        pytest.param({"inputsFrom": "s3://bucket/runs/team/demo/1/outputs.json"}, CONFINED, id="own-inputs"),
        pytest.param({"inputsFrom": "data:application/json,{}"}, CONFINED, id="data-uri"),
        pytest.param(
            {"outputPrefix": "file:///srv/kt/team/x", "inputsFrom": "file://localhost/srv/kt/team/in.json"},
            Settings(storage_prefix="/srv/kt"),
            id="local-storage-as-file-uris",
        ),
        pytest.param(
            {"outputPrefix": "s3://bucket/runs/other/x"},
            Settings(storage_prefix="s3://bucket/runs", storage_confinement="none"),
            id="confinement-off",
        ),
        pytest.param({"outputPrefix": "s3://anywhere/x"}, Settings(), id="no-storage-prefix"),
    ],
)
def test_storage_a_taskrun_may_name(spec: dict[str, Any], settings: Settings) -> None:
    _build(spec, settings=settings)


def test_local_storage_is_confined_however_the_path_is_written() -> None:
    settings = Settings(storage_prefix="/srv/kt")
    for uri in ("/srv/kt/other/x", "file:///srv/kt/other/x", "file:///srv/kt/team/../other"):
        assert _refusal({"outputPrefix": uri}, settings).startswith("spec.outputPrefix: expected a URI under")


# ------------------------------------------------------ spec.podTemplateName: a PodTemplate under the TaskRun


def _pod_template(spec: dict[str, Any], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "gpu", "namespace": "team"},
        "template": {"metadata": metadata or {}, "spec": spec},
    }


def _with_template(
    template: dict[str, Any], spec: dict[str, Any] | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    merged = {**BASE, "podTemplateName": "gpu", **(spec or {})}
    pod = build_pod(parse_spec(merged), REF, settings or Settings(), 1, pod_template=template)
    kubernetes_validate.validate(pod, "1.30", strict=True)
    return pod


def test_a_pod_template_goes_under_the_taskruns_own_fields() -> None:
    template = _pod_template(
        {
            "nodeSelector": {"pool": "gpu", "zone": "a"},
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "priorityClassName": "batch",
            "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "models"}}],
            "containers": [
                {
                    "name": "base",
                    "image": "ignored:1",
                    "command": ["ignored"],
                    "args": ["ignored"],
                    "env": [{"name": "SHARED", "value": "template"}, {"name": "MODE", "value": "template"}],
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    "volumeMounts": [{"name": "models", "mountPath": "/models"}],
                    "securityContext": {"runAsUser": 1000},
                }
            ],
        },
        metadata={"labels": {"team": "ml", "kubetask.dev/attempt": "9"}, "annotations": {"owner": "ml"}},
    )
    pod = _with_template(
        template,
        {
            "env": [{"name": "MODE", "value": "taskrun"}],
            "podTemplate": {"nodeSelector": {"zone": "b"}, "labels": {"team": "search"}},
        },
    )
    spec, container = pod["spec"], _container(pod)
    assert spec["nodeSelector"] == {"pool": "gpu", "zone": "b"}
    assert spec["tolerations"] == template["template"]["spec"]["tolerations"]
    assert spec["priorityClassName"] == "batch"
    assert [v["name"] for v in spec["volumes"]] == ["kubetask-scratch", "models"]
    assert pod["metadata"]["labels"]["team"] == "search"
    assert pod["metadata"]["labels"]["kubetask.dev/attempt"] == "1"
    assert pod["metadata"]["annotations"]["owner"] == "ml"
    assert container["name"] == "task"
    assert container["image"] == BASE["image"]
    assert container["command"][0] == "kubetask-execute"
    assert "args" not in container
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SHARED"] == "template"
    assert env["MODE"] == "taskrun"
    assert [e["name"] for e in container["env"]].count("MODE") == 1
    assert container["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    assert {"name": "models", "mountPath": "/models"} in container["volumeMounts"]
    assert container["securityContext"]["runAsUser"] == 1000
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, "the secure defaults stay"
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False


def test_a_named_pod_template_that_does_not_exist_is_refused() -> None:
    with pytest.raises(InvalidSpecError) as refused:
        build_pod(parse_spec({**BASE, "podTemplateName": "nope"}), REF, Settings(), 1)
    assert str(refused.value) == (
        "spec.podTemplateName: expected the name of a PodTemplate in namespace 'team', got 'nope', "
        "which does not exist there"
    )


def test_a_pod_template_name_must_be_an_object_name() -> None:
    with pytest.raises(InvalidSpecError) as refused:
        parse_spec({**BASE, "podTemplateName": "GPU pool"})
    assert str(refused.value).startswith("spec.podTemplateName: expected the name of a PodTemplate")


def test_a_pod_template_cannot_add_containers() -> None:
    template = _pod_template({"containers": [{"name": "a", "image": "x"}, {"name": "sidecar", "image": "y"}]})
    with pytest.raises(InvalidSpecError) as refused:
        _with_template(template)
    assert "template.spec.containers: expected at most one container" in str(refused.value)
    assert "['a', 'sidecar']" in str(refused.value)


@pytest.mark.parametrize(
    ("template_spec", "named"),
    [
        pytest.param(
            {"hostNetwork": True}, "the pod's spec.hostNetwork (from PodTemplate 'gpu'", id="host-network"
        ),
        pytest.param(
            {"containers": [{"name": "x", "securityContext": {"privileged": True}}]},
            "the pod's spec.containers[0].securityContext.privileged (from PodTemplate 'gpu'",
            id="privileged",
        ),
        pytest.param(
            {"serviceAccountName": "admin"},
            "PodTemplate 'gpu' (spec.podTemplateName): template.spec.serviceAccountName",
            id="service-account",
        ),
        pytest.param(
            {"serviceAccount": "admin"},
            "PodTemplate 'gpu' (spec.podTemplateName): template.spec.serviceAccountName",
            id="deprecated-service-account-alias",
        ),
    ],
)
def test_the_policy_applies_to_what_a_pod_template_brings(template_spec: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidSpecError) as refused:
        _with_template(_pod_template(template_spec))
    assert str(refused.value).startswith(named), str(refused.value)


def test_a_pod_templates_allowed_service_account_gets_its_token() -> None:
    settings = Settings(service_accounts=frozenset({"runner"}))
    spec = _with_template(_pod_template({"serviceAccountName": "runner"}), settings=settings)["spec"]
    assert spec["serviceAccountName"] == "runner"
    assert spec["automountServiceAccountToken"] is True
