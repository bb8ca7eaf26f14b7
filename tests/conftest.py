"""Shared fixtures for the whole suite.

The local-cluster fixtures (a kubeconfig for end-to-end tests, a fresh local cluster by default or a real
cluster with ``--kubeconfig``) ship in the package as a pytest plugin, because they are a feature too.
Each section below belongs to one part of the product; keep fixtures in their section.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetask_client._cli as kubetask_client_cli

# ---------------------------------------------------------------- runtime fixtures

# ---------------------------------------------------------------- local cluster fixtures

# `cluster`, `namespace`, `local_cluster_factory` and `wait_for` (see kubetask_local/testing.py).
pytest_plugins = ["kubetask_local.testing"]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="session")
def local_cluster_pythonpath() -> list[Path]:
    """Each ``examples/<topic>/`` folder, so a TaskRun with ``module: hello`` runs examples/hello/hello.py."""
    topics = EXAMPLES_DIR.iterdir() if EXAMPLES_DIR.is_dir() else iter(())
    return sorted(path for path in topics if path.is_dir() and not path.name.startswith((".", "_")))


# ---------------------------------------------------------------- operator fixtures


@pytest.fixture(scope="session", autouse=True)
def _operator_settings_for_local_clusters() -> Iterator[None]:
    """The operator settings of the local clusters (they inherit this process's environment): a short
    image-pull grace, so tests of image-pull failures and missing Secrets take seconds, not minutes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBETASK_IMAGE_PULL_GRACE", os.environ.get("KUBETASK_IMAGE_PULL_GRACE", "2s"))
        yield


# ---------------------------------------------------------------- chart, manifests and client fixtures

CHART_DIR = Path(__file__).resolve().parent.parent / "charts" / "kubetask"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML keeps the last one; the API server may not)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key_node) for key_node, _ in node.value]
    duplicates = sorted({str(key) for key in keys if keys.count(key) > 1})
    if duplicates:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {duplicates}", node.start_mark)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_yaml_documents(text: str) -> list[dict[str, Any]]:
    """Every non-empty document of a multi-document YAML stream, refusing duplicate keys."""
    return [document for document in yaml.load_all(text, Loader=_UniqueKeyLoader) if document]


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real helm binary (installed by .ci/install-helm) with private config and cache folders."""
    beside_python = Path(sys.executable).parent / "helm"
    binary = str(beside_python) if beside_python.exists() else shutil.which("helm")
    if binary is None:
        pytest.fail("no helm binary: run `bash .ci/install-helm .venv/bin` (chart tests need the real helm)")
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }

    def run(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [binary, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if check and completed.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} exited {completed.returncode}: {completed.stderr.strip()}")
        return completed

    return run


@pytest.fixture(scope="session")
def render_chart(
    helm: Callable[..., subprocess.CompletedProcess[str]], tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., list[dict[str, Any]]]:
    """``render_chart(values, namespace=...)``: the objects ``helm template`` makes from ``values``."""
    folder = tmp_path_factory.mktemp("chart-values")
    rendered: dict[tuple[str, str, str], str] = {}  # the same values render the same objects: once

    def render(
        values: Mapping[str, Any] | None = None, *, namespace: str = "kubetask", release: str = "kubetask"
    ) -> list[dict[str, Any]]:
        text = yaml.safe_dump(dict(values or {}))
        key = (text, namespace, release)
        if key not in rendered:
            values_file = folder / f"values-{len(rendered)}.yaml"
            values_file.write_text(text)
            completed = helm(
                "template", release, str(CHART_DIR), "--namespace", namespace, "--values", str(values_file)
            )
            rendered[key] = completed.stdout
        return load_yaml_documents(rendered[key])

    return render


#: Value sets that together exercise every branch of the chart's templates.
CHART_VALUE_SETS = [
    pytest.param({}, id="defaults"),
    pytest.param({"watchNamespaces": ["team-a", "team-b"]}, id="watched-namespaces"),
    pytest.param({"watchNamespaces": ["kubetask", "team-a", "team-a"]}, id="watched-including-release-ns"),
    pytest.param(
        {
            "crds": {"enabled": False},
            "rbac": {"create": False},
            "serviceAccount": {"create": False, "name": "platform-operator"},
            "test": {"enabled": False},
            "replicas": 0,
        },
        id="bring-your-own-crd-rbac-and-serviceaccount",
    ),
    pytest.param(
        {
            "crds": {"keep": False},
            "storage": {
                "prefix": "s3://bucket/kubetask",
                "credentials": {
                    "secretName": "kubetask-storage",
                    "create": True,
                    "data": {"AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret"},
                },
            },
            "watchNamespaces": ["team-a"],
            "operator": {
                "logLevel": "debug",
                "logFormat": "json",
                "systemRetries": 5,
                "imagePullGracePeriod": "90s",
                "defaultTaskResources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "metricsPort": 9090,
                "inlineInputsMaxBytes": 65536,
                "apiConcurrency": 16,
            },
        },
        id="storage-metrics-and-operator-settings",
    ),
    pytest.param(
        {
            "image": {"repository": "registry.example/kubetask", "digest": "sha256:" + "a" * 64},
            "imagePullSecrets": [{"name": "registry"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ops"]}]}
                        ]
                    }
                }
            },
            "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
            "podAnnotations": {"team": "platform"},
            "podLabels": {"cost-centre": "ops"},
            "priorityClassName": "system-cluster-critical",
            "serviceAccount": {"annotations": {"iam.example/role": "kubetask"}},
        },
        id="scheduling-image-digest-and-extras",
    ),
]


@pytest.fixture(scope="session")
def selftest_image() -> str:
    """The image for TaskRuns of kubetask_client._selftest tasks ($KUBETASK_TEST_TASK_IMAGE): on a real
    cluster the operator image, which holds them; the local node runs any image with this Python."""
    return os.environ.get("KUBETASK_TEST_TASK_IMAGE", "ghcr.io/kubetask/kubetask-operator:0.1.0")


@pytest.fixture
def storage_prefix(cluster: Any) -> str | None:
    """The storage prefix the cluster's operator writes under, as clients learn it: $KUBETASK_STORAGE_PREFIX,
    else the kubeconfig cluster's ``kubetask.dev/storage`` extension (``kubetask dev`` writes one); None when
    neither says. With one, an operator confines a namespace's outputPrefix to ``<prefix>/<namespace>/``."""
    if os.environ.get("KUBETASK_STORAGE_PREFIX"):
        return os.environ["KUBETASK_STORAGE_PREFIX"]
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text()) or {}
    for entry in document.get("clusters") or []:
        for extension in (entry.get("cluster") or {}).get("extensions") or []:
            if extension.get("name") == "kubetask.dev/storage":
                return str(extension["extension"]["prefix"])
    return None


@dataclasses.dataclass(frozen=True)
class CliResult:
    """What one ``kubetask`` client command did: its exit status and what it printed."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def kubetask_cli(cluster: Any) -> Callable[..., CliResult]:
    """``kubetask_cli("get", name, "-n", ns)``: a client command against the test cluster, in this process."""

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = kubetask_client_cli.main([*args, "--kubeconfig", str(cluster.kubeconfig)], out=out, err=err)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture(params=CHART_VALUE_SETS)
def chart_values(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each of CHART_VALUE_SETS in turn."""
    values: dict[str, Any] = request.param
    return values
