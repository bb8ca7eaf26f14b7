"""Following a TaskRun live: its transitions, and its task's log lines as they are written, attempt after
attempt, until it ends. ``submit --wait``, ``wait`` and ``logs -f`` all follow through here.

Two threads: one watches the TaskRun (and reports each change), the other follows the current attempt's
pod log; the log side learns about new attempts, and about the end, from the watching side. A pod that is
gone (deleted, garbage-collected, its node lost) is read from the attempt's archived log, when the runtime
archived one beside the attempt's outputs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from kubetask_client._api import PodNotStartedError, TaskRunApi
from kubetask_client._display import ProgressDisplay, format_json
from kubetask_client._errors import ApiError, KubetaskClientError
from kubetask_client._outcome import attempt_never_started, exit_code_of, never_started, reason_of
from kubetask_client._taskrun import (
    attempts_of,
    failure_message,
    is_finished,
    outputs_of,
    phase_of,
    status_of,
)

#: The document each attempt's log is archived as, under the attempt's output prefix (written by the
#: runtime when storage is configured). One place to change when the runtime names it publicly.
#: Reasons of an attempt stopped by SIGKILL: the runtime had no chance to archive its log.
KILLED_REASONS = frozenset({"OOMKilled", "Killed"})
#: After this long with no status at all, nobody is acting on the TaskRun: say so (and keep waiting).
NO_OPERATOR_SECONDS = 5.0
_POLL_SECONDS = 0.5
#: The status watch is re-armed this often, so "nothing happened" is noticed without a status change.
_TICK_SECONDS = 5


def attempt_prefix(
    taskrun: Mapping[str, Any], number: int, *, storage_prefix: str | None = None
) -> str | None:
    """Where attempt ``number`` wrote its documents, by the operator's layout: beside its outputs or error
    document when the status names one of them, else ``spec.outputPrefix/<number>``, else
    ``<storage prefix>/<namespace>/<name>/<number>`` when the operator's storage prefix is known here
    (``KUBETASK_STORAGE_PREFIX``); None when unknown. Pure."""
    status = status_of(taskrun)
    for uri in (status.get("outputsUri"), (status.get("error") or {}).get("uri")):
        if isinstance(uri, str) and uri.rstrip("/").rsplit("/", 2)[-2:-1] == [str(number)]:
            return uri.rstrip("/").rsplit("/", 1)[0]
    prefix = (taskrun.get("spec") or {}).get("outputPrefix")
    if isinstance(prefix, str) and prefix:
        return f"{prefix.rstrip('/')}/{number}"
    metadata = taskrun.get("metadata") or {}
    if storage_prefix:
        return f"{storage_prefix.rstrip('/')}/{metadata.get('namespace')}/{metadata.get('name')}/{number}"
    return None


def read_archived_log(
    taskrun: Mapping[str, Any], number: int, *, storage_prefix: str | None = None
) -> str | None:
    """The archived log of attempt ``number`` (``kubetask.LOG_DOCUMENT`` beside its outputs), or None when
    there is none (or it cannot be read here). ``storage_prefix``: the cluster's, as the kubeconfig names it;
    ``KUBETASK_STORAGE_PREFIX`` wins."""
    prefix = attempt_prefix(
        taskrun, number, storage_prefix=os.environ.get("KUBETASK_STORAGE_PREFIX") or storage_prefix
    )
    if prefix is None:
        return None
    import kubetask  # its storage layer (local paths, file://, fsspec), only for a pod that is gone

    try:
        return kubetask.read_uri(f"{prefix}/{kubetask.LOG_DOCUMENT}").decode("utf-8", errors="replace")
    except (kubetask.KubetaskError, OSError):
        return None


def no_log_message(taskrun: Mapping[str, Any], attempt: Mapping[str, Any]) -> str:
    reason = str(attempt.get("reason") or reason_of(taskrun))
    message = str(attempt.get("message") or "").strip()
    return (
        f"attempt {attempt.get('number')}: the pod never started ({reason}"
        f"{': ' + message if message else ''}), so there is no log"
    )


def no_archive_message(taskrun: Mapping[str, Any], number: int, pod: str) -> str:
    """Why an attempt whose pod is gone has no archived log either."""
    record = next((a for a in attempts_of(taskrun) if a.get("number") == number), {})
    if attempt_never_started(record):
        return no_log_message(taskrun, record)
    if record.get("reason") in KILLED_REASONS:
        return (
            f"attempt {number}: pod {pod} is gone and there is no archived log: the attempt was killed "
            f"({record.get('reason')}) before it could write one"
        )
    return (
        f"attempt {number}: pod {pod} is gone (deleted, garbage-collected or its node lost) and no archived "
        "log was found (logs outlive pods only when storage is configured)"
    )


def no_operator_hint(namespace: str) -> str:
    return (
        f"no operator has reported on this TaskRun; is one running and watching namespace {namespace}? "
        "(still waiting)"
    )


@dataclass
class FollowOptions:
    """What to show while following."""

    logs: bool = True
    timestamps: bool = False
    first_attempt: int = 1
    only_attempt: int | None = None
    transitions: bool = True
    headers: bool = True


class RunFollower:
    """Follows one TaskRun to its end; ``run()`` returns its final state."""

    def __init__(
        self,
        api: TaskRunApi,
        name: str,
        namespace: str,
        *,
        out: TextIO,
        err: TextIO,
        options: FollowOptions,
        on_update: Callable[[Mapping[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self.name = name
        self.namespace = namespace
        self._out = out
        self._err = err
        self._options = options
        self._on_update = on_update
        self._clock = clock
        self._started = clock()
        self._changed = threading.Condition()
        self._latest: Mapping[str, Any] | None = None
        self._finished = False
        self._failure: BaseException | None = None
        self._hinted = False
        self._write_lock = threading.Lock()
        self._abort_stream: Callable[[], None] | None = None

    # ------------------------------------------------------------ the status side

    def _update(self, taskrun: Mapping[str, Any]) -> None:
        if self._on_update is not None and self._options.transitions:
            with self._write_lock:
                self._on_update(taskrun)
        self._maybe_hint(taskrun)
        with self._changed:
            self._latest = taskrun
            self._changed.notify_all()

    def _maybe_hint(self, taskrun: Mapping[str, Any]) -> None:
        if self._hinted or status_of(taskrun) or not self._options.transitions:
            return
        waited = self._clock() - self._started
        created = _parse_time((taskrun.get("metadata") or {}).get("creationTimestamp"))
        age = (datetime.now(UTC) - created).total_seconds() if created else 0.0
        if max(waited, age) >= NO_OPERATOR_SECONDS:
            self._hinted = True
            self._write_err(f"kubetask: {no_operator_hint(self.namespace)}\n")

    def _watch(self, timeout: float | None) -> None:
        try:
            final = self._api.wait(
                self.name, self.namespace, timeout=timeout, on_update=self._update, tick_seconds=_TICK_SECONDS
            )
            with self._changed:
                self._latest = final
        except BaseException as error:  # handed to the caller's thread, raised there
            self._failure = error
            abort = self._abort_stream
            if abort is not None:  # the wait is over (timed out, or the TaskRun is gone): stop reading
                abort()
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    # ------------------------------------------------------------ output

    def _write_out(self, text: str) -> None:
        with self._write_lock:
            self._out.write(text)
            self._out.flush()

    def _write_err(self, text: str) -> None:
        with self._write_lock:
            self._err.write(text)
            self._err.flush()

    # ------------------------------------------------------------ the log side

    def _attempt(self, number: int) -> Mapping[str, Any] | None:
        """Attempt ``number`` once it exists; None once the run ended without it. Blocks until either."""
        with self._changed:
            while True:
                taskrun = self._latest or {}
                for attempt in attempts_of(taskrun):
                    if attempt.get("number") == number and attempt.get("podName"):
                        return attempt
                if self._finished or is_finished(taskrun):
                    return None
                self._changed.wait(timeout=_POLL_SECONDS)

    def _attempt_state(self, number: int) -> tuple[Mapping[str, Any] | None, bool]:
        """(the attempt's latest record, whether the attempt or the run is over)."""
        with self._changed:
            taskrun = self._latest or {}
            finished = self._finished or is_finished(taskrun)
        record = next((a for a in attempts_of(taskrun) if a.get("number") == number), None)
        over = finished or record is None or bool(record.get("completionTime"))
        return record, over

    def _follow_attempt(self, number: int, attempt: Mapping[str, Any]) -> None:
        pod = str(attempt["podName"])
        if self._options.headers:
            self._write_err(f"==> attempt {number} (pod {pod}) <==\n")
        while True:
            try:
                for line in self._api.follow_pod_log(
                    pod, self.namespace, timestamps=self._options.timestamps, on_open=self._opened
                ):
                    self._write_out(line + "\n")
                return
            except PodNotStartedError:
                record, over = self._attempt_state(number)
                if over:
                    if record is not None and attempt_never_started(record):
                        self._write_err(f"kubetask: {no_log_message(self._latest or {}, record)}\n")
                        return
                    # ended before we could read it: one last plain read, below
                    self._read_once(number, pod)
                    return
                time.sleep(_POLL_SECONDS)
            except ApiError as error:
                if error.status != 404:
                    raise
                self._read_once(number, pod)
                return

    def _opened(self, abort: Callable[[], None]) -> None:
        self._abort_stream = abort
        if self._failure is not None:  # the wait ended while the stream was opening
            abort()

    def _read_once(self, number: int, pod: str) -> None:
        """The whole log of an attempt that is over: from the pod, else from the archive."""
        try:
            text: str | None = self._api.pod_log(pod, self.namespace, timestamps=self._options.timestamps)
        except ApiError:
            text = None
        if text is None:
            text = read_archived_log(
                self._latest or {}, number, storage_prefix=self._api.connection.storage_prefix
            )
            if text is None:
                self._write_err(f"kubetask: {no_archive_message(self._latest or {}, number, pod)}\n")
                return
        if text:
            self._write_out(text if text.endswith("\n") else text + "\n")

    def _follow_logs(self) -> None:
        number = self._options.only_attempt or self._options.first_attempt
        while self._failure is None:
            attempt = self._attempt(number)
            if attempt is None:
                return
            self._follow_attempt(number, attempt)
            if self._options.only_attempt is not None:
                return
            number += 1

    # ------------------------------------------------------------ both

    def run(self, timeout: float | None = None) -> Mapping[str, Any]:
        watcher = threading.Thread(target=self._watch, args=(timeout,), name="kubetask-watch", daemon=True)
        watcher.start()
        if self._options.logs:
            self._follow_logs()
        watcher.join()
        if self._failure is not None:
            raise self._failure
        if self._latest is None:
            raise KubetaskClientError(f"taskrun {self.name!r}: no state was read")
        final = self._latest
        if (
            self._options.logs
            and never_started(final)
            and phase_of(final) != "Cancelled"
            and not attempts_of(final)
        ):
            self._write_err(
                f"kubetask: taskrun {self.name!r} ended before any pod started, so there is no log\n"
            )
        return final


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def report_end(taskrun: Mapping[str, Any], *, out: TextIO, err: TextIO) -> int:
    """Outputs (JSON) on stdout when it succeeded; the reason and the task's error on stderr when not (and
    where its log is, unless it never had one). Returns the exit code per the table."""
    name = taskrun["metadata"]["name"]
    if phase_of(taskrun) == "Succeeded":
        outputs = outputs_of(taskrun)
        if outputs is None:
            uri = status_of(taskrun).get("outputsUri")
            if not uri:
                raise KubetaskClientError(f"taskrun {name!r} succeeded without outputs or an outputsUri")
            err.write(f"outputs did not fit in the status; reading them from {uri}\n")
            from kubetask_client._outputs import read_outputs_document  # the runtime's storage layer

            outputs = read_outputs_document(str(uri), taskrun=name)
        out.write(format_json(outputs) + "\n")
        out.flush()
        return exit_code_of(taskrun)
    err.write(f"kubetask: {failure_message(taskrun)}\n")
    if never_started(taskrun):
        err.write("  the pod never started, so there is no log (`kubetask describe` shows why)\n")
    else:
        err.write(f"  logs: kubetask logs {name} -n {taskrun['metadata']['namespace']} --all-attempts\n")
    return exit_code_of(taskrun)


def follow_to_end(
    api: TaskRunApi,
    name: str,
    namespace: str,
    *,
    out: TextIO,
    err: TextIO,
    quiet: bool = False,
    logs: bool = True,
    timeout: float | None = None,
) -> int:
    """Follow a TaskRun live to its end (log lines on ``out``, transitions on ``err``), print its outputs
    or its failure, and return the exit code per the table. ``quiet``: only the outputs."""
    follower = RunFollower(
        api,
        name,
        namespace,
        out=out,
        err=err,
        options=FollowOptions(logs=logs and not quiet, transitions=not quiet),
        on_update=ProgressDisplay(err),
    )
    return report_end(follower.run(timeout), out=out, err=err)
