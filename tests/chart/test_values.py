"""values.yaml documents every key, and values.schema.json refuses what it does not know."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask_operator._podsecurity import LEVELS

CHART = Path(__file__).parents[2] / "charts" / "kubetask"
Helm = Callable[..., subprocess.CompletedProcess[str]]


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return schema


def _own_key_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Key paths of the chart's own (closed) objects; Kubernetes-typed values ($ref) are documented whole."""
    for key, subschema in schema.get("properties", {}).items():
        yield (*prefix, key)
        if subschema.get("additionalProperties") is False and "properties" in subschema:
            yield from _own_key_paths(subschema, (*prefix, key))


def _key_lines(node: yaml.Node, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], int]]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, key_node.value)
            yield path, key_node.start_mark.line
            yield from _key_lines(value_node, path)


def test_every_schema_key_is_in_values_yaml_with_a_comment_above_it() -> None:
    text = (CHART / "values.yaml").read_text()
    lines = text.splitlines()
    key_lines = dict(_key_lines(yaml.compose(text)))
    missing, undocumented = [], []
    for path in _own_key_paths(_schema()):
        if path not in key_lines:
            missing.append(".".join(path))
            continue
        above = lines[key_lines[path] - 1].strip() if key_lines[path] else ""
        if not above.startswith("#"):
            undocumented.append(".".join(path))
    assert not missing, f"in the schema but not in values.yaml: {missing}"
    assert not undocumented, f"keys without a comment above them in values.yaml: {undocumented}"


def test_every_object_in_the_schema_is_closed() -> None:
    def walk(node: Any, where: str) -> Iterator[str]:
        if isinstance(node, dict):
            types = node.get("type", [])
            is_object = types == "object" or (isinstance(types, list) and "object" in types)
            if is_object and "properties" in node and node.get("additionalProperties") is not False:
                yield where
            for key, value in node.items():
                yield from walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, f"{where}/{index}")

    assert _schema()["additionalProperties"] is False
    assert list(walk(_schema(), "#")) == []


@pytest.mark.parametrize(
    ("values", "expected_error"),
    [
        pytest.param(
            ["--set", "replica=1"], "additional properties 'replica' not allowed", id="unknown-top-key"
        ),
        pytest.param(["--set", "operator.logLevl=debug"], "'logLevl' not allowed", id="misspelt-nested-key"),
        pytest.param(["--set", "crds.enabled=yes"], "/crds/enabled", id="string-for-boolean"),
        pytest.param(["--set", "replicas=-1"], "/replicas", id="negative-replicas"),
        pytest.param(
            ["--set", "leaderElection.leaseDuration=15.5s"],
            "/leaderElection/leaseDuration",
            id="lease-duration-not-whole-seconds",
        ),
        pytest.param(["--set", "operator.logLevel=verbose"], "/operator/logLevel", id="unknown-log-level"),
        pytest.param(["--set", "operator.logFormat=text"], "/operator/logFormat", id="unknown-log-format"),
        pytest.param(
            ["--set", "operator.imagePullGracePeriod=3 minutes"],
            "/operator/imagePullGracePeriod",
            id="bad-duration",
        ),
        pytest.param(
            ["--set", "watchNamespaces[0]=Team_A"], "/watchNamespaces/0", id="namespace-not-a-dns-label"
        ),
        pytest.param(["--set", "storage.prefix=bucket/x"], "/storage/prefix", id="storage-prefix-not-a-uri"),
        pytest.param(["--set", "image.pullPolicy=Sometimes"], "/image/pullPolicy", id="bad-pull-policy"),
        pytest.param(["--set", "image.digest=abc"], "/image/digest", id="digest-without-algorithm"),
        pytest.param(
            ["--set", "tolerations[0].keyy=x"], "'keyy' not allowed", id="kubernetes-typed-value-typo"
        ),
        pytest.param(
            ["--set", "resources.limit.memory=1Gi"],
            "'limit' not allowed",
            id="resources-limit-instead-of-limits",
        ),
        pytest.param(
            ["--set", "operator.livenessPort=70000"], "/operator/livenessPort", id="port-out-of-range"
        ),
        pytest.param(
            ["--set", "operator.bindAddress=localhost"], "/operator/bindAddress", id="bind-address-not-an-ip"
        ),
        pytest.param(
            ["--set", "taskPods.podSecurityLevel=strict"],
            "/taskPods/podSecurityLevel",
            id="unknown-pss-level",
        ),
        pytest.param(
            ["--set", "taskPods.namespacePodSecurityLevels.infra=open"],
            "/taskPods/namespacePodSecurityLevels/infra",
            id="unknown-namespace-pss-level",
        ),
        pytest.param(
            ["--set", "taskPods.serviceAccounts[0]=Team/Runner"],
            "/taskPods/serviceAccounts/0",
            id="service-account-not-a-name",
        ),
    ],
)
def test_the_schema_refuses_a_mistyped_value(helm: Helm, values: list[str], expected_error: str) -> None:
    completed = helm("template", "kubetask", str(CHART), *values, check=False)
    assert completed.returncode != 0, f"helm accepted {values}"
    assert "values don't meet the specifications of the schema" in completed.stderr
    assert expected_error in completed.stderr


@pytest.mark.parametrize(
    ("values", "expected_error"),
    [
        pytest.param(
            ["--set", "serviceAccount.create=false"],
            "serviceAccount.name is required when serviceAccount.create is false",
            id="no-service-account-at-all",
        ),
        pytest.param(
            ["--set", "replicas=2", "--set", "leaderElection.enabled=false"],
            "replicas=2 needs leaderElection.enabled=true",
            id="two-operators-without-leader-election",
        ),
        pytest.param(
            ["--set", "storage.credentials.create=true"],
            "storage.credentials.secretName is required when storage.credentials.create is true",
            id="secret-without-a-name",
        ),
        pytest.param(
            ["--set", "storage.credentials.create=true", "--set", "storage.credentials.secretName=s3"],
            "storage.credentials.data is empty while storage.credentials.create is true",
            id="secret-without-data",
        ),
        pytest.param(
            [
                "--set",
                "storage.credentials.create=true",
                "--set",
                "storage.credentials.secretName=s3",
                "--set",
                "storage.credentials.perNamespace.a.KEY=x",
                "--set",
                "watchNamespaces={a,b}",
            ],
            "storage.credentials.perNamespace has no entry for the watched namespace b",
            id="per-namespace-secret-missing-one",
        ),
        pytest.param(
            [
                "--set",
                "storage.credentials.create=true",
                "--set",
                "storage.credentials.secretName=s3",
                "--set",
                "storage.credentials.perNamespace.a.KEY=x",
                "--set",
                "storage.credentials.data.KEY=y",
            ],
            "storage.credentials.data and storage.credentials.perNamespace are both set",
            id="per-namespace-and-shared-secret",
        ),
    ],
)
def test_inconsistent_values_fail_with_a_message_naming_them(
    helm: Helm, values: list[str], expected_error: str
) -> None:
    completed = helm("template", "kubetask", str(CHART), *values, check=False)
    assert completed.returncode != 0
    assert expected_error in completed.stderr


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([], id="defaults"),
        pytest.param(["--set", "watchNamespaces={team-a,team-b}"], id="watched-namespaces"),
        pytest.param(["--set", "crds.enabled=false", "--set", "test.enabled=false"], id="no-crd-no-test"),
    ],
)
def test_helm_lint_passes_strictly(helm: Helm, values: list[str]) -> None:
    completed = helm("lint", "--strict", str(CHART), *values, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in completed.stdout


def _install_section() -> str:
    """The README's install section and the install page it links for the details (every chart value)."""
    root = CHART.parents[1]
    readme = (root / "README.md").read_text()
    start = readme.index("<!-- SECTION: install -->")
    section = readme[start : readme.index("<!-- SECTION:", start + 1)]
    return section + (root / "docs" / "install.md").read_text()


def test_the_readme_summarises_every_chart_value() -> None:
    section = _install_section()
    schema = _schema()
    leaves = []
    for path in _own_key_paths(schema):
        node = schema
        for key in path:
            node = node["properties"][key]
        if not (node.get("additionalProperties") is False and "properties" in node):
            leaves.append(path)

    def summarised(path: tuple[str, ...]) -> bool:
        full = ".".join(path)
        if f"`{full}`" in section:
            return True
        # "`livenessProbe.initialDelaySeconds`, `.periodSeconds`": a sibling named after its first mention
        parent = ".".join(path[:-1])
        return any(f"`{parent}." in line and f"`.{path[-1]}`" in line for line in section.splitlines())

    missing = [".".join(path) for path in leaves if not summarised(path)]
    assert not missing, f"chart values missing from the README's install section: {missing}"


def test_the_readme_build_commands_are_the_dockerfiles_own() -> None:
    section = _install_section()
    for dockerfile in ("operator/Dockerfile", "runtime/Dockerfile"):
        text = (CHART.parents[1] / dockerfile).read_text()
        documented = [line.strip("# ").strip() for line in text.splitlines() if "docker build" in line]
        assert documented
        for command in documented:
            assert " ".join(command.split()) in " ".join(section.split()), command


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        pytest.param("1.29.0", False, id="too-old"),
        pytest.param("1.30.0", True, id="oldest-supported"),
        pytest.param("1.37.0", True, id="newest-validated"),
    ],
)
def test_the_chart_states_the_kubernetes_versions_it_supports(
    helm: Helm, version: str, accepted: bool
) -> None:
    completed = helm("template", "kubetask", str(CHART), "--kube-version", version, check=False)
    assert (completed.returncode == 0) is accepted, completed.stderr
    if not accepted:
        assert "chart requires kubeVersion: >=1.30.0-0" in completed.stderr


def test_the_schemas_pod_security_levels_are_the_operators() -> None:
    level = _schema()["properties"]["taskPods"]["properties"]["podSecurityLevel"]
    assert tuple(level["enum"]) == LEVELS
