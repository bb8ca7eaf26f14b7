"""A pod stays inside what the node gives it: paths the node maps never lead to the host's files of the same
name, and the processes a container leaves behind end with it.

On a real node the container's mount namespace makes ``/dev/termination-log`` the kubelet's per-container
file (pkg/kubelet/kuberuntime/kuberuntime_container.go, ``makeMounts``: the termination message path is a
bind mount of ``<pod dir>/containers/<name>/<id>``), and the container's PID namespace ends every process
with the container. The local node has neither, so it rewrites paths and kills the container's process tree.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubetask_local.node._containers import read_termination_file, reset_termination_file
from kubetask_local.node._env import PodNetwork
from kubetask_local.node._errors import PodConfigError
from kubetask_local.node._launch import working_dir
from kubetask_local.node._shim import RunAs
from kubetask_local.node._volumes import map_paths, mount_mapping, plan_volumes
from kubetask_local.testing import wait_for

TERMINATION = "/dev/termination-log"


@pytest.fixture
def mapping(tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "volumes" / "data"
    data.mkdir(parents=True)
    container = {"name": "main", "volumeMounts": [{"name": "data", "mountPath": "/data/"}]}
    return mount_mapping(
        container, volume_dirs={"data": data}, termination_file=tmp_path / "containers" / "termination-log"
    )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param("echo x > /dev/termination-log; exit 1", "echo x > {T}; exit 1", id="semicolon"),
        pytest.param("echo x >/dev/termination-log", "echo x >{T}", id="redirect-no-space"),
        pytest.param("echo x>>/dev/termination-log&&exit 1", "echo x>>{T}&&exit 1", id="append-and"),
        pytest.param("(cat /dev/termination-log)|wc", "(cat {T})|wc", id="subshell-pipe"),
        pytest.param("x=$(cat /dev/termination-log)", "x=$(cat {T})", id="command-substitution"),
        pytest.param("x=`cat /dev/termination-log`", "x=`cat {T}`", id="backquotes"),
        pytest.param('echo x > "/dev/termination-log"', 'echo x > "{T}"', id="double-quoted"),
        pytest.param("echo x > /dev/termination-log$EMPTY", "echo x > {T}$EMPTY", id="followed-by-variable"),
        pytest.param("echo x > //dev//termination-log", "echo x > {T}", id="double-slashes"),
        pytest.param("echo x > /dev/./termination-log", "echo x > {T}", id="dot"),
        pytest.param("echo x > /tmp/../dev/termination-log", "echo x > {T}", id="dot-dot-into"),
        pytest.param("echo x > /data/../../etc/passwd", "echo x > /data/../../etc/passwd", id="dot-dot-out"),
        pytest.param("cp a /data/x/../y/", "cp a {D}/y/", id="dot-dot-inside"),
        pytest.param("echo > /dev/termination-log.bak", "echo > /dev/termination-log.bak", id="longer-name"),
        pytest.param("cat x/dev/termination-log", "cat x/dev/termination-log", id="relative"),
        pytest.param("--out=s3://data/x", "--out=s3://data/x", id="url"),
        pytest.param("PATH=/data/bin:/usr/bin", "PATH={D}/bin:/usr/bin", id="list"),
    ],
)
def test_every_spelling_of_a_mapped_path_is_mapped_and_none_leads_out(
    mapping: dict[str, str], command: str, expected: str
) -> None:
    # The class of bug: "/dev/termination-log" was mapped only before a space, quote, ':', ',' or '/', so
    # `echo x > /dev/termination-log; exit 1` wrote the host's /dev/termination-log.
    local = expected.format(T=mapping[TERMINATION], D=mapping["/data"])
    assert map_paths(command, mapping) == local


def test_hostile_shell_commands_write_the_pods_file_and_nothing_else(tmp_path: Path) -> None:
    # A mapped path that does not exist on this machine: any write that escapes the mapping fails loudly
    # (the shell cannot create the directory) instead of touching a host file.
    outside = "/kubetask-test-nonexistent/termination-log"
    local = tmp_path / "containers" / "main" / "termination-log"
    local.parent.mkdir(parents=True)
    mapping = mount_mapping(
        {"name": "main", "terminationMessagePath": outside}, volume_dirs={}, termination_file=local
    )
    for script in (
        f"echo x > {outside}; exit 0",
        f"echo x >{outside}&& true",
        f"(echo x)>>{outside}|true",
        f"echo x > /{outside}",
        "echo x > /kubetask-test-nonexistent/./termination-log;",
    ):
        local.unlink(missing_ok=True)
        result = subprocess.run(
            ["sh", "-c", map_paths(script, mapping)], check=False, capture_output=True, text=True
        )
        assert result.returncode == 0, (script, result.stderr)
        assert local.read_text() == "x\n", script
    assert not Path(outside).parent.exists()


def test_a_working_dir_cannot_climb_out_of_the_pods_rootfs(tmp_path: Path) -> None:
    # workingDir is a path in the container's filesystem, where /.. is / (path_resolution(7)).
    made = working_dir(
        {"workingDir": "/../../../kubetask-escape"}, {}, default=tmp_path, pod_dir=tmp_path / "pod"
    )
    assert made == tmp_path / "pod" / "rootfs" / "kubetask-escape"
    assert not Path("/kubetask-escape").exists()


def test_a_sub_path_cannot_lead_out_of_its_volume(tmp_path: Path) -> None:
    # kubelet: pkg/volume/util/subpath/subpath_linux.go refuses subPaths that resolve outside the volume
    # (CVE-2017-1002101), symbolic links planted by the pod included.
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "link").symlink_to(tmp_path)
    for sub_path in ("link/escaped", "../escaped"):
        container = {"name": "main", "volumeMounts": [{"name": "v", "mountPath": "/m", "subPath": sub_path}]}
        with pytest.raises(Exception, match=f"subpath {sub_path!r} is outside the volume"):
            mount_mapping(container, volume_dirs={"v": volume}, termination_file=tmp_path / "t")
    assert not (tmp_path / "escaped").exists()


def test_a_claim_name_cannot_lead_out_of_the_claims_directory(tmp_path: Path) -> None:
    # A claimName is only required to be non-empty (ValidatePersistentVolumeClaimVolumeSource); the kubelet
    # looks it up as an object name, so "../x" is simply a claim that does not exist.
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "../../escaped"}}]},
    }
    network = PodNetwork(node_name="n")
    with pytest.raises(PodConfigError, match=re.escape('persistentvolumeclaim "../../escaped" not found')):
        plan_volumes(pod, objects={}, network=network, claims_root=tmp_path / "claims")


def test_the_node_never_follows_what_the_pod_put_at_its_termination_file(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("host data")
    planted = tmp_path / "termination-log"
    planted.symlink_to(secret)
    assert read_termination_file(planted) == b""  # not published as the pod's message
    reset_termination_file(planted)  # the next run's empty file: the link goes, the target is untouched
    assert secret.read_text() == "host data"
    assert not planted.is_symlink()
    assert planted.read_bytes() == b""
    planted.unlink()
    os.mkfifo(planted)
    assert read_termination_file(planted) == b""  # a FIFO would block the node forever


@pytest.mark.e2e
def test_a_pod_writing_the_termination_log_from_a_shell_reports_it(pods: Any) -> None:
    # The kubelet reads the file the container wrote at terminationMessagePath (default /dev/termination-log,
    # pkg/apis/core/types.go TerminationMessagePathDefault) into state.terminated.message.
    pods.create(
        "shell-message",
        {
            "name": "main",
            "image": "busybox:1.36",
            "command": ["sh", "-c", "echo x > /dev/termination-log; exit 1"],
        },
    )
    pod = pods.wait_phase("shell-message", "Failed")
    terminated = pods.state(pod)["terminated"]
    assert (terminated["exitCode"], terminated.get("message")) == (1, "x\n")
    if pods.cluster.is_local:
        assert not Path(TERMINATION).exists()


# A daemon in the making: double fork, a session of its own, stdio let go, then it keeps writing a file, the
# way a task's forgotten helper process does. Its pid goes to the log.
_DETACH = """
import os, sys, time
read, write = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(write, str(os.getpid()).encode())
        os.close(write)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        while True:
            with open(os.devnull, "w") as file:
                file.write("still here")
            time.sleep(0.05)
    os._exit(0)
os.close(write)
print(os.read(read, 100).decode(), flush=True)
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("ending", "end"),
    [
        pytest.param("", "main-exits", id="main-process-exits"),
        pytest.param("time.sleep(600)", "deleted", id="pod-deleted"),
    ],
)
def test_processes_a_container_leaves_behind_end_with_it(
    pods: Any, local_cluster: Any, ending: str, end: str
) -> None:
    # pid_namespaces(7): "If the 'init' process of a PID namespace terminates, the kernel terminates all of
    # the processes in the namespace via a SIGKILL signal" -- a container's main process is that init, and
    # a deleted pod's containers end with it. Today's bug: a detached child kept writing after Succeeded.
    name = f"leaves-{end}"
    pods.create(name, pods.container(_DETACH + ending))
    daemon = int(wait_for(lambda: pods.logs(name).strip() or None, 60, "the daemon's pid in the log"))
    if end == "deleted":
        assert _alive(daemon)
        local_cluster.kubectl("delete", "pod", name, "-n", pods.namespace, "--wait=true", timeout=120)
    else:
        pods.wait_phase(name, "Succeeded", timeout=60)
    # Already gone when the pod's end is reported: the container is not over while one of its processes runs.
    assert not _alive(daemon)


def _shim(*argv: str) -> tuple[int, bytes]:
    """Run the node's container shim on ``argv``; its exit code and what it wrote to the status pipe."""
    shim = Path(__file__).parents[3] / "devcluster" / "kubetask_local" / "node" / "_shim.py"
    read_end, write_end = os.pipe()
    with subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-S",
            str(shim),
            str(write_end),
            str(os.getpid()),
            *RunAs().shim_arguments(),
            "--",
            *argv,
        ],
        pass_fds=(write_end,),
    ) as process:
        os.close(write_end)
        with os.fdopen(read_end, "rb") as status:
            reported = status.read()
        return process.wait(timeout=60), reported


@pytest.mark.parametrize(
    ("argv", "code", "status"),
    [
        pytest.param(["sh", "-c", "exit 7"], 7, b"", id="exit-code"),
        pytest.param(["sh", "-c", "kill -9 $$"], 137, b"", id="killed-128-plus-signal"),
        pytest.param(["kubetask-no-such-program"], 128, b"2 No such file or directory", id="exec-failure"),
    ],
)
def test_the_shim_exits_as_its_main_process_and_reports_exec_failures(
    argv: list[str], code: int, status: bytes
) -> None:
    # The runtime's exit codes: 128+signal for a killed process; an exec failure is a StartError (128).
    assert _shim(*argv) == (code, status)
