"""Every KUBETASK_* variable the chart sets is a setting the operator reads, with a value it accepts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kubetask_operator import Settings, SettingsError, load_settings
from kubetask_operator._settings import LeaderElection

Render = Callable[..., list[dict[str, Any]]]


class _RecordingEnv(dict[str, str]):
    """An environment that remembers which variables were looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("load_settings must look variables up by name, not scan the environment")


def _settings_variables() -> set[str]:
    # Leader election on, so the settings that only matter then are read too.
    env = _RecordingEnv({"KUBETASK_LEADER_ELECTION": "true", "KUBETASK_LEADER_ELECTION_NAMESPACE": "ops"})
    load_settings(env)
    return {name for name in env.read if name.startswith("KUBETASK_")}


def _operator_env(documents: list[dict[str, Any]]) -> dict[str, str]:
    """The operator's KUBETASK_* variables as the kubelet would set them (the pod's namespace resolved)."""
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {}
    for variable in container["env"]:
        if not variable["name"].startswith("KUBETASK_"):
            continue
        if "valueFrom" in variable:
            assert variable["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}, variable
            env[variable["name"]] = deployment["metadata"]["namespace"]
        else:
            env[variable["name"]] = variable["value"]
    return env


def test_every_variable_the_chart_sets_is_a_real_setting(
    render_chart: Render, chart_values: dict[str, Any]
) -> None:
    unknown = set(_operator_env(render_chart(chart_values))) - _settings_variables()
    assert not unknown, f"the chart sets variables the operator never reads: {sorted(unknown)}"


def test_the_chart_can_set_every_setting(render_chart: Render) -> None:
    values = {"operator": {"defaultTaskResources": {"limits": {"memory": "1Gi"}}}}
    unset = _settings_variables() - set(_operator_env(render_chart(values)))
    assert not unset, f"operator settings with no chart value: {sorted(unset)}"


def test_the_operator_accepts_every_rendered_configuration(
    render_chart: Render, chart_values: dict[str, Any]
) -> None:
    try:
        load_settings(_operator_env(render_chart(chart_values)))
    except SettingsError as error:
        pytest.fail(f"the operator would refuse to start: {error}")


def test_values_arrive_as_the_operator_understands_them(render_chart: Render) -> None:
    values = {
        "watchNamespaces": ["team-a", "team-b"],
        "storage": {
            "prefix": "s3://bucket/kubetask/",
            "confinement": "none",
            "credentials": {"secretName": "kubetask-storage"},
        },
        "operator": {
            "logLevel": "debug",
            "logFormat": "json",
            "systemRetries": 5,
            "imagePullGracePeriod": "1m30s",
            "defaultTaskResources": {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}},
            "inlineInputsMaxBytes": 4096,
            "apiConcurrency": 8,
            "livenessPort": 8081,
            "metricsPort": 9090,
            "bindAddress": "::",
        },
        "leaderElection": {"leaseDuration": "30s", "renewDeadline": "20s", "retryPeriod": "5s"},
        "taskPods": {
            "podSecurityLevel": "baseline",
            "namespacePodSecurityLevels": {"infra": "privileged", "ci": "restricted"},
            "serviceAccounts": ["runner", "infra/deployer"],
        },
    }
    settings = load_settings(_operator_env(render_chart(values, namespace="ops", release="prod")))
    assert settings == Settings(
        namespaces=("team-a", "team-b"),
        storage_prefix="s3://bucket/kubetask",
        system_retries=5,
        image_pull_grace_seconds=90.0,
        default_resources={"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}},
        inline_inputs_max_bytes=4096,
        liveness_port=8081,
        metrics_port=9090,
        bind_address="::",
        log_level="DEBUG",
        log_format="json",
        api_concurrency=8,
        storage_secret="kubetask-storage",
        storage_confinement="none",
        leader_election=LeaderElection(
            namespace="ops",
            lease_name="prod-kubetask",
            lease_duration_seconds=30,
            renew_deadline_seconds=20.0,
            retry_period_seconds=5.0,
        ),
        pod_security_level="baseline",
        pod_security_levels={"infra": "privileged", "ci": "restricted"},
        service_accounts=frozenset({"runner", "infra/deployer"}),
    )


def test_the_default_install_is_cluster_wide_with_liveness_on(render_chart: Render) -> None:
    settings = load_settings(_operator_env(render_chart({})))
    assert settings.pod_security_level == "restricted"
    assert not settings.pod_security_levels
    assert not settings.service_accounts
    assert settings.storage_secret is None
    assert settings.clusterwide
    assert settings.liveness_port == 8080
    assert settings.bind_address == "0.0.0.0", "the kubelet's probe reaches the pod's address"
    assert settings.image_pull_grace_seconds == 180.0
