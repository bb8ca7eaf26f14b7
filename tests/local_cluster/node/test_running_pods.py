"""Pods run to completion and are reported as a kubelet reports them: phase, conditions, container states,
logs for ``kubectl logs`` and the termination message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubetask_local.testing import wait_for

pytestmark = pytest.mark.e2e


def test_a_succeeding_pod_reports_status_logs_and_termination_message(pods: Any) -> None:
    pods.create(
        "ok",
        pods.container("""
        import os, sys
        print("hello from", os.environ["HOSTNAME"])
        print("to stderr", file=sys.stderr)
        with open(os.environ["KUBETASK_TERMINATION_MESSAGE_PATH"], "w") as file:
            file.write('{"outcome":"Succeeded"}')
    """),
    )
    pod = pods.wait_phase("ok", "Succeeded")
    status = pod["status"]
    assert status["startTime"]
    assert status["hostIP"] == status["podIP"] == "127.0.0.1" or not pods.cluster.is_local
    assert pods.condition(pod, "PodScheduled")["status"] == "True"
    assert pods.condition(pod, "Initialized")["status"] == "True"
    assert pods.condition(pod, "Ready") | {"lastTransitionTime": None} == pods.condition(pod, "Ready") | {
        "status": "False",
        "reason": "PodCompleted",
        "lastTransitionTime": None,
    }
    assert pods.condition(pod, "ContainersReady")["reason"] == "PodCompleted"
    assert pod["spec"]["nodeName"]
    terminated = pods.state(pod)["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    assert terminated["startedAt"] <= terminated["finishedAt"]
    assert json.loads(terminated["message"]) == {"outcome": "Succeeded"}
    assert pods.logs("ok") == "hello from ok\nto stderr\n"
    reasons = pods.wait_events("ok", "Scheduled", "Pulled", "Created", "Started")
    assert reasons.index("Scheduled") < reasons.index("Started")


def test_a_failing_container_fails_the_pod_with_its_exit_code(pods: Any) -> None:
    pods.create("fails", pods.container("import sys; print('bad input'); sys.exit(3)"))
    pod = pods.wait_phase("fails", "Failed")
    terminated = pods.state(pod)["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert "message" not in terminated  # policy File with an empty file: no message


def test_fallback_to_logs_on_error_uses_the_log_tail_when_the_file_is_empty(pods: Any) -> None:
    code = "import sys\nfor i in range(100): print('line', i)\nsys.exit(1)"
    pods.create("fallback", pods.container(code, terminationMessagePolicy="FallbackToLogsOnError"))
    message = pods.state(pods.wait_phase("fallback", "Failed"))["terminated"]["message"]
    lines = message.splitlines()
    assert lines[-1] == "line 99"
    assert len(lines) == 80  # the kubelet keeps the last 80 lines


def test_the_termination_message_file_wins_over_logs_and_is_cut_at_4096_bytes(pods: Any) -> None:
    code = """
        import os, sys
        print("log line")
        open(os.environ["KUBETASK_TERMINATION_MESSAGE_PATH"], "w").write("x" * 5000)
        sys.exit(2)
    """
    pods.create("long", pods.container(code, terminationMessagePolicy="FallbackToLogsOnError"))
    message = pods.state(pods.wait_phase("long", "Failed"))["terminated"]["message"]
    assert message == "x" * 4096


def test_a_container_runs_while_it_runs_and_kubectl_logs_follows_it(pods: Any) -> None:
    pods.create("slow", pods.container("import time; print('started', flush=True); time.sleep(30)"))
    pod = pods.wait(
        "slow", lambda p: "running" in pods.state(p) and "started" in pods.logs("slow"), "running with output"
    )
    assert pod["status"]["phase"] == "Running"
    assert pods.condition(pod, "Ready")["status"] == "True"
    assert "startedAt" in pods.state(pod)["running"]
    assert pods.logs("slow", "--timestamps").split(" ", 1)[1] == "started\n"


def test_logs_follow_until_the_container_ends(pods: Any) -> None:
    pods.create(
        "counting",
        pods.container("""
        import time
        for i in range(5):
            print("tick", i, flush=True)
            time.sleep(0.1)
    """),
    )
    pods.wait("counting", lambda p: p["status"].get("phase") in ("Running", "Succeeded"), "started")
    followed = pods.cluster.kubectl("logs", "-f", "counting", "-n", pods.namespace, timeout=30).stdout
    assert followed == "".join(f"tick {i}\n" for i in range(5))
    assert pods.logs("counting", "--tail=2") == "tick 3\ntick 4\n"


def test_every_container_of_a_pod_runs_and_one_failure_fails_the_pod(pods: Any) -> None:
    pods.create(
        "two",
        pods.container("print('first')", name="first"),
        pods.container("import sys; print('second'); sys.exit(7)", name="second"),
    )
    pod = pods.wait_phase("two", "Failed")
    assert pods.state(pod, "first")["terminated"]["exitCode"] == 0
    assert pods.state(pod, "second")["terminated"]["exitCode"] == 7
    assert pods.logs("two", "-c", "first") == "first\n"
    assert pods.logs("two", "-c", "second") == "second\n"


def test_a_missing_executable_is_a_start_error(pods: Any) -> None:
    pods.create("noexec", {"name": "main", "image": "python:3.12-slim", "command": ["no-such-binary-kt"]})
    terminated = pods.state(pods.wait_phase("noexec", "Failed"))["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
    assert "no-such-binary-kt" in terminated["message"]


COUNT_RUNS = """
import os, sys
count = int(open("/scratch/runs").read()) + 1 if os.path.exists("/scratch/runs") else 1
open("/scratch/runs", "w").write(str(count))
print("run", count)
sys.exit(0 if count >= 3 else 1)
"""


def test_on_failure_restarts_a_failing_container_until_it_succeeds(pods: Any) -> None:
    container = pods.container(COUNT_RUNS, volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}])
    pods.create(
        "retries", container, restartPolicy="OnFailure", volumes=[{"name": "scratch", "emptyDir": {}}]
    )
    pod = pods.wait_phase("retries", "Succeeded", timeout=60)
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] == 2
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["state"]["terminated"]["exitCode"] == 0
    assert pods.logs("retries") == "run 3\n"  # each run has its own log
    assert pods.logs("retries", "--previous") == "run 2\n"


def test_always_restarts_even_a_succeeding_container_and_the_pod_keeps_running(pods: Any) -> None:
    pods.create("forever", pods.container("print('tick')"), restartPolicy="Always")
    pod = pods.wait(
        "forever",
        lambda p: (p["status"].get("containerStatuses") or [{}])[0].get("restartCount", 0) >= 1,
        "a restart",
        timeout=60,
    )
    assert pod["status"]["phase"] == "Running"
    status = pod["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["reason"] == "Completed"
    assert "BackOff" in pods.wait_events("forever", "BackOff")
    pods.cluster.kubectl("delete", "pod", "forever", "-n", pods.namespace, "--wait=true", timeout=30)
    assert not pods.exists("forever")


def test_init_containers_run_in_order_before_the_containers(pods: Any) -> None:
    mount = [{"name": "shared", "mountPath": "/shared"}]
    first = pods.container(
        "open('/shared/order', 'a').write('first,'); print('init one')", name="first", volumeMounts=mount
    )
    second = pods.container("open('/shared/order', 'a').write('second,')", name="second", volumeMounts=mount)
    main = pods.container("print(open('/shared/order').read())", volumeMounts=mount)
    pods.create(
        "initialised", main, initContainers=[first, second], volumes=[{"name": "shared", "emptyDir": {}}]
    )
    pod = pods.wait_phase("initialised", "Succeeded")
    assert pods.logs("initialised") == "first,second,\n"
    assert pods.logs("initialised", "-c", "first") == "init one\n"
    init_states = [s["state"]["terminated"]["reason"] for s in pod["status"]["initContainerStatuses"]]
    assert init_states == ["Completed", "Completed"]
    assert pods.condition(pod, "Initialized")["status"] == "True"


def test_a_failing_init_container_fails_the_pod_before_its_containers_start(pods: Any) -> None:
    failing = pods.container("import sys; sys.exit(4)", name="setup")
    pods.create("noinit", pods.container("print('never')"), initContainers=[failing])
    pod = pods.wait_phase("noinit", "Failed")
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 4
    assert pods.state(pod)["waiting"]["reason"] == "PodInitializing"
    initialized = pods.condition(pod, "Initialized")
    assert (initialized["status"], initialized["reason"]) == ("False", "ContainersNotInitialized")


def test_kubectl_run_interactive_attaches_to_the_output_and_exits_with_the_container(pods: Any) -> None:
    # `kubectl run -i --rm` attaches (WebSocket pods/attach) once the pod runs: the output written after that
    # comes through, kubectl exits with the container's exit code and deletes the pod.
    code = "import sys, time; time.sleep(1.5); print('out', flush=True); print('err', file=sys.stderr)"
    code += "; sys.exit(3)"
    result = pods.cluster.kubectl(
        *("run", "interactive", "-i", "--rm", "-n", pods.namespace, "--image", pods.image),
        *("--restart=Never", "--command", "--", "python", "-c", code),
        input="",
        check=False,
        timeout=60,
    )
    assert "couldn't attach" not in result.stderr
    assert result.stdout.splitlines()[0] == "out"
    assert "err" in (result.stdout + result.stderr).splitlines()  # the local node sends both as stdout
    assert result.returncode == 3, result.stderr
    wait_for(lambda: not pods.exists("interactive"), 30, "the --rm pod to be deleted")


def test_kubectl_attach_streams_output_until_the_container_ends(pods: Any) -> None:
    code = "import time\nfor i in range(8):\n    print('tick', i, flush=True)\n    time.sleep(0.4)"
    pods.create("ticking", pods.container(code))
    pods.wait("ticking", lambda p: p["status"].get("phase") == "Running", "running")
    attached = pods.cluster.kubectl("attach", "ticking", "-n", pods.namespace, timeout=30).stdout
    lines = attached.splitlines()
    assert lines[-1:] == ["tick 7"]  # up to the end, in order, from the moment of attaching
    assert lines == [f"tick {i}" for i in range(8 - len(lines), 8)]
