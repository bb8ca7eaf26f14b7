"""The pytest plugin's real-cluster mode: with ``--kubeconfig PATH`` or ``KUBETASK_TEST_KUBECONFIG`` the
``cluster`` fixture is that cluster (no local cluster is started), ``namespace`` works on it, and the local
controls skip the test instead of failing it. A standalone API server stands in for the real cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubetask_local import ApiServer, ThreadedApiServer
from kubetask_local.apiserver._standalone import kubeconfig_for
from kubetask_local.testing import kubectl_binary

INNER_TESTS = """
import os
from pathlib import Path


def test_the_cluster_is_the_given_one(cluster, namespace):
    assert not cluster.is_local
    assert cluster.process is None
    assert cluster.kubeconfig == Path(os.environ["EXPECTED_KUBECONFIG"])
    shown = cluster.kubectl("get", "namespace", namespace, "-o", "name").stdout.strip()
    assert shown == f"namespace/{namespace}"
    Path(os.environ["NAMESPACE_RECORD"]).write_text(namespace)


def test_local_controls_skip_on_a_real_cluster(cluster):
    cluster.set_faults(error_rate=0.5)
    raise AssertionError("set_faults should have skipped the test")
"""


PYTEST = (sys.executable, "-m", "pytest", "-rs", "-p", "kubetask_local.testing")


@pytest.fixture(scope="module")
def stand_in() -> Iterator[ThreadedApiServer]:
    with ApiServer.run_in_thread() as server:
        yield server


def _run_inner(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    return subprocess.run(
        [*PYTEST, "-p", "no:cacheprovider", *args, str(tmp_path / "test_inner.py")],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "given_by", [pytest.param("option", id="--kubeconfig"), pytest.param("env", id="env")]
)
def test_a_given_kubeconfig_is_used_instead_of_a_local_cluster(
    stand_in: ThreadedApiServer, tmp_path: Path, given_by: str
) -> None:
    kubeconfig = tmp_path / "real-kubeconfig"
    kubeconfig.write_text(kubeconfig_for(stand_in.url))
    record = tmp_path / "namespace.txt"
    env = {"EXPECTED_KUBECONFIG": str(kubeconfig), "NAMESPACE_RECORD": str(record)}
    if given_by == "env":
        result = _run_inner(tmp_path, env={**env, "KUBETASK_TEST_KUBECONFIG": str(kubeconfig)})
    else:
        result = _run_inner(tmp_path, "--kubeconfig", str(kubeconfig), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout, result.stdout
    assert "needs the local cluster" in result.stdout
    namespace = record.read_text()
    leftover = subprocess.run(
        [
            str(kubectl_binary()),
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "ns",
            namespace,
            "--ignore-not-found",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert leftover.stdout.strip() == ""  # the namespace fixture deleted it on the given cluster


def test_a_kubeconfig_that_is_not_a_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = _run_inner(tmp_path, "--kubeconfig", str(missing), env={})
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"--kubeconfig / KUBETASK_TEST_KUBECONFIG: {str(missing)!r} is not a file" in result.stderr
