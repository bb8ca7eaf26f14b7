"""The pod command never changes meaning: the user's strings reach ``kubetask-execute`` exactly as written.

The kubelet expands ``$(VAR)`` in a container's command and args and turns ``$$`` into ``$``
(kubernetes/kubernetes third_party/forked/golang/expansion/expand.go, applied to command and args by
pkg/kubelet/container/helpers.go ExpandContainerCommandAndArgs); the local node does the same. The task here
returns its own argv, so what the container was really started with is in the TaskRun's outputs.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from kubetask_local.testing import Cluster

from .conftest import IMAGE, TaskRuns

pytestmark = pytest.mark.e2e

ECHO_MODULE = textwrap.dedent(
    '''
    """A resolver whose task returns the argv kubetask-execute was started with."""

    import sys
    from collections.abc import Sequence

    import kubetask


    @kubetask.task
    def argv() -> list[str]:
        return sys.argv[1:]


    class EchoResolver(kubetask.TaskResolverMixin):
        def load_task(self, loader_args: Sequence[str]) -> kubetask.Task[..., object]:
            return argv

        def loader_args(self, settings: kubetask.SerializationSettings, task: object) -> list[str]:
            return ["any"]

        def get_all_tasks(self) -> list[kubetask.Task[..., object]]:
            return [argv]


    resolver = EchoResolver()
    '''
)
ECHO_MOUNT = "/opt/kubetask-echo"
# Below the pod's own scratch volume, which every cluster lets the task write.
OUTPUT_SUFFIX = "kubetask-out/$(KUBETASK_NAMESPACE)/$$dollars"


def test_loader_args_and_output_prefix_reach_the_runtime_unexpanded(
    cluster: Cluster, taskruns: TaskRuns, storage_prefix: str | None
) -> None:
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "echoargs"},
            "data": {"echoargs.py": ECHO_MODULE},
        },
        namespace=taskruns.namespace,
    )
    loader_args = ["key", "greet/$(KUBETASK_ATTEMPT)", "$$", "$(UNDEFINED_VARIABLE)", "$", "$(", "a$b"]
    taskrun: dict[str, Any] = {
        "apiVersion": "kubetask.dev/v1alpha1",
        "kind": "TaskRun",
        "metadata": {"name": "echo"},
        "spec": {
            "image": IMAGE,
            "resolver": "echoargs.resolver",
            "loaderArgs": loader_args,
            "env": [{"name": "PYTHONPATH", "value": ECHO_MOUNT}],
            "podTemplate": {
                "volumes": [{"name": "echo", "configMap": {"name": "echoargs"}}],
                "volumeMounts": [{"name": "echo", "mountPath": ECHO_MOUNT}],
            },
        },
    }
    # An operator with a storage prefix confines outputPrefix to the namespace's part of the storage; this
    # test writes there only where it knows the prefix (the local cluster's, or $KUBETASK_STORAGE_PREFIX).
    own_prefix = cluster.is_local or storage_prefix is not None
    if own_prefix:
        base = (
            f"{storage_prefix.rstrip('/')}/{taskruns.namespace}"
            if storage_prefix
            else "/var/run/kubetask/scratch"
        )
        taskrun["spec"]["outputPrefix"] = f"{base}/{OUTPUT_SUFFIX}"
    cluster.apply(taskrun, namespace=taskruns.namespace)
    status = taskruns.wait_finished("echo", timeout=120)
    assert status["phase"] == "Succeeded", status
    argv = status["outputs"]["o0"]
    assert argv[argv.index("--") + 1 :] == loader_args
    if own_prefix:
        # The local node maps a scratch volume's path to a folder of its own: compare what follows the base.
        output_prefix = argv[argv.index("--output-prefix") + 1]
        assert output_prefix.endswith(f"/{OUTPUT_SUFFIX}/1"), output_prefix
