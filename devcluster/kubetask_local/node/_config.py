"""The local node's settings: one frozen object given to :class:`kubetask_local.LocalNode`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubetask_local.node._security import DEFAULT_IMAGE_USERS
from kubetask_local.node._spec import Taint


@dataclass(frozen=True)
class FastMode:
    """Benchmark mode: pods complete at once with this exit code and termination message, without running."""

    exit_code: int = 0
    termination_message: str = ""


@dataclass(frozen=True)
class NodeConfig:
    """How the local node presents itself and how quickly it reacts.

    The timings are short by default because this is a development cluster; a real kubelet's pull back-off
    starts at 10 s and the node-lifecycle controller waits 40 s before a silent node is Unknown and 5 min
    before its pods are evicted.
    """

    root: Path
    name: str = "kubetask-local"
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    failing_images: frozenset[str] = frozenset()
    # Image reference or glob pattern -> its USER (``uid``, ``uid:gid``, ``name``), over the defaults for
    # kubetask's own images (see ``all_image_users``).
    image_users: Mapping[str, str] = field(default_factory=dict)
    host_ip: str = "127.0.0.1"
    pod_ip: str = "127.0.0.1"
    bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    working_dir: Path = field(default_factory=Path.cwd)
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    fast_mode: FastMode | None = None
    pull_backoff: float = 1.0
    pull_backoff_max: float = 20.0
    restart_backoff: float = 1.0
    restart_backoff_max: float = 20.0
    config_retry: float = 0.5
    heartbeat_interval: float = 5.0
    node_monitor_grace: float = 1.0
    pod_eviction_timeout: float = 3.0
    memory_poll_interval: float = 0.1
    api_retry_for: float = 30.0

    def all_image_users(self) -> dict[str, str]:
        """Each image's USER, for ``runAsNonRoot``; an image matching none runs as root, as an image
        without USER does."""
        return {**DEFAULT_IMAGE_USERS, **self.image_users}

    def all_labels(self) -> dict[str, str]:
        return {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": _arch(),
            "node.kubernetes.io/instance-type": "kubetask-local",
            **self.labels,
        }


def _arch() -> str:
    machine = os.uname().machine if hasattr(os, "uname") else "amd64"
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
