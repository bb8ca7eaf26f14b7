"""The operator's configuration: one frozen object read once from ``KUBETASK_*`` environment variables.

Every error names the variable, shows the bad value and says what was expected, so a typo in the chart's
values fails the operator's start with a message that points at the fix.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from kubetask_operator._durations import parse_duration
from kubetask_operator._errors import SettingsError
from kubetask_operator._podsecurity import LEVELS, Level

LogFormat = Literal["plain", "full", "json"]
StorageConfinement = Literal["namespace", "none"]
_STORAGE_CONFINEMENTS: tuple[StorageConfinement, ...] = ("namespace", "none")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_LOG_FORMATS: tuple[LogFormat, ...] = ("plain", "full", "json")
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_URI = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*:|/)\S*")


@dataclasses.dataclass(frozen=True)
class LeaderElection:
    """Where the operators' Lease is and how it is held, as in client-go's leaderelection."""

    namespace: str
    lease_name: str = "kubetask-operator"
    lease_duration_seconds: int = 15
    """How long a standby waits, from when it last saw the Lease change, before taking it over."""
    renew_deadline_seconds: float = 10.0
    """How long the leader keeps trying to renew before it gives up (and exits)."""
    retry_period_seconds: float = 2.0
    """Between renewals, and between a standby's tries."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the operator needs from its environment; see the README's operator section for each variable."""

    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty means all namespaces (cluster-wide)."""
    storage_prefix: str | None = None
    """Default URI of attempts' documents: ``<prefix>/<namespace>/<name>/<attempt>``."""
    system_retries: int = 3
    """Attempts retried after system failures (pod deleted or evicted, node lost, SYSTEM errors)."""
    image_pull_grace_seconds: float = 180.0
    """How long an image pull or container configuration error may last before the attempt fails."""
    default_resources: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    """Resources of task containers whose TaskRun gives none (``{"requests": {...}, "limits": {...}}``)."""
    default_queue_max_running: int | None = None
    """KUBETASK_DEFAULT_QUEUE_MAX_RUNNING: most TaskRuns naming no queue running at once, per namespace."""
    inline_inputs_max_bytes: int = 32 * 1024
    """Inputs up to this size travel in the pod's command as a ``data:`` URI; larger ones in a ConfigMap."""
    liveness_port: int = 0
    """Port of the liveness endpoint ``/healthz`` (0: off)."""
    metrics_port: int = 0
    """Port of the Prometheus metrics endpoint ``/metrics`` (0: off)."""
    bind_address: str = "127.0.0.1"
    """The address ``/healthz`` and ``/metrics`` listen on: this machine only unless configured (the chart
    sets ``0.0.0.0``, the pod's own interfaces, for the kubelet's probe and Prometheus)."""
    log_level: str = "INFO"
    log_format: LogFormat = "plain"
    api_concurrency: int = 64
    """Most Kubernetes API requests the operator's own client has in flight at once."""
    storage_secret: str | None = None
    """A Secret every task container gets first in ``envFrom`` (the storage credentials)."""
    storage_confinement: StorageConfinement = "namespace"
    """``namespace``: with a storage prefix, a TaskRun's ``outputPrefix`` and ``inputsFrom`` must lie under
    ``<prefix>/<its namespace>/``; ``none``: any URI."""
    leader_election: LeaderElection | None = None
    """Lease-based leader election (None: off, the operator acts at once; only one may run)."""
    pod_security_level: Level = "restricted"
    """The Pod Security Standards level every task pod must meet (a TaskRun breaking it fails InvalidSpec)."""
    pod_security_levels: Mapping[str, Level] = dataclasses.field(default_factory=dict)
    """Per-namespace levels that replace ``pod_security_level`` there."""
    service_accounts: frozenset[str] = frozenset()
    """ServiceAccounts a TaskRun may name: ``name`` (in any namespace) or ``namespace/name``; none by default,
    and a TaskRun naming none runs as the namespace's default one with no API token mounted."""

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    def pod_security_level_of(self, namespace: str) -> Level:
        return self.pod_security_levels.get(namespace, self.pod_security_level)

    def allows_service_account(self, namespace: str, name: str) -> bool:
        return name in self.service_accounts or f"{namespace}/{name}" in self.service_accounts


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected an integer from {minimum} to {maximum}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}={raw!r}: expected an integer from {minimum} to {maximum}")
    return value


def _duration(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse_duration(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a duration such as '30s', '3m' or '1h30m'") from None


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...], *, upper: bool) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().upper() if upper else raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name}={raw!r}: expected one of {', '.join(choices)}")
    return value


def _namespaces(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    for namespace in names:
        if len(namespace) > 63 or not _NAMESPACE.fullmatch(namespace):
            raise SettingsError(
                f"{name}={raw!r}: {namespace!r} is not a namespace name; expected a comma-separated list "
                "of DNS labels, or nothing for all namespaces"
            )
    return names


def _storage_prefix(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not _URI.fullmatch(raw):
        raise SettingsError(f"{name}={raw!r}: expected a URI such as 's3://bucket/runs' or an absolute path")
    return raw.rstrip("/")


def _resources(env: Mapping[str, str], name: str) -> Mapping[str, Mapping[str, str]]:
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    expected = 'expected JSON like {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {...}}'
    try:
        document: Any = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{name}={raw!r}: not JSON ({error.msg}); {expected}") from None
    if not isinstance(document, dict) or not set(document) <= {"requests", "limits"}:
        raise SettingsError(f"{name}={raw!r}: {expected}")
    resources: dict[str, dict[str, str]] = {}
    for section, quantities in document.items():
        if not isinstance(quantities, dict) or not all(
            isinstance(key, str) and isinstance(value, (str, int)) for key, value in quantities.items()
        ):
            raise SettingsError(f"{name}={raw!r}: {section!r} must map resources to quantities; {expected}")
        resources[section] = {key: str(value) for key, value in quantities.items()}
    return resources


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read the settings from ``env`` (``os.environ``); raise SettingsError naming the variable."""
    return Settings(
        namespaces=_namespaces(env, "KUBETASK_NAMESPACES"),
        storage_prefix=_storage_prefix(env, "KUBETASK_STORAGE_PREFIX"),
        system_retries=_integer(env, "KUBETASK_SYSTEM_RETRIES", 3, minimum=0, maximum=100),
        image_pull_grace_seconds=_duration(env, "KUBETASK_IMAGE_PULL_GRACE", 180.0),
        default_resources=_resources(env, "KUBETASK_DEFAULT_RESOURCES"),
        inline_inputs_max_bytes=_integer(
            env, "KUBETASK_INLINE_INPUTS_MAX_BYTES", 32 * 1024, minimum=0, maximum=96 * 1024
        ),
        liveness_port=_integer(env, "KUBETASK_LIVENESS_PORT", 0, minimum=0, maximum=65535),
        metrics_port=_integer(env, "KUBETASK_METRICS_PORT", 0, minimum=0, maximum=65535),
        bind_address=_bind_address(env, "KUBETASK_BIND_ADDRESS"),
        log_level=_choice(env, "KUBETASK_LOG_LEVEL", "INFO", _LOG_LEVELS, upper=True),
        log_format=_log_format(env),
        api_concurrency=_integer(env, "KUBETASK_API_CONCURRENCY", 64, minimum=1, maximum=1024),
        storage_secret=_object_name(env, "KUBETASK_STORAGE_SECRET"),
        storage_confinement=_storage_confinement(env),
        leader_election=_leader_election(env),
        pod_security_level=_level(env, "KUBETASK_POD_SECURITY_LEVEL", env.get("KUBETASK_POD_SECURITY_LEVEL")),
        pod_security_levels=_namespace_levels(env, "KUBETASK_POD_SECURITY_NAMESPACES"),
        service_accounts=_service_accounts(env, "KUBETASK_SERVICE_ACCOUNTS"),
        default_queue_max_running=_optional_integer(
            env, "KUBETASK_DEFAULT_QUEUE_MAX_RUNNING", maximum=1_000_000
        ),
    )


def _optional_integer(env: Mapping[str, str], name: str, *, maximum: int) -> int | None:
    value = _integer(env, name, -1, minimum=0, maximum=maximum)
    return None if value < 0 else value


def _level(env: Mapping[str, str], name: str, raw: str | None, *, what: str = "") -> Level:
    value = (raw or "").strip().lower() or "restricted"
    for level in LEVELS:
        if level == value:
            return level
    shown = env.get(name)
    raise SettingsError(
        f"{name}={shown!r}: {what}expected a Pod Security Standards level: {', '.join(LEVELS)}"
    )


def _namespace_levels(env: Mapping[str, str], name: str) -> Mapping[str, Level]:
    raw = env.get(name, "")
    levels: dict[str, Level] = {}
    for part in (part.strip() for part in raw.split(",")):
        if not part:
            continue
        namespace, sep, level = part.partition("=")
        namespace = namespace.strip()
        if not sep or len(namespace) > 63 or not _NAMESPACE.fullmatch(namespace):
            raise SettingsError(
                f"{name}={raw!r}: {part!r} is not NAMESPACE=LEVEL; expected a comma-separated list such as "
                "'team-a=baseline,infra=privileged'"
            )
        if not level.strip():
            raise SettingsError(
                f"{name}={raw!r}: {part!r} gives no level; expected one of {', '.join(LEVELS)}"
            )
        levels[namespace] = _level(env, name, level, what=f"{part!r}: ")
    return levels


def _service_accounts(env: Mapping[str, str], name: str) -> frozenset[str]:
    raw = env.get(name, "")
    entries = [part.strip() for part in raw.split(",") if part.strip()]
    for entry in entries:
        namespace, _, account = entry.rpartition("/")
        if (namespace and (len(namespace) > 63 or not _NAMESPACE.fullmatch(namespace))) or not (
            len(account) <= 253 and _DNS_SUBDOMAIN.fullmatch(account)
        ):
            raise SettingsError(
                f"{name}={raw!r}: {entry!r} is not a ServiceAccount; expected a comma-separated list of NAME "
                "(allowed in every namespace) or NAMESPACE/NAME"
            )
    return frozenset(entries)


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise SettingsError(f"{name}={raw!r}: expected true or false (also 1/0, yes/no, on/off)")
    return value in _TRUE


def _object_name(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        raise SettingsError(
            f"{name}={raw!r}: expected an object name (lower-case letters, digits, '-' and '.', at most 253)"
        )
    return value


def _leader_election(env: Mapping[str, str]) -> LeaderElection | None:
    if not _boolean(env, "KUBETASK_LEADER_ELECTION", False):
        return None
    raw_namespace = env.get("KUBETASK_LEADER_ELECTION_NAMESPACE", "")
    namespace = raw_namespace.strip()
    if not namespace or len(namespace) > 63 or not _NAMESPACE.fullmatch(namespace):
        raise SettingsError(
            f"KUBETASK_LEADER_ELECTION_NAMESPACE={raw_namespace!r}: expected the namespace of the Lease (a "
            "DNS label; the chart sets the operator pod's own), required when KUBETASK_LEADER_ELECTION is on"
        )
    lease_name = _object_name(env, "KUBETASK_LEADER_ELECTION_LEASE") or "kubetask-operator"
    duration_name = "KUBETASK_LEADER_ELECTION_LEASE_DURATION"
    lease_duration = _duration(env, duration_name, 15.0)
    if lease_duration < 1 or lease_duration != int(lease_duration):
        raise SettingsError(
            f"{duration_name}={env.get(duration_name)!r}: expected whole seconds, at least 1s "
            "(a Lease holds leaseDurationSeconds as an integer)"
        )
    renew_name = "KUBETASK_LEADER_ELECTION_RENEW_DEADLINE"
    renew_deadline = _duration(env, renew_name, 10.0)
    retry_name = "KUBETASK_LEADER_ELECTION_RETRY_PERIOD"
    retry_period = _duration(env, retry_name, 2.0)
    if retry_period <= 0:
        raise SettingsError(f"{retry_name}={env.get(retry_name)!r}: expected a duration above 0s")
    # client-go's own checks: the leader must give up before a standby may take over, and must get more
    # than one (jittered) try at renewing before it gives up.
    if renew_deadline >= lease_duration:
        raise SettingsError(
            f"{renew_name}={env.get(renew_name, '10s')!r}: expected less than "
            f"{duration_name} ({lease_duration:g}s), so the leader stops before a standby may take over"
        )
    if renew_deadline <= 1.2 * retry_period:
        raise SettingsError(
            f"{renew_name}={env.get(renew_name, '10s')!r}: expected more than 1.2 x {retry_name} "
            f"({1.2 * retry_period:g}s), so the leader gets more than one try at renewing"
        )
    return LeaderElection(
        namespace=namespace,
        lease_name=lease_name,
        lease_duration_seconds=int(lease_duration),
        renew_deadline_seconds=renew_deadline,
        retry_period_seconds=retry_period,
    )


def _bind_address(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r}: expected an IP address to listen on, such as 127.0.0.1 (this machine only), "
            "0.0.0.0 (every IPv4 interface) or :: (every interface)"
        ) from None


def _storage_confinement(env: Mapping[str, str]) -> StorageConfinement:
    value = _choice(env, "KUBETASK_STORAGE_CONFINEMENT", "namespace", _STORAGE_CONFINEMENTS, upper=False)
    return next(choice for choice in _STORAGE_CONFINEMENTS if choice == value)


def _log_format(env: Mapping[str, str]) -> LogFormat:
    value = _choice(env, "KUBETASK_LOG_FORMAT", "plain", _LOG_FORMATS, upper=False)
    return next(choice for choice in _LOG_FORMATS if choice == value)
