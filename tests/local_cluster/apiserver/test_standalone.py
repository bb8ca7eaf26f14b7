"""The emulator as a process of its own: kubeconfig written, kubectl works, SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .conftest import VENV_BIN, wait_for


def test_standalone_server_serves_kubectl_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "kubetask_local.apiserver._standalone", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(kubeconfig.exists, timeout=15, what="the kubeconfig to appear")
        result = subprocess.run(
            [str(VENV_BIN / "kubectl"), "get", "namespaces", "-o", "name"],
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "namespace/default" in result.stdout.split()
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "listening on http://127.0.0.1:" in stdout


def test_bad_port_is_refused_naming_the_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubetask_local.apiserver._standalone", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "--port must be between 0 and 65535, got 70000" in result.stderr
