""".ci/install-helm is idempotent: with the wanted helm in place it changes nothing and says nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_an_installed_helm_is_left_alone() -> None:
    directory = Path(sys.executable).parent
    helm = directory / "helm"
    before = helm.stat()
    completed = subprocess.run(
        ["bash", str(REPO / ".ci" / "install-helm"), str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == completed.stderr == ""
    after = helm.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_it_requires_a_directory() -> None:
    completed = subprocess.run(
        ["bash", str(REPO / ".ci" / "install-helm")], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode != 0
    assert "usage: install-helm DIRECTORY" in completed.stderr
