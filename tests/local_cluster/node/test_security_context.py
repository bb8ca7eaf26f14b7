"""securityContext as the kubelet applies it: runAsNonRoot refused with the kubelet's messages, the process
run as runAsUser/runAsGroup when the node can, and each image's USER taken from the node's table.

Real behaviour: pkg/kubelet/kuberuntime/security_context_others.go (``verifyRunAsNonRoot``), an image with no
USER treated as root (pkg/kubelet/kuberuntime/kuberuntime_container.go, ``getImageUser``), the error reported
as the waiting reason ``CreateContainerConfigError`` with a ``Failed`` event "Error: <message>".
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from kubetask_local._cli import build_parser
from kubetask_local.node._config import NodeConfig
from kubetask_local.node._errors import PodConfigError
from kubetask_local.node._launch import container_user
from kubetask_local.node._security import (
    CAPABILITIES,
    DEFAULT_IMAGE_USERS,
    ImageUser,
    image_user,
    parse_image_user,
    run_as,
    run_as_non_root_error,
)
from kubetask_local.testing import TEST_IMAGE_USERS

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"}, "spec": {}}
WHERE = '(pod: "p_ns(u-1)", container: main)'


def _pod(pod_context: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**POD, "spec": {"securityContext": pod_context or {}}}


def _container(image: str = "app:1", **context: Any) -> dict[str, Any]:
    return {"name": "main", "image": image, "securityContext": context}


@pytest.mark.parametrize(
    ("pod_context", "container_context", "user", "message"),
    [
        pytest.param({}, {}, ImageUser(uid=0), None, id="not-asked"),
        pytest.param(
            {"runAsNonRoot": True},
            {},
            ImageUser(uid=0),
            f"container has runAsNonRoot and image will run as root {WHERE}",
            id="image-root",
        ),
        pytest.param({}, {"runAsNonRoot": True}, ImageUser(uid=1000), None, id="image-non-root"),
        pytest.param(
            {},
            {"runAsNonRoot": True},
            ImageUser(username="app"),
            "container has runAsNonRoot and image has non-numeric user (app), cannot verify user is "
            f"non-root {WHERE}",
            id="image-user-name",
        ),
        pytest.param(
            {"runAsNonRoot": True, "runAsUser": 1000}, {}, ImageUser(uid=0), None, id="run-as-user-wins"
        ),
        pytest.param(
            {"runAsNonRoot": True},
            {"runAsUser": 0},
            ImageUser(uid=1000),
            f"container's runAsUser breaks non-root policy {WHERE}",
            id="run-as-user-zero",
        ),
        pytest.param(
            {"runAsNonRoot": True}, {"runAsNonRoot": False}, ImageUser(uid=0), None, id="container-overrides"
        ),
    ],
)
def test_run_as_non_root_is_verified_as_the_kubelet_does(
    pod_context: dict[str, Any], container_context: dict[str, Any], user: ImageUser, message: str | None
) -> None:
    assert run_as_non_root_error(_pod(pod_context), _container(**container_context), user=user) == message


@pytest.mark.parametrize(
    ("text", "user"),
    [
        pytest.param("", ImageUser(uid=0), id="none-is-root"),
        pytest.param("65532", ImageUser(uid=65532), id="uid"),
        pytest.param("65532:65533", ImageUser(uid=65532, gid=65533), id="uid-gid"),
        pytest.param("app:app", ImageUser(username="app"), id="names"),
    ],
)
def test_an_images_user_is_read_as_dockerfile_user(text: str, user: ImageUser) -> None:
    assert parse_image_user(text) == user


def test_the_image_table_matches_exact_references_then_the_longest_pattern() -> None:
    table = {"team/*": "1", "team/app:*": "2", "team/app:1": "3"}
    assert [image_user(i, table) for i in ("team/app:1", "team/app:2", "team/x:1", "other:1")] == [
        "3",
        "2",
        "1",
        None,
    ]


def _dockerfile_user(path: Path) -> str:
    return [line.split()[1] for line in path.read_text().splitlines() if line.startswith("USER ")][-1]


def test_kubetasks_own_images_have_their_dockerfiles_user() -> None:
    repository = Path(__file__).parents[3]
    operator_user = _dockerfile_user(repository / "operator" / "Dockerfile")
    runtime_user = _dockerfile_user(repository / "runtime" / "Dockerfile")
    assert image_user("ghcr.io/kubetask/kubetask-operator:0.1.0", DEFAULT_IMAGE_USERS) == operator_user
    assert image_user("ghcr.io/kubetask/kubetask-python:0.1.0", DEFAULT_IMAGE_USERS) == runtime_user
    assert image_user("kubetask-tests:local", TEST_IMAGE_USERS) == runtime_user


def test_an_image_the_node_has_no_user_for_runs_as_root_and_the_refusal_says_how_to_declare_one() -> None:
    pod = _pod({"runAsNonRoot": True})
    with pytest.raises(PodConfigError) as refused:
        container_user(pod, _container("python:3.12"), image_users=NodeConfig(root=Path()).all_image_users())
    assert refused.value.reason == "CreateContainerConfigError"
    assert refused.value.message.startswith(f"container has runAsNonRoot and image will run as root {WHERE}")
    assert "--image-user" in refused.value.message
    allowed = container_user(pod, _container("python:3.12"), image_users={"python:*": "1000"})
    assert allowed.uid is None or allowed.uid == 1000


def test_the_process_identity_follows_the_effective_security_context() -> None:
    pod = _pod({"runAsUser": 1000, "supplementalGroups": [5], "fsGroup": 7})
    container = _container(runAsGroup=2000, allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"]})
    applied = run_as(pod, container, user=ImageUser(uid=0), node_is_root=True)
    assert (applied.uid, applied.gid, applied.groups, applied.no_new_privs) == (1000, 2000, (5, 7), True)
    assert applied.drop_capabilities == tuple(range(len(CAPABILITIES)))
    image_group = run_as(
        _pod({"runAsUser": 1000}), _container(), user=ImageUser(uid=1, gid=3), node_is_root=True
    )
    assert image_group.gid == 3
    # An unprivileged node cannot change users: it keeps its own and only sets no_new_privs.
    unprivileged = run_as(pod, container, user=ImageUser(uid=0), node_is_root=False)
    assert (unprivileged.uid, unprivileged.gid, unprivileged.no_new_privs) == (None, None, True)


# ---------------------------------------------------------------- end to end


@pytest.mark.e2e
def test_run_as_non_root_with_a_root_image_is_a_create_container_config_error(pods: Any) -> None:
    # python:3.12-slim has no USER: it runs as root, which runAsNonRoot refuses on every real node.
    pods.create("rootimage", pods.container("print('never')", securityContext={"runAsNonRoot": True}))
    pod = pods.waiting_reason("rootimage", "CreateContainerConfigError", timeout=60)
    message = pods.state(pod)["waiting"]["message"]
    uid = pod["metadata"]["uid"]
    expected = (
        f'container has runAsNonRoot and image will run as root (pod: "rootimage_{pods.namespace}({uid})", '
    )
    assert message.startswith(expected + "container: main)")
    pods.wait_events("rootimage", "Failed")
    failed = [e["message"] for e in pods.events("rootimage") if e["reason"] == "Failed"]
    assert any(m.startswith("Error: " + expected) for m in failed)


@pytest.mark.e2e
def test_run_as_non_root_with_a_run_as_user_runs_as_that_user(pods: Any) -> None:
    # runAsUser satisfies runAsNonRoot whatever the image's user; the process runs as that uid and gid.
    # (sh, not the node's python: a process running as another user must be able to reach its executable)
    context = {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65533}
    container = {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "id -u; id -g"]}
    pods.create("asuser", container | {"securityContext": context})
    pods.wait_phase("asuser", "Succeeded", timeout=60)
    if not pods.cluster.is_local or os.geteuid() == 0:  # an unprivileged local node keeps its own user
        assert pods.logs("asuser").split() == ["65532", "65533"]


@pytest.mark.e2e
def test_no_new_privileges_and_dropped_capabilities_reach_the_process(pods: Any) -> None:
    code = """
    import re
    status = open("/proc/self/status").read()
    print(*(re.search(rf"{key}:\\s*(\\w+)", status).group(1) for key in ("NoNewPrivs", "CapBnd")))
    """
    context = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    pods.create("restricted", pods.container(code, securityContext=context))
    pods.wait_phase("restricted", "Succeeded", timeout=60)
    no_new_privs, bounding = pods.logs("restricted").split()
    assert no_new_privs == "1"
    if not pods.cluster.is_local or os.geteuid() == 0:
        assert int(bounding, 16) == 0
    assert re.fullmatch(r"[0-9a-f]+", bounding)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        pytest.param("myorg/tasks:*=1000", ("myorg/tasks:*", "1000"), id="pattern"),
        pytest.param("app:1=1000:1000", ("app:1", "1000:1000"), id="uid-gid"),
        pytest.param("app:1", None, id="no-user"),
        pytest.param("=1000", None, id="no-image"),
        pytest.param("app:1=:1000", None, id="group-only"),
    ],
)
def test_kubetask_dev_image_user_option(
    argument: str, expected: tuple[str, str] | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if expected is None:
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--image-user", argument])
        error = capsys.readouterr().err
        assert "--image-user expects IMAGE=USER (for example 'myorg/tasks:*=1000'" in error
        assert f"got {argument!r}" in error
    else:
        assert build_parser().parse_args(["--image-user", argument]).image_user == [expected]


@pytest.mark.e2e
def test_a_read_only_root_filesystem_leaves_only_writable_volumes_writable(pods: Any) -> None:
    # readOnlyRootFilesystem: "Whether this container has a read-only root filesystem" (core/v1
    # SecurityContext); volumeMounts[].readOnly mounts read-only; an emptyDir stays writable, as does the
    # termination-message file.
    code = """
    import errno, os
    def attempt(path):
        try:
            with open(path, "w") as file:
                file.write("x")
            return "ok"
        except OSError as error:
            return errno.errorcode[error.errno]
    print(attempt("/scratch/x"), attempt("/tmp/kubetask-ro-check"), attempt("/frozen/x"))
    with open(os.environ["KUBETASK_TERMINATION_MESSAGE_PATH"], "w") as file:
        file.write("done")
    """
    mounts = [
        {"name": "scratch", "mountPath": "/scratch"},
        {"name": "frozen", "mountPath": "/frozen", "readOnly": True},
    ]
    container = pods.container(code, securityContext={"readOnlyRootFilesystem": True}, volumeMounts=mounts)
    volumes = [{"name": "scratch", "emptyDir": {}}, {"name": "frozen", "emptyDir": {}}]
    pods.create("readonly", container, volumes=volumes)
    pod = pods.wait_phase("readonly", "Succeeded", timeout=60)
    assert pods.state(pod)["terminated"]["message"] == "done"
    if not pods.cluster.is_local or os.geteuid() == 0:  # an unprivileged local node cannot enforce it
        assert pods.logs("readonly").split() == ["ok", "EROFS", "EROFS"]
    if pods.cluster.is_local and os.geteuid() == 0:
        assert not Path("/tmp/kubetask-ro-check").exists()  # the host's /tmp, where the write would have gone
