"""``kubetask dev``: one foreground process with the API server, the node and the operator; kubectl works
through the kubeconfig it writes; PYTHONPATH reaches the pods; Ctrl-C/SIGTERM leave no process behind."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask_local.testing import Cluster, local_api_request, wait_for

pytestmark = pytest.mark.e2e

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: python:3.12-slim
    command: ["python", "-c"]
    args:
    - |
      import os
      print("hello from the local node")
      with open(os.environ["KUBETASK_TERMINATION_MESSAGE_PATH"], "w") as f:
          f.write('{"outcome":"Succeeded","outputs":{"o0":"world"}}')
"""


def _phase(cluster: Cluster, name: str) -> Any:
    return cluster.kubectl_json("get", "pod", name)["status"].get("phase")


def _apply_hello_and_check(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD_YAML)
    assert "pod/hello created" in cluster.kubectl("apply", "-f", str(manifest)).stdout
    cluster.kubectl(
        "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/hello", "--timeout=30s", timeout=40
    )
    assert cluster.kubectl("logs", "hello").stdout == "hello from the local node\n"
    message = cluster.kubectl(
        "get", "pod", "hello", "-o", "jsonpath={.status.containerStatuses[0].state.terminated.message}"
    ).stdout
    assert json.loads(message) == {"outcome": "Succeeded", "outputs": {"o0": "world"}}
    assert "Completed" in cluster.kubectl("get", "pod", "hello").stdout


def test_done_when_kubectl_apply_of_a_python_pod_succeeds_with_logs_and_message(
    local_cluster_factory: Any, tmp_path: Path
) -> None:
    cluster = local_cluster_factory(operator=False)
    _apply_hello_and_check(cluster, tmp_path)


@pytest.mark.skipif(
    importlib.util.find_spec("kubetask_client._cli") is None,
    reason="the `kubetask` command (kubetask_client._cli) is not there",
)
def test_the_kubetask_command_dispatches_dev(local_cluster_factory: Any, tmp_path: Path) -> None:
    kubetask = Path(sys.executable).parent / "kubetask"
    cluster = local_cluster_factory(operator=False, launcher=[str(kubetask)])
    _apply_hello_and_check(cluster, tmp_path)


def test_the_kubeconfig_the_crd_and_the_instructions(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False)
    document = yaml.safe_load(cluster.kubeconfig.read_text())
    assert document["current-context"] == "kubetask-local"
    assert document["clusters"][0]["cluster"]["server"] == cluster.api_url
    assert (
        cluster.kubectl("get", "crd", "taskruns.kubetask.dev", "-o", "name").stdout.strip()
        == "customresourcedefinition.apiextensions.k8s.io/taskruns.kubetask.dev"
    )
    assert "No resources found" in cluster.kubectl("get", "taskruns", "-A").stderr
    output = cluster.output()
    assert f"export KUBECONFIG={cluster.kubeconfig}" in output
    assert "local cluster ready in" in output


def test_pythonpath_of_kubetask_dev_reaches_the_pods(local_cluster_factory: Any, tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "greeting_module_kt.py").write_text("GREETING = 'imported from PYTHONPATH'\n")
    cluster = local_cluster_factory(operator=False, pythonpath=[modules])
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "imports", "namespace": "default"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "main",
                        "image": "python:3.12-slim",
                        "command": ["python", "-c", "import greeting_module_kt as m; print(m.GREETING)"],
                    }
                ],
            },
        }
    )
    wait_for(lambda: _phase(cluster, "imports") == "Succeeded", 30, "the importing pod to succeed")
    assert cluster.kubectl("logs", "imports").stdout == "imported from PYTHONPATH\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purpose once it is not running.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGINT, id="ctrl-c"), pytest.param(signal.SIGTERM, id="sigterm")]
)
def test_stopping_leaves_no_process_behind(local_cluster_factory: Any, tmp_path: Path, signum: int) -> None:
    cluster = local_cluster_factory(operator=True)
    operator_pid = wait_for(lambda: cluster.admin("GET", "operator")["pid"], 30, "the operator to start")
    code = "import os, time; open('/marks/pid', 'w').write(str(os.getpid())); time.sleep(120)"
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sleeper", "namespace": "default"},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 60,
                "volumes": [{"name": "marks", "hostPath": {"path": str(tmp_path)}}],
                "containers": [
                    {
                        "name": "main",
                        "image": "python:3.12-slim",
                        "command": ["python", "-c", code],
                        "volumeMounts": [{"name": "marks", "mountPath": "/marks"}],
                    }
                ],
            },
        }
    )
    pod_pid = int(
        wait_for(
            lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(),
            30,
            "the pod's process to start",
        )
    )
    process = cluster.process
    assert process is not None
    process.popen.send_signal(signum)
    assert process.popen.wait(timeout=30) == 0
    assert not _alive(pod_pid)
    wait_for(lambda: not _alive(operator_pid), 10, "the operator process to be gone")
    assert "kubetask dev: stopping" in cluster.output()


def test_restart_operator_starts_a_new_operator_process(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=True)
    first = wait_for(lambda: cluster.admin("GET", "operator")["pid"], 30, "the operator to start")
    cluster.restart_operator()
    second = cluster.admin("GET", "operator")
    assert second["running"]
    assert second["pid"] != first
    assert second["restarts"] == 1


def test_without_the_operator_restart_is_refused(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False)
    assert cluster.admin("GET", "operator") == {"running": False, "pid": None, "restarts": 0}
    with pytest.raises(AssertionError, match=r"400.*without an operator"):
        cluster.admin("POST", "operator/restart")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--node-taint", "gpu"], "--node-taint expects KEY[=VALUE]:EFFECT", id="taint"),
        pytest.param(
            ["--node-label", "novalue"], "--node-label expects KEY=VALUE, got 'novalue'", id="label"
        ),
        pytest.param(
            ["--fast-exit-code", "300"],
            "--fast-exit-code expects an integer from 0 to 255, got '300'",
            id="exit-code",
        ),
        pytest.param(["--port", "70000"], "--port must be from 0 to 65535, got 70000", id="port"),
        pytest.param(
            ["--pod-eviction-timeout", "soon"],
            "--pod-eviction-timeout expects seconds from 0 to 86400, got 'soon'",
            id="eviction-timeout",
        ),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(args: list[str], message: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "kubetask_local._cli", "dev", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 2
    assert message in completed.stderr


def test_the_help_explains_the_command() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "kubetask_local._cli", "dev", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0
    assert textwrap.shorten("--kubeconfig KUBECONFIG", 100) in completed.stdout
    assert "--no-operator" in completed.stdout


def test_a_port_in_use_is_a_clear_error(local_cluster_factory: Any, tmp_path: Path) -> None:
    cluster = local_cluster_factory(operator=False)
    port = cluster.api_url.rsplit(":", 1)[1]
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubetask_local._cli",
            "dev",
            "--no-operator",
            "--port",
            port,
            "--kubeconfig",
            str(tmp_path / "kubeconfig"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert "kubetask dev: error:" in completed.stderr
    assert "address already in use" in completed.stderr.lower()
    assert not (tmp_path / "kubeconfig").exists()


def test_a_second_dev_on_a_running_clusters_kubeconfig_is_refused(local_cluster_factory: Any) -> None:
    cluster = local_cluster_factory(operator=False)
    before = cluster.kubeconfig.read_text()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubetask_local._cli",
            "dev",
            "--no-operator",
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert f"still running at {cluster.api_url}" in completed.stderr
    assert repr(str(cluster.kubeconfig)) in completed.stderr
    assert cluster.kubeconfig.read_text() == before  # the running cluster keeps its kubeconfig
    assert cluster.kubectl("get", "nodes", "-o", "name").stdout.strip() == "node/kubetask-local"


def test_with_exit_with_parent_a_cluster_whose_starter_dies_stops(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    starter = textwrap.dedent(f"""
        import subprocess, sys, time
        dev = subprocess.Popen(
            [sys.executable, "-m", "kubetask_local._cli", "dev", "--no-operator", "--exit-with-parent",
             "--kubeconfig", {str(kubeconfig)!r}],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(dev.pid, flush=True)
        time.sleep(600)
    """)
    with subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        dev_pid = int(parent.stdout.readline())
        wait_for(kubeconfig.exists, 30, "the cluster to be ready")
        parent.kill()
    wait_for(lambda: not _alive(dev_pid), 30, "the orphaned kubetask dev to stop")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_by_default_the_kubeconfig_goes_to_dot_kubetask_and_port_chooses_the_port(tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "kubetask_local._cli", "dev", "--no-operator", "--exit-with-parent"]
    with subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as dev:
        try:
            kubeconfig = tmp_path / ".kubetask" / "kubeconfig"
            wait_for(kubeconfig.exists, 30, "the kubeconfig in .kubetask/")
            server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
            assert server == f"https://127.0.0.1:{port}"  # TLS: kubectl sends tokens only over TLS
            nodes = Cluster(kubeconfig=kubeconfig, is_local=False).kubectl("get", "nodes", "-o", "name")
            assert nodes.stdout.strip() == "node/kubetask-local"
        finally:
            dev.send_signal(signal.SIGTERM)
            output, _ = dev.communicate(timeout=30)
    assert dev.returncode == 0, output
    assert f"export KUBECONFIG={tmp_path / '.kubetask' / 'kubeconfig'}" in output


def test_ctrl_c_in_a_terminal_reaches_the_whole_foreground_group_and_still_stops_cleanly(
    tmp_path: Path,
) -> None:
    # A terminal's Ctrl-C sends SIGINT to every process of the foreground group: the operator subprocess
    # gets it too. kubetask dev must not restart it then, nor print a traceback, and must exit 0.
    kubeconfig, log = tmp_path / "kubeconfig", tmp_path / "dev.log"
    command = [sys.executable, "-m", "kubetask_local._cli", "dev", "--kubeconfig", str(kubeconfig)]
    with (
        log.open("w") as sink,
        subprocess.Popen(
            command, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        ) as dev,
    ):
        try:
            wait_for(lambda: "kubetask operator started" in log.read_text(), 30, "the operator to start")
            operator_pid = local_api_request(kubeconfig, "GET", "/kubetask-local/operator")[1]["pid"]
            os.killpg(dev.pid, signal.SIGINT)
            dev.wait(timeout=30)
        finally:
            if dev.poll() is None:
                os.killpg(dev.pid, signal.SIGKILL)
    output = log.read_text()
    assert dev.returncode == 0, output
    assert "Traceback" not in output
    assert "restarting" not in output  # the operator's own exit during the stop is not a crash to restart
    assert "kubetask dev: stopping" in output
    wait_for(lambda: not _alive(operator_pid), 10, "the operator process to be gone")
