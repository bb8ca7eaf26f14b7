"""Measure the local cluster with end-to-end suites written by others for real clusters.

Runs kopf's e2e suite (tests/e2e of github.com/nolar/kopf: every example operator run against the cluster)
and the kubernetes Python client's e2e suites (kubernetes/e2e_test and kubernetes/aio/e2e_test of
github.com/kubernetes-client/python) against a fresh ``kubetask dev --no-operator`` each, unchanged, and
prints how many of their tests pass, with the ids of those that do not. Not part of the pytest suite: it needs
those projects' sources and test dependencies, which it installs in a virtualenv of its own.

Usage::

    python devcluster/scripts/measure_peer_suites.py --kopf KOPF_CHECKOUT \\
        --kubernetes-client CLIENT_CHECKOUT [--venv DIR] [--suite kopf|kubernetes-client]

The kopf checkout is installed in the virtualenv (its tests import its private modules); the client's e2e
packages are copied into the ``kubernetes`` release this project uses, installed there, because the
client's checkout is generated code too large to build here.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kubetask_local.testing import LocalClusterProcess

VENV_BIN = Path(sys.executable).parent
TEST_DEPENDENCIES = (
    "pytest",
    "pytest-asyncio",
    "pytest-mock",
    "pytest-aiohttp",
    "pytest-timeout",
    "astpath[xpath]",
    "lxml",
    "looptime",
    "freezegun",
    "kmock",
)
# A line of the ``-rA`` summary: ``PASSED id``, ``FAILED id - reason``, ``SKIPPED [3] file:line: reason``.
_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (?:\[(\d+)\] )?(\S+)", re.MULTILINE)
_SUMMARY = "short test summary info"


@dataclass
class SuiteResult:
    name: str
    outcomes: dict[str, str] = field(default_factory=dict)  # test id -> outcome
    returncode: int = 0

    def count(self, *outcomes: str) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome in outcomes)


def prepare_venv(venv: Path, *, kopf: Path, client: Path) -> Path:
    """The suites' virtualenv: kopf from its checkout, the test dependencies, this project's ``kubernetes``
    release with the client's e2e packages copied in. Answers its python."""
    python = venv / "bin" / "python"
    uv = [str(VENV_BIN / "uv")]
    if not python.exists():
        subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            f"{kopf}[dev]",  # the admission example's self-signed certificates (certbuilder, certvalidator)
            "-r",
            str(kopf / "examples" / "requirements.txt"),  # what the examples import (pykube-ng)
            f"kubernetes=={importlib.metadata.version('kubernetes')}",
            *TEST_DEPENDENCIES,
        ],
        check=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import kubernetes, os; print(os.path.dirname(kubernetes.__file__))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for package in ("e2e_test", "aio/e2e_test"):
        source = client / "kubernetes" / package
        if source.is_dir():
            target = Path(site) / package
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
    return python


def run_suite(name: str, command: list[str], *, cwd: Path, timeout: float) -> SuiteResult:
    """One suite against a fresh local cluster; the outcome of each test from pytest's ``-rA`` summary."""
    result = SuiteResult(name)
    with tempfile.TemporaryDirectory(prefix=f"peer-{name}-") as directory:
        cluster = LocalClusterProcess(Path(directory) / "cluster", operator=False)
        try:
            env = {
                **os.environ,
                "KUBECONFIG": str(cluster.kubeconfig),
                "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",  # kubectl of this project
            }
            env.pop("PYTHONPATH", None)
            completed = subprocess.run(
                [*command, "-rA", "-p", "no:cacheprovider", "--timeout", "300"],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        finally:
            cluster.stop()
    log = Path(tempfile.gettempdir()) / f"peer-suite-{name}.log"
    log.write_text(completed.stdout + completed.stderr)
    result.returncode = completed.returncode
    summary = completed.stdout.rpartition(_SUMMARY)[2]
    for outcome, repeated, test_id in _OUTCOME.findall(summary):
        for index in range(int(repeated or 1)):
            result.outcomes[f"{test_id}#{index}" if repeated else test_id] = outcome
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kopf", type=Path, required=True, help="a checkout of github.com/nolar/kopf")
    parser.add_argument(
        "--kubernetes-client",
        type=Path,
        required=True,
        help="a checkout of github.com/kubernetes-client/python (its kubernetes/e2e_test is used)",
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path.home() / ".cache" / "kubetask" / "peer-suites-venv",
        help="the suites' virtualenv (made when missing)",
    )
    parser.add_argument("--suite", choices=("kopf", "kubernetes-client"), action="append")
    args = parser.parse_args()
    python = prepare_venv(args.venv, kopf=args.kopf.resolve(), client=args.kubernetes_client.resolve())
    suites = args.suite or ["kopf", "kubernetes-client"]
    results = []
    if "kopf" in suites:
        results.append(
            run_suite(
                "kopf",
                [str(python), "-m", "pytest", "tests/e2e", "--only-e2e"],
                cwd=args.kopf.resolve(),
                timeout=3600,
            )
        )
    if "kubernetes-client" in suites:
        # From the checkout, whose kubernetes/e2e_test/test_yaml the tests name by relative paths; ``-P`` so
        # that the installed ``kubernetes`` (with the e2e packages copied in) is the one imported.
        command = [
            str(python),
            "-P",
            "-m",
            "pytest",
            "--pyargs",
            "kubernetes.e2e_test",
            "kubernetes.aio.e2e_test",
        ]
        client = args.kubernetes_client.resolve()
        results.append(run_suite("kubernetes-client", command, cwd=client, timeout=3600))
    for result in results:
        passed, total = result.count("PASSED", "XFAIL"), len(result.outcomes)
        print(f"{result.name}: {passed} of {total} passed (pytest exit {result.returncode})")
        for test_id, outcome in sorted(result.outcomes.items()):
            if outcome not in ("PASSED", "XFAIL"):
                print(f"  {outcome:8} {test_id}")
        print(f"  full output: {Path(tempfile.gettempdir()) / f'peer-suite-{result.name}.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
