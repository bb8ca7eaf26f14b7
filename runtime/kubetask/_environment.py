"""The environment variables the operator sets in a task pod, read once into a frozen object."""

from __future__ import annotations

import os

from kubetask._errors import UsageError
from kubetask._frozen import Frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Mapping

RUN_NAME = "KUBETASK_RUN_NAME"
NAMESPACE = "KUBETASK_NAMESPACE"
ATTEMPT = "KUBETASK_ATTEMPT"
TERMINATION_MESSAGE_PATH = "KUBETASK_TERMINATION_MESSAGE_PATH"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"


class PodEnvironment(Frozen):
    """``KUBETASK_*`` settings of the current process (immutable)."""

    __slots__ = ("attempt", "namespace", "run_name", "termination_message_path")

    attempt: int
    namespace: str | None
    run_name: str | None
    termination_message_path: str | None

    def __init__(
        self,
        *,
        attempt: int,
        namespace: str | None,
        run_name: str | None,
        termination_message_path: str | None,
    ) -> None:
        self._set_fields(
            attempt=attempt,
            namespace=namespace,
            run_name=run_name,
            termination_message_path=termination_message_path,
        )

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, default_termination_path: str = DEFAULT_TERMINATION_MESSAGE_PATH
    ) -> PodEnvironment:
        """Read *environ*; the termination message goes to *default_termination_path* when the variable
        is unset and that file is writable (the kubelet mounts it in every container)."""
        raw_attempt = environ.get(ATTEMPT, "1")
        try:
            attempt = int(raw_attempt)
        except ValueError:
            attempt = 0
        if attempt < 1:
            raise UsageError(f"{ATTEMPT}: expected a positive integer (1-based), got {raw_attempt!r}")
        termination_path = environ.get(TERMINATION_MESSAGE_PATH)
        if termination_path is None and os.access(default_termination_path, os.W_OK):
            termination_path = default_termination_path  # only when the kubelet mounted it
        return cls(
            attempt=attempt,
            namespace=environ.get(NAMESPACE) or None,
            run_name=environ.get(RUN_NAME) or None,
            termination_message_path=termination_path or None,
        )
