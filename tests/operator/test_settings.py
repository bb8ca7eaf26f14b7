"""Settings come from KUBETASK_* once; every bad value is refused with the variable's name and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetask_operator import Settings, SettingsError, load_settings, main
from kubetask_operator._durations import format_duration, parse_duration
from kubetask_operator._settings import LeaderElection


def test_defaults_watch_all_namespaces_without_storage() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.clusterwide
    assert settings.storage_prefix is None
    assert settings.system_retries == 3
    assert settings.image_pull_grace_seconds == 180
    assert settings.bind_address == "127.0.0.1", "run locally, the endpoints are this machine's only"


def test_every_variable_is_read() -> None:
    settings = load_settings(
        {
            "KUBETASK_NAMESPACES": "team-a, team-b",
            "KUBETASK_STORAGE_PREFIX": "s3://bucket/runs/",
            "KUBETASK_SYSTEM_RETRIES": "5",
            "KUBETASK_IMAGE_PULL_GRACE": "1m30s",
            "KUBETASK_DEFAULT_RESOURCES": '{"requests": {"cpu": "100m", "memory": 128}}',
            "KUBETASK_INLINE_INPUTS_MAX_BYTES": "1024",
            "KUBETASK_LIVENESS_PORT": "8080",
            "KUBETASK_METRICS_PORT": "9090",
            "KUBETASK_LOG_LEVEL": "debug",
            "KUBETASK_LOG_FORMAT": "JSON",
            "KUBETASK_API_CONCURRENCY": "16",
            "KUBETASK_STORAGE_SECRET": "kubetask-storage",
            "KUBETASK_STORAGE_CONFINEMENT": "None",
            "KUBETASK_BIND_ADDRESS": " 0.0.0.0 ",
        }
    )
    assert settings == Settings(
        namespaces=("team-a", "team-b"),
        storage_prefix="s3://bucket/runs",
        system_retries=5,
        image_pull_grace_seconds=90,
        default_resources={"requests": {"cpu": "100m", "memory": "128"}},
        inline_inputs_max_bytes=1024,
        liveness_port=8080,
        metrics_port=9090,
        log_level="DEBUG",
        log_format="json",
        api_concurrency=16,
        storage_secret="kubetask-storage",
        storage_confinement="none",
        bind_address="0.0.0.0",
    )
    assert not settings.clusterwide


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        pytest.param(
            "KUBETASK_SYSTEM_RETRIES", "three", "an integer from 0 to 100", id="retries-not-a-number"
        ),
        pytest.param("KUBETASK_SYSTEM_RETRIES", "-1", "an integer from 0 to 100", id="retries-negative"),
        pytest.param("KUBETASK_IMAGE_PULL_GRACE", "3 minutes", "a duration", id="grace-not-a-duration"),
        pytest.param("KUBETASK_NAMESPACES", "Team_A", "DNS labels", id="namespace-not-a-dns-label"),
        pytest.param("KUBETASK_STORAGE_PREFIX", "bucket/runs", "a URI", id="prefix-not-a-uri"),
        pytest.param("KUBETASK_DEFAULT_RESOURCES", "cpu=1", "not JSON", id="resources-not-json"),
        pytest.param(
            "KUBETASK_DEFAULT_RESOURCES", '{"cpu": "1"}', "expected JSON like", id="resources-wrong-shape"
        ),
        pytest.param("KUBETASK_LIVENESS_PORT", "70000", "from 0 to 65535", id="port-out-of-range"),
        pytest.param("KUBETASK_LOG_LEVEL", "LOUD", "one of DEBUG", id="log-level"),
        pytest.param(
            "KUBETASK_STORAGE_SECRET", "Storage_Creds", "an object name", id="storage-secret-not-a-name"
        ),
        pytest.param("KUBETASK_LOG_FORMAT", "xml", "one of plain", id="log-format"),
        pytest.param(
            "KUBETASK_INLINE_INPUTS_MAX_BYTES", "1000000", "an integer from 0", id="inline-too-large"
        ),
        pytest.param("KUBETASK_POD_SECURITY_LEVEL", "strict", "privileged, baseline, restricted", id="level"),
        pytest.param(
            "KUBETASK_POD_SECURITY_NAMESPACES", "team-a:baseline", "NAMESPACE=LEVEL", id="namespace-levels"
        ),
        pytest.param(
            "KUBETASK_POD_SECURITY_NAMESPACES", "team-a=open", "a Pod Security Standards level", id="ns-level"
        ),
        pytest.param("KUBETASK_SERVICE_ACCOUNTS", "Team/runner", "NAMESPACE/NAME", id="service-account"),
        pytest.param("KUBETASK_STORAGE_CONFINEMENT", "bucket", "one of namespace, none", id="confinement"),
        pytest.param("KUBETASK_BIND_ADDRESS", "localhost", "an IP address", id="bind-address-not-an-ip"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(variable: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({variable: value})
    assert str(raised.value).startswith(f"{variable}={value!r}: ")
    assert expected in str(raised.value)


def test_task_pods_are_restricted_with_no_service_account_unless_configured() -> None:
    default = load_settings({})
    assert default.pod_security_level_of("any") == "restricted"
    assert not default.allows_service_account("any", "default")
    settings = load_settings(
        {
            "KUBETASK_POD_SECURITY_LEVEL": "Baseline",
            "KUBETASK_POD_SECURITY_NAMESPACES": "infra=privileged, ci = restricted",
            "KUBETASK_SERVICE_ACCOUNTS": "runner, infra/deployer",
        }
    )
    assert settings.pod_security_level_of("team") == "baseline"
    assert settings.pod_security_level_of("infra") == "privileged"
    assert settings.pod_security_level_of("ci") == "restricted"
    assert settings.allows_service_account("team", "runner")
    assert settings.allows_service_account("infra", "deployer")
    assert not settings.allows_service_account("team", "deployer")


def test_leader_election_is_off_unless_asked_for() -> None:
    assert load_settings({}).leader_election is None
    assert load_settings({"KUBETASK_LEADER_ELECTION": "false"}).leader_election is None


def test_leader_election_settings() -> None:
    on = {"KUBETASK_LEADER_ELECTION": "true", "KUBETASK_LEADER_ELECTION_NAMESPACE": "ops"}
    assert load_settings(on).leader_election == LeaderElection(
        namespace="ops",
        lease_name="kubetask-operator",
        lease_duration_seconds=15,
        renew_deadline_seconds=10.0,
        retry_period_seconds=2.0,
    )
    tuned = {
        **on,
        "KUBETASK_LEADER_ELECTION": "On",
        "KUBETASK_LEADER_ELECTION_LEASE": "prod-kubetask",
        "KUBETASK_LEADER_ELECTION_LEASE_DURATION": "1m",
        "KUBETASK_LEADER_ELECTION_RENEW_DEADLINE": "40s",
        "KUBETASK_LEADER_ELECTION_RETRY_PERIOD": "500ms",
    }
    assert load_settings(tuned).leader_election == LeaderElection(
        namespace="ops",
        lease_name="prod-kubetask",
        lease_duration_seconds=60,
        renew_deadline_seconds=40.0,
        retry_period_seconds=0.5,
    )


_ON = {"KUBETASK_LEADER_ELECTION": "true", "KUBETASK_LEADER_ELECTION_NAMESPACE": "ops"}


@pytest.mark.parametrize(
    ("env", "variable", "value", "expected"),
    [
        pytest.param(
            {"KUBETASK_LEADER_ELECTION": "maybe"},
            "KUBETASK_LEADER_ELECTION",
            "maybe",
            "expected true or false",
            id="not-a-boolean",
        ),
        pytest.param(
            {"KUBETASK_LEADER_ELECTION": "true"},
            "KUBETASK_LEADER_ELECTION_NAMESPACE",
            "",
            "required when KUBETASK_LEADER_ELECTION is on",
            id="namespace-missing",
        ),
        pytest.param(
            {**_ON, "KUBETASK_LEADER_ELECTION_NAMESPACE": "Ops"},
            "KUBETASK_LEADER_ELECTION_NAMESPACE",
            "Ops",
            "the namespace of the Lease",
            id="namespace-not-a-dns-label",
        ),
        pytest.param(
            {**_ON, "KUBETASK_LEADER_ELECTION_LEASE": "Lease_1"},
            "KUBETASK_LEADER_ELECTION_LEASE",
            "Lease_1",
            "an object name",
            id="lease-name",
        ),
        pytest.param(
            {**_ON, "KUBETASK_LEADER_ELECTION_LEASE_DURATION": "15.5s"},
            "KUBETASK_LEADER_ELECTION_LEASE_DURATION",
            "15.5s",
            "whole seconds",
            id="duration-not-whole-seconds",
        ),
        pytest.param(
            {**_ON, "KUBETASK_LEADER_ELECTION_LEASE_DURATION": "soon"},
            "KUBETASK_LEADER_ELECTION_LEASE_DURATION",
            "soon",
            "a duration",
            id="duration-not-a-duration",
        ),
        pytest.param(
            {**_ON, "KUBETASK_LEADER_ELECTION_RENEW_DEADLINE": "15s"},
            "KUBETASK_LEADER_ELECTION_RENEW_DEADLINE",
            "15s",
            "less than KUBETASK_LEADER_ELECTION_LEASE_DURATION (15s)",
            id="renew-deadline-not-below-duration",
        ),
        pytest.param(
            {**_ON, "KUBETASK_LEADER_ELECTION_RETRY_PERIOD": "9s"},
            "KUBETASK_LEADER_ELECTION_RENEW_DEADLINE",
            "10s",
            "more than 1.2 x KUBETASK_LEADER_ELECTION_RETRY_PERIOD",
            id="retry-period-too-long-for-the-deadline",
        ),
        pytest.param(
            {**_ON, "KUBETASK_LEADER_ELECTION_RETRY_PERIOD": "0s"},
            "KUBETASK_LEADER_ELECTION_RETRY_PERIOD",
            "0s",
            "above 0s",
            id="retry-period-zero",
        ),
    ],
)
def test_a_bad_leader_election_setting_names_the_variable(
    env: dict[str, str], variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert str(raised.value).startswith(f"{variable}={value!r}: ")
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("250ms", 0.25)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "1d", "-1s", " 5s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0.5, 45, 90, 3723)] == ["0.5s", "45s", "1m30s", "1h2m3s"]


def test_the_operator_refuses_to_start_with_a_bad_setting_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBETASK_SYSTEM_RETRIES", "many")
    assert main([]) == 2
    assert "KUBETASK_SYSTEM_RETRIES='many'" in capsys.readouterr().err


def test_the_operator_refuses_to_start_without_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main([]) == 1
    assert "no Kubernetes credentials" in capsys.readouterr().err
