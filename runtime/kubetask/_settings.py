"""What a resolver's ``loader_args`` receives when a task is serialized into a pod command."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SerializationSettings:
    """Where and how the task will run; the default resolver needs none of it, custom ones may.

    image: the container image that will run the task; namespace: the Kubernetes namespace of the run;
    env: extra environment variables for the pod.
    """

    image: str | None = None
    namespace: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
