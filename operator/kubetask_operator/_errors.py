"""The operator's exceptions, in a leaf module so every other module can import them without cycles."""

from __future__ import annotations


class KubetaskOperatorError(Exception):
    """Base of every error the operator raises on purpose."""


class SettingsError(KubetaskOperatorError, ValueError):
    """A ``KUBETASK_*`` environment variable has a value the operator cannot use; the message names it."""


class InvalidSpecError(KubetaskOperatorError, ValueError):
    """A TaskRun the schema let through but the operator cannot act on; the message names the field."""


class LeadershipLostError(KubetaskOperatorError):
    """The operator could not renew its leader-election Lease in time and stopped serving."""


class ApiError(KubetaskOperatorError):
    """The Kubernetes API answered with an error status after the client's own retries."""

    def __init__(self, *, method: str, path: str, status: int, reason: str, message: str) -> None:
        super().__init__(f"{method} {path} failed with HTTP {status} {reason}: {message}")
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.message = message
