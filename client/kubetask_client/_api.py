"""TaskRuns, their pods, logs and events through the Kubernetes REST API: the client's only I/O edge to the
cluster, plain HTTP requests on the Connection's client (no generated models to import).

Every API failure becomes an ApiError whose message has the HTTP status and the API server's own message
(for a refused TaskRun, that message names the field the CRD's schema rejected).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from kubetask_client._errors import (
    ApiError,
    InvalidTaskRunError,
    KubeconfigError,
    TaskRunNotFoundError,
    WaitTimeoutError,
)
from kubetask_client._http import Response, StreamResponse, TransportError
from kubetask_client._kube import Connection
from kubetask_client._taskrun import GROUP, PLURAL, VERSION, is_finished, phase_of

#: Longest single watch request; the wait loop re-reads the TaskRun between them, so a dropped or expired
#: watch never loses the final state.
_WATCH_SECONDS = 30
#: Least time between two reads when watches end at once (an API server that cannot watch).
_MIN_POLL_SECONDS = 1.0

JsonObject = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"


class PodNotStartedError(ApiError):
    """The pod's container has not started yet, so it has no log to read (the API answers 400)."""


def _api_message(status: int, reason: str, body: bytes) -> str:
    try:
        document = json.loads(body or b"")
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("message"):
        return str(document["message"])
    text = body.decode("utf-8", errors="replace").strip()
    return text or reason or f"HTTP {status}"


def _error(what: str, response: Response | StreamResponse, body: bytes) -> ApiError:
    message = _api_message(response.status, response.reason, body)
    return ApiError(f"{what}: {response.status} {message}", status=response.status)


class TaskRunApi:
    """TaskRun CRUD, waiting, pod logs and events for one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._http = connection.http

    # ------------------------------------------------------------ requests

    def _unreachable(self, what: str, error: Exception) -> ApiError:
        return ApiError(f"{what}: cannot reach the Kubernetes API at {self.connection.server}: {error}")

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request; its JSON answer, or ApiError naming ``what`` with the status and the API's message."""
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body).encode()
        try:
            response = self._http.request(method, path, params=params, body=content, headers=headers)
        except TransportError as error:
            raise self._unreachable(what, error) from None
        except KubeconfigError as error:  # an exec credential plugin failed
            raise KubeconfigError(f"{what}: {error}") from None
        if response.status >= 400:
            raise _error(what, response, response.body)
        if not response.body:
            return None
        if "json" not in (response.content_type or "application/json"):
            return response.text
        return json.loads(response.body)

    def _text(self, path: str, *, what: str, params: Mapping[str, Any]) -> str:
        try:
            response = self._http.request("GET", path, params=params, headers={"Accept": "*/*"})
        except TransportError as error:
            raise self._unreachable(what, error) from None
        if response.status >= 400:
            raise _error(what, response, response.body)
        return response.text

    @staticmethod
    def taskruns_path(namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{GROUP}/{VERSION}"
        if namespace is None:
            return f"{base}/{PLURAL}"
        path = f"{base}/namespaces/{quote(namespace)}/{PLURAL}"
        return path if name is None else f"{path}/{quote(name)}"

    def _not_found(self, name: str, namespace: str) -> TaskRunNotFoundError:
        return TaskRunNotFoundError(
            f"no taskrun {name!r} in namespace {namespace!r} (context {self.connection.context!r}); "
            "`kubetask list` shows the TaskRuns there",
            status=404,
        )

    # ------------------------------------------------------------ TaskRuns

    def create(self, manifest: Mapping[str, Any]) -> JsonObject:
        metadata = manifest["metadata"]
        namespace = metadata["namespace"]
        try:
            result: JsonObject = self.request(
                "POST",
                self.taskruns_path(namespace),
                what=f"creating taskrun {metadata['name']!r} in namespace {namespace!r}",
                body=dict(manifest),
            )
        except ApiError as error:
            if error.status == 404:  # the namespace (a TaskRun's own 404 cannot happen on create)
                raise InvalidTaskRunError(
                    f"-n/--namespace: no namespace {namespace!r} in this cluster (the API server: {error}); "
                    "`kubectl get namespaces` lists them",
                    status=404,
                ) from None
            if error.status in (400, 409, 422):
                raise InvalidTaskRunError(str(error), status=error.status) from None
            raise
        return result

    def _on_taskrun(self, method: str, verb: str, name: str, namespace: str, **kwargs: Any) -> Any:
        """A request on one TaskRun by name; its 404 becomes TaskRunNotFoundError."""
        try:
            return self.request(
                method,
                self.taskruns_path(namespace, name),
                what=f"{verb} taskrun {name!r} in namespace {namespace!r}",
                **kwargs,
            )
        except ApiError as error:
            if error.status == 404:
                raise self._not_found(name, namespace) from None
            raise

    def get(self, name: str, namespace: str) -> JsonObject:
        result: JsonObject = self._on_taskrun("GET", "reading", name, namespace)
        return result

    def list_document(self, namespace: str | None, *, label_selector: str | None = None) -> JsonObject:
        """The TaskRunList as the API gives it (with its resourceVersion, for a watch to start from)."""
        params = {"labelSelector": label_selector} if label_selector else {}
        where = "all namespaces" if namespace is None else f"namespace {namespace!r}"
        document: JsonObject = self.request(
            "GET", self.taskruns_path(namespace), what=f"listing taskruns in {where}", params=params
        )
        return document

    def list_taskruns(self, namespace: str | None, *, label_selector: str | None = None) -> list[JsonObject]:
        """TaskRuns in ``namespace`` (every namespace when None), oldest first."""
        return oldest_first(self.list_document(namespace, label_selector=label_selector).get("items") or [])

    def cancel(self, name: str, namespace: str) -> JsonObject:
        """Set ``spec.cancelled``; the operator stops the pod and keeps its logs.

        A TaskRun that already ended is returned untouched: marking a Succeeded run cancelled would leave a
        spec that contradicts its status and stop nothing.
        """
        current = self.get(name, namespace)  # also a clear "no taskrun" before a patch's 404
        if is_finished(current):
            return current
        result: JsonObject = self._on_taskrun(
            "PATCH",
            "cancelling",
            name,
            namespace,
            body={"spec": {"cancelled": True}},
            content_type=MERGE_PATCH,
        )
        return result

    def delete(self, name: str, namespace: str) -> None:
        self._on_taskrun("DELETE", "deleting", name, namespace, params={"propagationPolicy": "Background"})

    # ------------------------------------------------------------ watching

    def watch(
        self,
        path: str,
        *,
        params: Mapping[str, Any],
        seconds: int,
        what: str,
    ) -> Iterator[JsonObject]:
        """Watch events (``{"type", "object"}``) from one watch request, until the server ends it or the
        stream drops. An expired resourceVersion (410 Gone) ends it quietly: the caller re-lists."""
        query = {**params, "watch": "true", "timeoutSeconds": str(seconds), "allowWatchBookmarks": "false"}
        try:
            with self._http.stream(
                "GET", path, params=query, headers={"Accept": "application/json"}
            ) as response:
                if response.status == 410:
                    return
                if response.status >= 400:
                    raise _error(what, response, response.read())
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        return
                    if event.get("type") == "ERROR":
                        status = (event.get("object") or {}).get("code")
                        if status == 410:
                            return
                        raise ApiError(f"{what}: {status} {(event.get('object') or {}).get('message')}")
                    yield event
        except TransportError:
            return  # a dropped stream: the caller re-reads and watches again

    def _watch_taskrun(
        self, name: str, namespace: str, *, resource_version: str | None, seconds: int
    ) -> Iterator[JsonObject]:
        """The TaskRun's states from one watch request (ends when the server ends it or it drops)."""
        params = {"fieldSelector": f"metadata.name={name}"}
        if resource_version:
            params["resourceVersion"] = resource_version
        for event in self.watch(
            self.taskruns_path(namespace), params=params, seconds=seconds, what=f"watching taskrun {name!r}"
        ):
            document = event.get("object")
            if not isinstance(document, dict) or document.get("metadata", {}).get("name") != name:
                continue  # a server that ignores field selectors
            if event.get("type") == "DELETED":
                raise TaskRunNotFoundError(
                    f"taskrun {name!r} in namespace {namespace!r} was deleted", status=404
                )
            if event.get("type") in {"ADDED", "MODIFIED"}:
                yield document

    def wait(
        self,
        name: str,
        namespace: str,
        *,
        timeout: float | None = None,
        on_update: Callable[[Mapping[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        tick_seconds: int = _WATCH_SECONDS,
    ) -> JsonObject:
        """Follow the TaskRun until it is Succeeded, Failed or Cancelled, and return its final state.

        ``on_update`` sees every state read, and the last state again at least every ``tick_seconds``
        (so a caller can notice that nothing happens); WaitTimeoutError after ``timeout`` seconds.
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
                    f"{timeout:g}s of waiting; it carries on: `kubetask wait {name} -n {namespace}`",
                    taskrun=taskrun,
                )
            seconds = tick_seconds if remaining is None else max(1, min(tick_seconds, int(remaining)))
            started = clock()
            version = taskrun.get("metadata", {}).get("resourceVersion")
            for update in self._watch_taskrun(name, namespace, resource_version=version, seconds=seconds):
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

    # ------------------------------------------------------------ pods, logs, events

    def _pod_path(self, pod: str, namespace: str) -> str:
        return f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}"

    def get_pod(self, pod: str, namespace: str) -> JsonObject | None:
        """The pod, or None when it does not exist (any more)."""
        try:
            result: JsonObject = self.request(
                "GET", self._pod_path(pod, namespace), what=f"reading pod {pod!r} in namespace {namespace!r}"
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return result

    def pod_log(
        self, pod: str, namespace: str, *, tail_lines: int | None = None, timestamps: bool = False
    ) -> str:
        """The pod's log so far; ApiError with status 404 when the pod is gone, PodNotStartedError
        while its container has not started."""
        params: dict[str, Any] = {}
        if tail_lines is not None:
            params["tailLines"] = str(tail_lines)
        if timestamps:
            params["timestamps"] = "true"
        what = f"reading the logs of pod {pod!r} in namespace {namespace!r}"
        try:
            return self._text(f"{self._pod_path(pod, namespace)}/log", what=what, params=params)
        except ApiError as error:
            if error.status == 400:
                raise PodNotStartedError(str(error), status=400) from None
            raise

    def follow_pod_log(
        self,
        pod: str,
        namespace: str,
        *,
        timestamps: bool = False,
        on_open: Callable[[Callable[[], None]], None] | None = None,
    ) -> Iterator[str]:
        """The pod's log lines as they are written, until the container ends (or the stream drops:
        the caller can tell from the pod). PodNotStartedError while the container has not started.
        ``on_open`` receives a function that ends the stream from another thread."""
        params = {"follow": "true", **({"timestamps": "true"} if timestamps else {})}
        what = f"following the logs of pod {pod!r} in namespace {namespace!r}"
        try:
            with self._http.stream("GET", f"{self._pod_path(pod, namespace)}/log", params=params) as response:
                if response.status >= 400:
                    error = _error(what, response, response.read())
                    if response.status == 400:
                        raise PodNotStartedError(str(error), status=400)
                    raise error
                if on_open is not None:
                    on_open(response.abort)
                yield from response.iter_lines()
        except TransportError:
            return

    def events_of(self, namespace: str, *, objects: Iterable[tuple[str, str]]) -> list[JsonObject]:
        """Events about the objects (kind, name), oldest first: one field-selected list per object, as
        ``kubectl describe`` asks for them."""
        events = [event for kind, name in objects for event in self._events_of(namespace, kind, name)]
        return sorted(events, key=event_time)

    def _events_of(self, namespace: str, kind: str, name: str) -> Iterator[JsonObject]:
        document = self.request(
            "GET",
            f"/api/v1/namespaces/{quote(namespace)}/events",
            what=f"listing the events of {kind} {name!r} in namespace {namespace!r}",
            params={"fieldSelector": f"involvedObject.kind={kind},involvedObject.name={name}"},
        )
        yield from (event for event in (document or {}).get("items") or [] if isinstance(event, dict))


def oldest_first(items: Iterable[JsonObject]) -> list[JsonObject]:
    """TaskRuns by creation time, then name (as kubectl lists them)."""
    return sorted(
        items, key=lambda item: (item["metadata"].get("creationTimestamp") or "", item["metadata"]["name"])
    )


def event_time(event: Mapping[str, Any]) -> str:
    """When an event last happened, as an RFC 3339 string (comparable as text)."""
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
