"""Errors of the local node, in a leaf module so every node module can raise them without cycles."""

from __future__ import annotations


class NodeError(Exception):
    """Base class of the local node's errors."""


class ApiError(NodeError):
    """The API server answered a request of the node with an error status."""

    def __init__(
        self, *, method: str, path: str, status: int, reason: str, message: str, retry_after: float = 0.0
    ) -> None:
        super().__init__(f"{method} {path} answered {status} {reason}: {message}")
        self.retry_after = retry_after
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.message = message


class PodGone(NodeError):
    """The pod object no longer exists in the API: its worker stops."""


class PodConfigError(NodeError):
    """A pod cannot start yet: a referenced ConfigMap/Secret/key is missing or a field is unusable.

    ``reason`` is what a kubelet would put in the container's waiting state (``CreateContainerConfigError``
    for env references, ``ContainerCreating`` plus a ``FailedMount`` event for volumes).
    """

    def __init__(
        self, message: str, *, reason: str = "CreateContainerConfigError", event: str = "Failed"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.event = event


class QuantityError(NodeError, ValueError):
    """A resource quantity such as ``resources.limits.memory`` could not be parsed."""
