"""The operator's pod and the helm-test pod are hardened: the restricted Pod Security Standard and more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Render = Callable[..., list[dict[str, Any]]]


def _pods(documents: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every pod the chart makes, directly or through a Deployment."""
    pods = []
    for document in documents:
        if document["kind"] == "Deployment":
            pods.append((document["metadata"]["name"], document["spec"]["template"]["spec"]))
        elif document["kind"] == "Pod":
            pods.append((document["metadata"]["name"], document["spec"]))
    return pods


def test_every_pod_runs_non_root_with_runtime_default_seccomp(
    render_chart: Render, chart_values: dict[str, Any]
) -> None:
    pods = _pods(render_chart(chart_values))
    assert pods
    for name, spec in pods:
        pod_context = spec["securityContext"]
        assert pod_context["runAsNonRoot"] is True, name
        assert pod_context["runAsUser"] != 0, name
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(flag), (name, flag)
        assert not [v for v in spec.get("volumes", []) if "hostPath" in v], name


def test_every_container_is_locked_down(render_chart: Render, chart_values: dict[str, Any]) -> None:
    for name, spec in _pods(render_chart(chart_values)):
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context.get("privileged", False) is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            # A read-only root needs somewhere to write: a private, size-limited emptyDir on /tmp.
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert volumes[mounts["/tmp"]]["emptyDir"]["sizeLimit"], name


def test_every_container_has_resources_with_a_memory_limit(
    render_chart: Render, chart_values: dict[str, Any]
) -> None:
    for name, spec in _pods(render_chart(chart_values)):
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert "memory" in resources["limits"], name


def test_the_operator_has_a_liveness_probe_on_its_liveness_endpoint(render_chart: Render) -> None:
    values = {"operator": {"livenessPort": 9000}, "livenessProbe": {"periodSeconds": 7}}
    deployment = next(d for d in render_chart(values) if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    probe = container["livenessProbe"]
    assert probe["httpGet"] == {"path": "/healthz", "port": "liveness"}
    assert probe["periodSeconds"] == 7
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["liveness"] == 9000
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KUBETASK_LIVENESS_PORT"] == "9000"


def test_a_security_context_can_be_tightened_but_the_defaults_stay_strict(render_chart: Render) -> None:
    values = {
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "Localhost", "localhostProfile": "operator.json"},
        }
    }
    deployment = next(d for d in render_chart(values) if d["kind"] == "Deployment")
    context = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert context["seccompProfile"] == {"type": "Localhost", "localhostProfile": "operator.json"}


def _operator_env(deployment: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_replicas_elect_one_active_operator(render_chart: Render) -> None:
    # Leader election by default: extra replicas stand by, and upgrades overlap safely (the new pod waits
    # for the old one to release the Lease).
    deployment = next(d for d in render_chart({"replicas": 3}) if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert _operator_env(deployment)["KUBETASK_LEADER_ELECTION"]["value"] == "true"


def test_without_leader_election_one_operator_and_no_overlap(render_chart: Render) -> None:
    deployment = next(
        d for d in render_chart({"leaderElection": {"enabled": False}}) if d["kind"] == "Deployment"
    )
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    env = _operator_env(deployment)
    assert env["KUBETASK_LEADER_ELECTION"]["value"] == "false"
    assert "KUBETASK_LEADER_ELECTION_NAMESPACE" not in env
