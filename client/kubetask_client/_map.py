"""The Python API of TaskMaps: ``map_task(task, items, parallelism=..., max_failed=...)`` (``kubetask.map``)
creates one TaskMap whose operator runs each item as its own TaskRun, and returns a TaskMapHandle whose
``wait()`` gives every item's outputs in item order and the failures."""

from __future__ import annotations

import dataclasses
import datetime
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import kubetask
from kubetask_api import (
    API_VERSION,
    FINAL_PHASES,
    GROUP,
    LABEL_ITEM,
    LABEL_MAP,
    MAP_KIND,
    MAP_PLURAL,
    PENDING,
    SUCCEEDED,
    VERSION,
    is_label_value,
)
from kubetask_client._api import TaskRunApi
from kubetask_client._errors import (
    ApiError,
    ClientUsageError,
    InvalidTaskRunError,
    KubetaskClientError,
    TaskMapFailedError,
    TaskRunNotFoundError,
    WaitTimeoutError,
)
from kubetask_client._handle import ResourceHandle
from kubetask_client._inputs import inputs_from_values
from kubetask_client._kube import Connection, connect
from kubetask_client._outputs import read_outputs_document
from kubetask_client._submit import input_upload, submit_options, task_reference
from kubetask_client._taskrun import (
    SubmitOptions,
    generated_name,
    taskrun_manifest,
    validate_name,
    validate_namespace,
)

#: Items inline in the TaskMap up to this size; larger lists go to storage (``spec.itemsFrom``), since an
#: object in etcd may not exceed 1.5 MiB (etcd's --max-request-bytes default).
INLINE_ITEMS_MAX_BYTES = 1024 * 1024
_POLL_SECONDS = 1.0
JsonObject = dict[str, Any]


class TaskMapApi:
    """TaskMaps (and their items) for one connection, over the client's own HTTP layer."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._api = TaskRunApi(connection)

    @staticmethod
    def _path(namespace: str, name: str | None = None) -> str:
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{MAP_PLURAL}"
        return path if name is None else f"{path}/{quote(name)}"

    def _call(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        try:
            return self._api.request(method, path, what=what, **kwargs)
        except ApiError as error:
            if error.status == 404:
                raise TaskRunNotFoundError(f"{what}: not found ({error})", status=404) from None
            if error.status in (400, 422):
                raise InvalidTaskRunError(str(error), status=error.status) from None
            raise

    def create(self, manifest: Mapping[str, Any]) -> JsonObject:
        metadata = manifest["metadata"]
        result: JsonObject = self._call(
            "POST",
            self._path(metadata["namespace"]),
            what=f"creating taskmap {metadata['name']!r} in namespace {metadata['namespace']!r}",
            body=dict(manifest),
        )
        return result

    def get(self, name: str, namespace: str) -> JsonObject:
        result: JsonObject = self._call(
            "GET", self._path(namespace, name), what=f"reading taskmap {name!r} in namespace {namespace!r}"
        )
        return result

    def cancel(self, name: str, namespace: str) -> JsonObject:
        result: JsonObject = self._call(
            "PATCH",
            self._path(namespace, name),
            what=f"cancelling taskmap {name!r} in namespace {namespace!r}",
            body={"spec": {"cancelled": True}},
            content_type="application/merge-patch+json",
        )
        return result

    def delete(self, name: str, namespace: str) -> None:
        self._call(
            "DELETE",
            self._path(namespace, name),
            what=f"deleting taskmap {name!r} in namespace {namespace!r}",
        )

    def items(self, name: str, namespace: str) -> list[JsonObject]:
        """The map's item TaskRuns, in item order."""
        found: list[JsonObject] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"labelSelector": f"{LABEL_MAP}={name}", "limit": "500"}
            if token:
                params["continue"] = token
            page = self._call(
                "GET",
                TaskRunApi.taskruns_path(namespace),
                what=f"listing the items of taskmap {name!r}",
                params=params,
            )
            found.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
        return sorted(found, key=lambda t: int((t["metadata"].get("labels") or {}).get(LABEL_ITEM, "0")))


@dataclasses.dataclass(frozen=True)
class MapResult:
    """A finished map: ``outputs[i]`` is item i's outputs by name (None when it did not succeed);
    ``failures`` maps the index of every item that did not succeed to why."""

    phase: str
    outputs: list[dict[str, Any] | None]
    failures: dict[int, str]

    @property
    def succeeded(self) -> bool:
        return self.phase == SUCCEEDED


def status_of(taskmap: Mapping[str, Any]) -> dict[str, Any]:
    return dict(taskmap.get("status") or {})


def map_phase(taskmap: Mapping[str, Any]) -> str:
    return str(status_of(taskmap).get("phase") or PENDING)


def progress_line(taskmap: Mapping[str, Any], *, elapsed: float) -> str:
    """``adds-x7k2p: 120/200 done, 10 running, 2 failed (3,7), 4.1 items/s``."""
    status = status_of(taskmap)
    total = int(status.get("total") or len((taskmap.get("spec") or {}).get("items") or []))
    done = sum(int(status.get(key) or 0) for key in ("succeeded", "failed", "cancelled"))
    failed = int(status.get("failed") or 0) + int(status.get("cancelled") or 0)
    line = f"{taskmap['metadata']['name']}: {done}/{total} done, {int(status.get('running') or 0)} running"
    line += f", {failed} failed" + (f" ({status['failedItems']})" if status.get("failedItems") else "")
    if elapsed > 0:
        line += f", {done / elapsed:.1f} items/s"
    phase = map_phase(taskmap)
    return f"{line} [{phase}]" if phase in FINAL_PHASES else line


def _read_lines(uri: str, *, name: str) -> list[dict[str, Any]]:
    try:
        text = kubetask.read_uri(uri).decode()
    except kubetask.StorageError as error:
        raise KubetaskClientError(
            f"the outputs of taskmap {name!r} cannot be read from {uri!r}: {error}"
        ) from None
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def result_of(taskmap: Mapping[str, Any], *, items: Callable[[], list[JsonObject]]) -> MapResult:
    """The outputs and failures of a finished map: from status.outputs, else its outputs document, else
    (no storage, too large for the status) from its items' TaskRuns."""
    status = status_of(taskmap)
    name = str(taskmap["metadata"]["name"])
    lines: list[dict[str, Any]]
    if status.get("outputs") is not None:
        lines = list(status["outputs"])
    elif status.get("outputsUri"):
        lines = _read_lines(str(status["outputsUri"]), name=name)
    else:
        by_index = {int(t["metadata"]["labels"][LABEL_ITEM]): t for t in items()}
        total = int(status.get("total") or 0)
        lines = []
        for index in range(total):
            taskrun = by_index.get(index)
            if taskrun is None:
                lines.append({"item": index, "phase": "NotStarted"})
                continue
            item_status = taskrun.get("status") or {}
            line = {"item": index, "phase": item_status.get("phase") or PENDING}
            if item_status.get("outputs") is not None:
                line["outputs"] = item_status["outputs"]
            elif item_status.get("outputsUri"):
                line["outputsUri"] = item_status["outputsUri"]
            for condition in item_status.get("conditions") or []:
                if condition.get("type") == "Succeeded" and line["phase"] != SUCCEEDED:
                    line["reason"], line["message"] = condition.get("reason"), condition.get("message")
            lines.append(line)
    outputs: list[dict[str, Any] | None] = []
    failures: dict[int, str] = {}
    for index, line in enumerate(lines):
        if line.get("phase") == SUCCEEDED:
            if "outputs" in line:
                outputs.append(dict(line["outputs"]))
            else:
                outputs.append(read_outputs_document(str(line["outputsUri"]), taskrun=f"{name}-{index}"))
        else:
            outputs.append(None)
            reason = line.get("reason") or line.get("phase")
            failures[index] = f"{reason}: {line['message']}" if line.get("message") else str(reason)
    return MapResult(phase=map_phase(taskmap), outputs=outputs, failures=failures)


class TaskMapHandle(ResourceHandle):
    """One TaskMap in the cluster: its last known state, and ways to wait for it, cancel or delete it."""

    def __init__(self, api: TaskMapApi, taskmap: Mapping[str, Any]) -> None:
        super().__init__(api, taskmap)
        self._api = api

    @property
    def taskmap(self) -> dict[str, Any]:
        """The TaskMap as last read from the API."""
        return self._resource

    def items(self) -> list[dict[str, Any]]:
        """The item TaskRuns (``kubectl get ktr -l kubetask.dev/map=NAME``), in item order."""
        return self._api.items(self.name, self.namespace)

    def wait(
        self,
        timeout: float | None = None,
        *,
        on_update: Callable[[Mapping[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> MapResult:
        """Block until the map ends and return every item's outputs in item order and the failures.

        A map that Succeeded (at most ``max_failed`` items failed) returns; one that Failed or was Cancelled
        raises TaskMapFailedError (its ``result`` holds what the items gave); WaitTimeoutError after
        ``timeout`` seconds.
        """
        deadline = None if timeout is None else clock() + timeout
        while True:
            self.refresh()
            if on_update is not None:
                on_update(self._resource)
            if self.done:
                break
            if deadline is not None and clock() >= deadline:
                raise WaitTimeoutError(
                    f"taskmap {self.name!r} in namespace {self.namespace!r} is still {self.phase} after "
                    f"{timeout:g}s of waiting; it carries on: "
                    f"`kubectl get ktm {self.name} -n {self.namespace}`",
                    taskrun=self._resource,
                )
            sleep(_POLL_SECONDS if deadline is None else max(0.0, min(_POLL_SECONDS, deadline - clock())))
        result = result_of(self._resource, items=self.items)
        if not result.succeeded:
            condition: Mapping[str, Any] = next(iter(status_of(self._resource).get("conditions") or []), {})
            raise TaskMapFailedError(
                f"taskmap {self.name!r} {result.phase}: {condition.get('message') or 'no message'}",
                taskmap=self._resource,
                result=result,
            )
        return result

    def cancel(self) -> TaskMapHandle:
        """Stop the map: no new item starts and its unfinished items are cancelled."""
        if not self.refresh().done:
            self._resource = self._api.cancel(self.name, self.namespace)
        return self


def taskmap_manifest(
    *,
    name: str,
    namespace: str,
    task: kubetask.Task[..., Any],
    items: Sequence[Mapping[str, Any]] | None,
    items_from: str | None,
    shared: Mapping[str, Any],
    options: SubmitOptions,
    parallelism: int,
    max_failed: int,
) -> dict[str, Any]:
    """The TaskMap: a TaskRun's spec as the items' template, plus the items and the map's limits."""
    reference = task_reference(task, image=options.image, namespace=namespace)
    template = taskrun_manifest(
        name=name, namespace=namespace, reference=reference, inputs=None, options=options
    )
    spec = dict(template["spec"])
    if shared:
        spec["inputs"] = dict(shared)
    if items_from is not None:
        spec["itemsFrom"] = items_from
    else:
        spec["items"] = [dict(item) for item in items or ()]
    spec["parallelism"] = parallelism
    spec["maxFailedItems"] = max_failed
    return {"apiVersion": API_VERSION, "kind": MAP_KIND, "metadata": template["metadata"], "spec": spec}


def _upload_once(upload: kubetask.Upload | None) -> kubetask.Upload | None:
    """``upload``, storing each local file once however many items share it."""
    if upload is None:
        return None
    stored: dict[tuple[str, bool, str], str] = {}

    def once(path: str, *, directory: bool, key: str) -> str:
        if (path, directory, key) not in stored:
            stored[(path, directory, key)] = upload(path, directory=directory, key=key)
        return stored[(path, directory, key)]

    return once


def encode_items(
    task: kubetask.Task[..., Any],
    items: Iterable[Mapping[str, Any]],
    shared: Mapping[str, Any],
    *,
    upload: kubetask.Upload | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every item checked with the pod's codec (with the shared inputs under it, so a missing input is
    caught) before anything is created: the shared inputs and each item's own inputs, as JSON values.
    The message names the item."""
    upload = _upload_once(upload)
    try:
        shared_json = task.interface.encode_inputs(dict(shared), upload=upload, complete=False)
    except kubetask.InputError as error:
        raise ClientUsageError(f"inputs: {error}") from None
    encoded: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ClientUsageError(
                f"items[{index}]: expected a mapping of inputs by name, got {item!r} ({type(item).__name__})"
            )
        try:
            complete = inputs_from_values(task, {**shared, **item}, upload=upload)
        except ClientUsageError as error:
            raise ClientUsageError(f"items[{index}]: {error}") from None
        encoded.append({key: complete[key] for key in item})
    return dict(shared_json), encoded


def map_task(
    task: kubetask.Task[..., Any],
    items: Iterable[Mapping[str, Any]],
    *,
    parallelism: int = 10,
    max_failed: int = 0,
    inputs: Mapping[str, Any] | None = None,
    image: str | None = None,
    namespace: str | None = None,
    name: str | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    retries: int | None = None,
    timeout: str | float | datetime.timedelta | None = None,
    pending_timeout: str | None = None,
    output_prefix: str | None = None,
    resources: kubetask.Resources | Mapping[str, Mapping[str, str | int | float]] | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[kubetask.Secret] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Mapping[str, Any]] | None = None,
    pod_template: str | None = None,
    service_account: str | None = None,
    labels: Mapping[str, str] | None = None,
    ttl_seconds_after_finished: int | None = None,
    image_pull_secrets: Sequence[str] = (),
    queue: str | None = None,
) -> TaskMapHandle:
    """Run ``task`` once per item of ``items`` (Python values by input name; ``inputs`` are shared by every
    item, an item's own value winning), at most ``parallelism`` at once, each as its own TaskRun
    ``<name>-<index>``. The map succeeds when at most ``max_failed`` items failed; past that it starts no
    new item and fails once the running ones end. ``timeout`` is per item. Every option of
    ``kubetask.submit`` applies to each item; ``queue`` (or the decorator's) makes each item wait for its
    TaskQueue's admission, on top of ``parallelism``. Every item is checked before anything is created.
    Returns at once; ``.wait()`` gives the outputs in item order and the failures.
    """
    for argument, value, least in (("parallelism", parallelism, 1), ("max_failed", max_failed, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ClientUsageError(f"{argument}: expected an int >= {least}, got {value!r}")
    options = submit_options(
        task,
        image=image,
        retries=retries,
        timeout=timeout,
        resources=resources,
        env=env,
        secrets=secrets,
        node_selector=node_selector,
        tolerations=tolerations,
        pod_template=pod_template,
        service_account=service_account,
        pending_timeout=pending_timeout,
        output_prefix=output_prefix,
        labels=labels,
        ttl_seconds_after_finished=ttl_seconds_after_finished,
        image_pull_secrets=image_pull_secrets,
        queue=queue,
    )
    shared = dict(inputs or {})
    shared_json, encoded = encode_items(task, items, shared, upload=input_upload(options))
    api = TaskMapApi(connect(kubeconfig=kubeconfig, context=context))
    return create_taskmap(
        api,
        task,
        encoded,
        shared_json,
        options=options,
        namespace=namespace,
        name=name,
        parallelism=parallelism,
        max_failed=max_failed,
    )


def create_taskmap(
    api: TaskMapApi,
    task: kubetask.Task[..., Any],
    encoded: list[dict[str, Any]],
    shared_json: Mapping[str, Any],
    *,
    options: SubmitOptions,
    namespace: str | None,
    name: str | None,
    parallelism: int,
    max_failed: int,
) -> TaskMapHandle:
    """Create the TaskMap for items already checked and converted to JSON values; items too large to be
    inline go to ``<output prefix>/<name>/items.jsonl`` (refused without an output prefix)."""
    namespace = validate_namespace(namespace or api.connection.namespace)
    name = validate_name(name) if name is not None else generated_name(task.name)
    if not is_label_value(name):
        raise ClientUsageError(
            f"name: a TaskMap's name labels its items ({LABEL_MAP}), so it may have at most 63 characters; "
            f"got {name!r} ({len(name)} characters)"
        )
    document = "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in encoded)
    items_from = None
    if len(document) > INLINE_ITEMS_MAX_BYTES:
        if options.output_prefix is None:
            raise ClientUsageError(
                f"items: {len(encoded)} items take {len(document)} bytes, more than a TaskMap holds inline "
                f"({INLINE_ITEMS_MAX_BYTES} bytes): give an output prefix (output_prefix=..., "
                "--output-prefix) to have them uploaded there and read by the operator (spec.itemsFrom)"
            )
        items_from = f"{options.output_prefix.rstrip('/')}/{name}/items.jsonl"
        kubetask.write_uri(items_from, document.encode())
    manifest = taskmap_manifest(
        name=name,
        namespace=namespace,
        task=task,
        items=None if items_from else encoded,
        items_from=items_from,
        shared=shared_json,
        options=options,
        parallelism=parallelism,
        max_failed=max_failed,
    )
    return TaskMapHandle(api, api.create(manifest))


def attach_map(
    name: str, *, namespace: str | None = None, context: str | None = None, kubeconfig: str | None = None
) -> TaskMapHandle:
    """A handle for the existing TaskMap ``name``."""
    api = TaskMapApi(connect(kubeconfig=kubeconfig, context=context))
    namespace = validate_namespace(namespace or api.connection.namespace)
    return TaskMapHandle(api, api.get(validate_name(name), namespace))
