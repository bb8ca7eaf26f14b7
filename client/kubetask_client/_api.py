"""TaskRuns and their pods through the Kubernetes API: the client's only I/O edge.

Every API failure becomes an ApiError whose message has the HTTP status and the API server's own message
(for a refused TaskRun, that message names the field the CRD's schema rejected).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import watch as _k8s_watch
from kubernetes.client.exceptions import ApiException

from kubetask_client._errors import ApiError, InvalidTaskRunError, TaskRunNotFoundError, WaitTimeoutError
from kubetask_client._kube import Connection
from kubetask_client._taskrun import GROUP, PLURAL, VERSION, is_finished, phase_of

#: Longest single watch request; the wait loop re-reads the TaskRun between them, so a dropped or expired
#: watch never loses the final state.
_WATCH_SECONDS = 30
#: Least time between two reads when watches end at once (an API server that cannot watch).
_MIN_POLL_SECONDS = 1.0
_REQUEST_TIMEOUT = 30.0

JsonObject = dict[str, Any]
# kubernetes.watch ships py.typed but leaves its functions unannotated; treat it as the dynamic API it is.
k8s_watch: Any = _k8s_watch


def _api_message(error: ApiException) -> str:
    try:
        body = json.loads(error.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(error.reason or error.body or "no reason given")


class TaskRunApi:
    """TaskRun CRUD, waiting and pod logs for one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._custom = k8s_client.CustomObjectsApi(connection.api_client)
        self._core = k8s_client.CoreV1Api(connection.api_client)

    # ------------------------------------------------------------ errors

    def _call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, _request_timeout=_REQUEST_TIMEOUT, **kwargs)
        except ApiException as error:
            raise ApiError(f"{what}: {error.status} {_api_message(error)}", status=error.status) from None
        except urllib3.exceptions.HTTPError as error:
            raise ApiError(
                f"{what}: cannot reach the Kubernetes API at {self.connection.server}: {error}"
            ) from None

    def _not_found(self, name: str, namespace: str) -> TaskRunNotFoundError:
        return TaskRunNotFoundError(
            f"no taskrun {name!r} in namespace {namespace!r} (context {self.connection.context!r}); "
            "`kubetask list` shows the TaskRuns there",
            status=404,
        )

    # ------------------------------------------------------------ TaskRuns

    def create(self, manifest: Mapping[str, Any]) -> JsonObject:
        metadata = manifest["metadata"]
        try:
            result: JsonObject = self._call(
                f"creating taskrun {metadata['name']!r} in namespace {metadata['namespace']!r}",
                self._custom.create_namespaced_custom_object,
                GROUP,
                VERSION,
                metadata["namespace"],
                PLURAL,
                dict(manifest),
            )
        except ApiError as error:
            if error.status in (400, 422):
                raise InvalidTaskRunError(str(error), status=error.status) from None
            raise
        return result

    def _on_taskrun(self, verb: str, function: Callable[..., Any], name: str, namespace: str) -> Any:
        """A call on one TaskRun by name; its 404 becomes TaskRunNotFoundError."""
        try:
            return self._call(
                f"{verb} taskrun {name!r} in namespace {namespace!r}",
                function,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
            )
        except ApiError as error:
            if error.status == 404:
                raise self._not_found(name, namespace) from None
            raise

    def get(self, name: str, namespace: str) -> JsonObject:
        result: JsonObject = self._on_taskrun(
            "reading", self._custom.get_namespaced_custom_object, name, namespace
        )
        return result

    def list(self, namespace: str | None, *, label_selector: str | None = None) -> list[JsonObject]:
        """TaskRuns in ``namespace`` (every namespace when None), oldest first."""
        kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        if namespace is None:
            listed = self._call(
                "listing taskruns in all namespaces",
                self._custom.list_cluster_custom_object,
                GROUP,
                VERSION,
                PLURAL,
                **kwargs,
            )
        else:
            listed = self._call(
                f"listing taskruns in namespace {namespace!r}",
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                **kwargs,
            )
        items: list[JsonObject] = list(listed.get("items") or [])
        return sorted(
            items,
            key=lambda item: (item["metadata"].get("creationTimestamp") or "", item["metadata"]["name"]),
        )

    def cancel(self, name: str, namespace: str) -> JsonObject:
        """Set ``spec.cancelled``; the operator stops the pod and keeps its logs.

        A TaskRun that already ended is returned untouched: marking a Succeeded run cancelled would leave a
        spec that contradicts its status and stop nothing.
        """
        current = self.get(name, namespace)  # also a clear "no taskrun" before a patch's 404
        if is_finished(current):
            return current
        result: JsonObject = self._call(
            f"cancelling taskrun {name!r} in namespace {namespace!r}",
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            {"spec": {"cancelled": True}},
            _content_type="application/merge-patch+json",
        )
        return result

    def delete(self, name: str, namespace: str) -> None:
        self._on_taskrun("deleting", self._custom.delete_namespaced_custom_object, name, namespace)

    # ------------------------------------------------------------ waiting

    def _watch_once(
        self, name: str, namespace: str, *, resource_version: str | None, seconds: int
    ) -> Iterator[JsonObject]:
        """The TaskRun's states from one watch request (ends when the server ends it or it drops)."""
        watcher = k8s_watch.Watch()
        kwargs: dict[str, Any] = {"field_selector": f"metadata.name={name}", "timeout_seconds": seconds}
        if resource_version:
            kwargs["resource_version"] = resource_version
        try:
            for event in watcher.stream(
                self._custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, **kwargs
            ):
                document = event.get("raw_object") or event.get("object")
                if not isinstance(document, dict) or document.get("metadata", {}).get("name") != name:
                    continue  # a server that ignores field selectors
                if event.get("type") == "DELETED":
                    raise TaskRunNotFoundError(
                        f"taskrun {name!r} in namespace {namespace!r} was deleted", status=404
                    )
                if event.get("type") in {"ADDED", "MODIFIED"}:
                    yield document
        except ApiException as error:
            if error.status != 410:  # 410 Gone: the resourceVersion expired; the caller re-reads
                raise ApiError(
                    f"watching taskrun {name!r}: {error.status} {_api_message(error)}", status=error.status
                ) from None
        except (urllib3.exceptions.HTTPError, ValueError):
            return  # a dropped stream: the caller re-reads and watches again
        finally:
            watcher.stop()

    def wait(
        self,
        name: str,
        namespace: str,
        *,
        timeout: float | None = None,
        on_update: Callable[[Mapping[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> JsonObject:
        """Follow the TaskRun until it is Succeeded, Failed or Cancelled, and return its final state.

        ``on_update`` sees every state read; WaitTimeoutError after ``timeout`` seconds (None: no limit).
        """
        deadline = None if timeout is None else clock() + timeout
        taskrun = self.get(name, namespace)
        while True:
            if on_update is not None:
                on_update(taskrun)
            if is_finished(taskrun):
                return taskrun
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0:
                raise WaitTimeoutError(
                    f"taskrun {name!r} in namespace {namespace!r} is still {phase_of(taskrun)} after "
                    f"{timeout:g}s of waiting; it carries on: `kubetask get {name} -n {namespace}`",
                    taskrun=taskrun,
                )
            seconds = _WATCH_SECONDS if remaining is None else max(1, min(_WATCH_SECONDS, int(remaining)))
            started = clock()
            version = taskrun.get("metadata", {}).get("resourceVersion")
            for update in self._watch_once(name, namespace, resource_version=version, seconds=seconds):
                taskrun = update
                if on_update is not None:
                    on_update(taskrun)
                if is_finished(taskrun):
                    return taskrun
            if clock() - started < _MIN_POLL_SECONDS:
                budget = (
                    _MIN_POLL_SECONDS
                    if deadline is None
                    else min(_MIN_POLL_SECONDS, max(0.0, deadline - clock()))
                )
                sleep(budget)
            taskrun = self.get(name, namespace)

    # ------------------------------------------------------------ logs

    def pod_log(self, pod: str, namespace: str, *, tail_lines: int | None = None) -> str:
        kwargs: dict[str, Any] = {"tail_lines": tail_lines} if tail_lines is not None else {}
        try:
            text: str = self._call(
                f"reading the logs of pod {pod!r} in namespace {namespace!r}",
                self._core.read_namespaced_pod_log,
                pod,
                namespace,
                **kwargs,
            )
        except ApiError as error:
            if error.status == 404:
                raise ApiError(
                    f"the logs of pod {pod!r} in namespace {namespace!r} are gone: the pod was deleted "
                    f"(by garbage collection, or after ttlSecondsAfterFinished)",
                    status=404,
                ) from None
            raise
        return text

    def follow_pod_log(self, pod: str, namespace: str) -> Iterator[str]:
        """The pod's log lines as they come, until the container ends."""
        watcher = k8s_watch.Watch()
        try:
            yield from watcher.stream(self._core.read_namespaced_pod_log, pod, namespace)
        except ApiException as error:
            raise ApiError(
                f"following the logs of pod {pod!r}: {error.status} {_api_message(error)}",
                status=error.status,
            ) from None
        finally:
            watcher.stop()
