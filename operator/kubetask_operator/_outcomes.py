"""How an attempt ended, decided from its pod: the table from pod states to TaskRun reasons.

Each reason says who is to blame (``errorKind`` USER or SYSTEM) and whether trying again can help
(``recoverable``), which decides the retry budget it uses: recoverable USER failures use the TaskRun's
``retries``; recoverable SYSTEM failures use the operator's system budget; the others fail at once.
Outputs and errors come from the termination message the runtime writes, so the operator never reads storage.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import kubetask
from kubetask_operator._nesting import (
    DECODE_DEPTH,
    MAX_NESTING,
    describe_path,
    path_too_deep,
    tolerant_loads,
)
from kubetask_operator._observe import PodObservation

ErrorKind = Literal["USER", "SYSTEM"]
MESSAGE_MAX = 1024

# Waiting reasons of a container that cannot start, grouped by what the TaskRun reports when they last.
IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "RegistryUnavailable"}
)
CONFIG_ERROR_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})
# Warning Events of the kubelet about a pod's volumes, for a pod waiting in ContainerCreating: a missing
# Secret or ConfigMap, a volume it cannot set up (pkg/kubelet/volumemanager, events.FailedMountVolume).
VOLUME_ERROR_REASONS = frozenset({"FailedMount", "FailedAttachVolume", "FailedMapVolume"})
START_ERROR_REASONS = frozenset({"StartError", "ContainerCannotRun"})
EVICTION_REASONS = frozenset({"Evicted", "Preempting", "Shutdown", "NodeShutdown", "Terminated"})
# DisruptionTarget reasons of a pod whose node went away: the taint manager evicts pods from an unreachable or
# not-ready node, the pod GC deletes those of a node that no longer exists
# (https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-conditions).
NODE_LOST_DISRUPTIONS = frozenset({"DeletionByTaintManager", "DeletionByPodGC"})


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The end of one attempt."""

    reason: str
    message: str
    succeeded: bool = False
    error_kind: ErrorKind | None = None
    recoverable: bool = False
    error_type: str | None = None
    exit_code: int | None = None
    outputs: dict[str, Any] | None = None
    outputs_uri: str | None = None
    error_uri: str | None = None
    outputs_truncated: bool = False

    def error(self) -> dict[str, Any]:
        """The TaskRun's ``status.error`` for this outcome."""
        error: dict[str, Any] = {
            "kind": self.error_kind or "SYSTEM",
            "recoverable": self.recoverable,
            "type": self.error_type or self.reason,
            "message": self.message,
        }
        if self.error_uri:
            error["uri"] = self.error_uri
        return error


def cut(text: str, limit: int = MESSAGE_MAX) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 15] + " ...(truncated)"


def _log_tail(observation: PodObservation) -> str:
    text = (observation.termination_message or "").strip()
    return f": {cut(text.splitlines()[-1] if text else '', 400)}" if text else ""


def _user(reason: str, message: str, *, recoverable: bool, exit_code: int | None = None) -> Outcome:
    return Outcome(
        reason=reason, message=cut(message), error_kind="USER", recoverable=recoverable, exit_code=exit_code
    )


def _system(reason: str, message: str, *, recoverable: bool = True, exit_code: int | None = None) -> Outcome:
    return Outcome(
        reason=reason, message=cut(message), error_kind="SYSTEM", recoverable=recoverable, exit_code=exit_code
    )


def _too_deep_to_read(text: str) -> bool:
    if not text.lstrip().startswith(("{", "[")):
        return False
    try:
        document = tolerant_loads(text)
    except ValueError:  # not JSON: a log tail, never a summary
        return False
    return path_too_deep(document, DECODE_DEPTH - 1) is not None


def _read_summary(text: str) -> tuple[kubetask.TerminationSummary | None, str | None]:
    """The runtime's summary in a termination message, or why a summary there cannot be used."""
    # Depth first, without recursion: whether a deep message parses would otherwise hang on the process's
    # recursion limit, which libraries change (cel-python raises it), so the same pod could end two ways.
    if _too_deep_to_read(text):
        return None, "its termination message nests deeper than the operator can read"
    summary = kubetask.parse_termination_message(text)
    outputs = summary.outputs if summary is not None else None
    path = path_too_deep(outputs) if outputs is not None else None
    if path is not None:
        return None, (
            f"its {describe_path('outputs', path)} nest deeper than {MAX_NESTING} levels of objects and "
            "arrays (kubetask's limit for outputs)"
        )
    return summary, None


def _from_summary(summary: kubetask.TerminationSummary, exit_code: int | None) -> Outcome | None:
    if summary.succeeded:
        return Outcome(
            reason="Succeeded",
            message="the task succeeded",
            succeeded=True,
            exit_code=exit_code,
            outputs=summary.outputs if not summary.truncated else None,
            outputs_uri=summary.outputs_uri,
            outputs_truncated=summary.truncated or summary.outputs is None,
        )
    error = summary.error
    if error is None:
        return None
    kind: ErrorKind = "SYSTEM" if error.kind == "SYSTEM" else "USER"
    return Outcome(
        reason="SystemError" if kind == "SYSTEM" else "UserError",
        message=cut(f"{error.type}: {error.message}" if error.message else error.type),
        error_kind=kind,
        recoverable=error.recoverable,
        error_type=error.type,
        exit_code=exit_code,
        error_uri=summary.error_uri,
    )


def terminated_outcome(observation: PodObservation) -> Outcome:
    """The outcome of a finished pod (its task container ended, or the pod failed as a whole)."""
    code = observation.exit_code
    pod_reason = observation.pod_reason or ""
    if observation.terminated_reason == "OOMKilled":
        return _user(
            "OOMKilled",
            "the task ran out of memory and was killed (OOMKilled); raise spec.resources.limits.memory",
            recoverable=True,
            exit_code=code,
        )
    node_lost = pod_reason == "NodeLost" or (
        pod_reason not in EVICTION_REASONS and observation.disruption_reason in NODE_LOST_DISRUPTIONS
    )
    if node_lost:
        why = observation.pod_message or observation.disruption_reason or pod_reason
        return _system("NodeLost", f"the pod's node was lost: {why}", exit_code=code)
    if pod_reason in EVICTION_REASONS or observation.disruption_reason is not None:
        why = observation.pod_message or observation.disruption_reason or pod_reason
        return _system("Evicted", f"the pod was evicted: {why}", exit_code=code)
    if pod_reason == "DeadlineExceeded":
        return _user(
            "Timeout", "the pod exceeded its activeDeadlineSeconds", recoverable=True, exit_code=code
        )
    summary, unreadable = _read_summary(observation.termination_message or "")
    if summary is not None and (code == kubetask.ExitCode.SUCCESS) == summary.succeeded:
        outcome = _from_summary(summary, code)
        if outcome is not None:
            return outcome
    if code == kubetask.ExitCode.SUCCESS or (code is None and observation.phase == "Succeeded"):
        if unreadable is not None:
            return _user(
                "InvalidOutputs", f"the task exited 0 but {unreadable}", recoverable=False, exit_code=code
            )
        # The runtime writes its summary before every exit 0: without one, the task ended the process itself
        # and no outputs were recorded; exit 0 alone must not pass for success.
        return _user(
            "NoSummary",
            "the task's container exited 0 without writing a kubetask summary to its termination message, "
            "so no outputs were recorded (did the task end the process itself, e.g. with os._exit(0)?)",
            recoverable=False,
            exit_code=code,
        )
    if code is None:
        return _system(
            "PodFailed", f"the pod failed: {observation.pod_message or pod_reason or 'no reason given'}"
        )
    if observation.terminated_reason in START_ERROR_REASONS or code in (126, 127, 128):
        return _user(
            "StartError",
            f"the container could not start kubetask-execute (exit code {code}); does "
            f"the image have kubetask installed?{_log_tail(observation)}",
            recoverable=False,
            exit_code=code,
        )
    if code == kubetask.ExitCode.USAGE_ERROR:
        return _system(
            "UsageError",
            f"kubetask-execute refused its command line (exit code 2){_log_tail(observation)}",
            recoverable=False,
            exit_code=code,
        )
    if code == kubetask.ExitCode.SYSTEM_ERROR:
        return _system(
            "SystemError", f"the runtime failed (exit code 3){_log_tail(observation)}", exit_code=code
        )
    if code == kubetask.ExitCode.TERMINATED:
        return _system(
            "Terminated",
            "the task was stopped by SIGTERM from outside kubetask (exit code 143)",
            exit_code=code,
        )
    if code == 137:
        return _system(
            "Killed", "the task was killed by SIGKILL, not for memory (exit code 137)", exit_code=code
        )
    return _user(
        "UserError",
        f"the task exited with code {code}{_log_tail(observation)}",
        recoverable=False,
        exit_code=code,
    )


# ---------------------------------------------------------------- attempts that never started


def image_pull_failed(observation: PodObservation, grace: str) -> Outcome:
    return _user(
        "ImagePullFailed",
        f"the image could not be pulled for {grace} ({observation.waiting_reason}: "
        f"{observation.waiting_message or 'no message'})",
        recoverable=False,
    )


def invalid_image(observation: PodObservation) -> Outcome:
    return _user(
        "InvalidImageName",
        f"spec.image is not a valid image reference: {observation.waiting_message or 'InvalidImageName'}",
        recoverable=False,
    )


def config_error(observation: PodObservation, grace: str) -> Outcome:
    reason = observation.waiting_reason or "CreateContainerConfigError"
    return _user(
        reason,
        f"the container could not be created for {grace}: "
        f"{observation.waiting_message or reason} (a missing Secret or ConfigMap?)",
        recoverable=False,
    )


def volume_error(observation: PodObservation, grace: str) -> Outcome:
    reason = observation.warning_reason or "FailedMount"
    return _user(
        reason,
        f"the pod's volumes could not be set up for {grace}: {observation.warning_message or reason}",
        recoverable=False,
    )


def pending_timeout(waiting_reason: str, waiting_message: str, limit: str) -> Outcome:
    """The attempt waited longer than spec.pendingTimeout; the reason is what it was waiting on."""
    if waiting_reason in IMAGE_PULL_REASONS:
        reason = "ImagePullFailed"
    elif waiting_reason in ("Unschedulable", *CONFIG_ERROR_REASONS, *VOLUME_ERROR_REASONS):
        reason = waiting_reason
    else:
        reason = "PendingTimeout"
    return _user(
        reason,
        f"the attempt did not start within spec.pendingTimeout ({limit}): {waiting_message}",
        recoverable=reason in ("Unschedulable", "PendingTimeout"),
    )


def timeout(limit: str) -> Outcome:
    return _user(
        "Timeout", f"the attempt ran longer than spec.timeout ({limit}) and was stopped", recoverable=True
    )


def pod_deleted(pod_name: str) -> Outcome:
    return _system("PodDeleted", f"pod {pod_name} was deleted before the attempt finished")


# ---------------------------------------------------------------- pods the API server would not create


@dataclasses.dataclass(frozen=True)
class Refusal:
    """How the API server answered the attempt's pod (or inputs ConfigMap) create, after the client's own
    retries of transient answers."""

    status: int
    api_reason: str
    message: str
    target: str = ""
    """What was refused when it is not the attempt's pod (its inputs ConfigMap)."""
    operator: bool = False
    """The operator itself refused to build the attempt (its policy, a missing PodTemplate): ``message``
    names the field; the API server never saw it."""

    @classmethod
    def by_operator(cls, message: str) -> Refusal:
        return cls(status=422, api_reason="Invalid", message=message, operator=True)


@dataclasses.dataclass(frozen=True)
class RefusalKind:
    """What a refusal means for the attempt: ``waits`` says whether trying again can help and for how long
    (``pending``: until spec.pendingTimeout if set, else on; ``grace``: until spec.pendingTimeout, else
    KUBETASK_IMAGE_PULL_GRACE, as for other missing configuration; ``never``: the attempt fails at once)."""

    reason: str
    waits: Literal["pending", "grace", "never"]
    error_kind: ErrorKind = "USER"


_TRANSIENT_STATUSES = frozenset({0, 408, 429, 500, 502, 503, 504})


_WAITING_KINDS = {
    "QuotaExceeded": RefusalKind("QuotaExceeded", "pending"),
    "ServiceAccountNotFound": RefusalKind("ServiceAccountNotFound", "grace"),
    "PodCreateFailed": RefusalKind("PodCreateFailed", "pending", "SYSTEM"),
}
CREATE_REFUSALS = frozenset(_WAITING_KINDS)
"""Reasons an attempt in progress carries while its pod does not exist because its create was refused."""


def waiting_refusal(reason: str) -> RefusalKind | None:
    """The kind of refusal an attempt in progress waits on, from its reason; None when it waits on none."""
    return _WAITING_KINDS.get(reason)


def classify_refusal(refusal: Refusal) -> RefusalKind:
    """Which refusals waiting can cure: an exceeded ResourceQuota frees up as other pods end, a missing
    ServiceAccount may be created in a moment, an overloaded API server recovers; a pod that Pod Security
    Admission, an admission webhook or RBAC forbids stays forbidden. The messages matched are the API
    server's: ``exceeded quota`` (plugin/pkg/admission/resourcequota) and ``error looking up service
    account`` (plugin/pkg/admission/serviceaccount)."""
    message = refusal.message
    if refusal.status == 403 and "exceeded quota" in message:
        return _WAITING_KINDS["QuotaExceeded"]
    if refusal.status == 403 and "error looking up service account" in message:
        return _WAITING_KINDS["ServiceAccountNotFound"]
    if refusal.status == 403:
        return RefusalKind("PodForbidden", "never")
    if refusal.status in _TRANSIENT_STATUSES:
        return _WAITING_KINDS["PodCreateFailed"]
    return RefusalKind("PodCreateFailed", "never", "SYSTEM")


def refusal_message(refusal: Refusal, pod_name: str) -> str:
    answer = f"HTTP {refusal.status} {refusal.api_reason}" if refusal.status else refusal.api_reason
    target = refusal.target or f"pod {pod_name}"
    return f"the API server refused to create {target} ({answer}): {refusal.message}"


def create_refused(kind: RefusalKind, message: str, *, limit: str | None) -> Outcome:
    """The attempt ends without a pod: refused for good, or still refused when its time to wait ran out."""
    if limit is not None:
        message = f"{message} (still refused after {limit})"
    if kind.error_kind == "SYSTEM":
        return _system(kind.reason, message, recoverable=kind.waits != "never")
    return _user(kind.reason, message, recoverable=False)
