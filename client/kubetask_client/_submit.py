"""The Python API: ``submit(task, inputs, image=...)`` creates a TaskRun and returns a TaskRunHandle to
wait for it and read its outputs; ``attach(name)`` makes a handle for a TaskRun that already exists."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import kubetask
from kubetask_api import duration_of_seconds, parse_duration
from kubetask_client._api import TaskRunApi
from kubetask_client._code import create_with_code
from kubetask_client._errors import ClientUsageError, KubetaskClientError, TaskRunFailedError
from kubetask_client._handle import ResourceHandle
from kubetask_client._inputs import PrefixUpload, inputs_from_values
from kubetask_client._kube import connect
from kubetask_client._outputs import read_outputs_document
from kubetask_client._taskrun import (
    SubmitOptions,
    TaskReference,
    failure_message,
    generated_name,
    outputs_of,
    pod_for_attempt,
    reference_from_loader_args,
    status_of,
    taskrun_manifest,
    validate_name,
    validate_namespace,
)


class TaskRunHandle(ResourceHandle):
    """One TaskRun in the cluster: its last known state, and ways to wait for, read, cancel or delete it."""

    def __init__(self, api: TaskRunApi, taskrun: Mapping[str, Any]) -> None:
        super().__init__(api, taskrun)
        self._api = api

    @property
    def taskrun(self) -> dict[str, Any]:
        """The TaskRun as last read from the API."""
        return self._resource

    def wait(
        self, timeout: float | None = None, *, on_update: Callable[[Mapping[str, Any]], None] | None = None
    ) -> TaskRunHandle:
        """Block until the TaskRun ends (any final phase); WaitTimeoutError after ``timeout`` seconds."""
        self._resource = self._api.wait(self.name, self.namespace, timeout=timeout, on_update=on_update)
        return self

    @property
    def outputs(self) -> dict[str, Any]:
        """The task's outputs by name (``o0`` for a single return value), as JSON values.

        Outputs too large for the status are read from ``outputs_uri`` with the runtime's storage layer
        (this process needs the storage extra and credentials). Raises TaskRunFailedError when it failed or
        was cancelled, and KubetaskClientError when it has not finished (call ``wait()`` first) or its
        outputs cannot be read.
        """
        if not self.done:
            self.refresh()
        phase = self.phase
        if phase in {"Failed", "Cancelled"}:
            raise TaskRunFailedError(failure_message(self._resource), taskrun=self._resource)
        if phase != "Succeeded":
            raise KubetaskClientError(
                f"taskrun {self.name!r} is {phase}, it has no outputs yet: call wait() first"
            )
        outputs = outputs_of(self._resource)
        if outputs is not None:
            return outputs
        uri = self.outputs_uri
        if uri is None:
            raise KubetaskClientError(f"taskrun {self.name!r} succeeded without outputs or an outputsUri")
        return read_outputs_document(uri, taskrun=self.name)

    @property
    def outputs_uri(self) -> str | None:
        uri = status_of(self._resource).get("outputsUri")
        return str(uri) if uri else None

    def logs(self, attempt: int | None = None) -> str:
        """The log of the current attempt's pod, or of attempt ``attempt`` (1-based)."""
        return self._api.pod_log(pod_for_attempt(self.refresh().taskrun, attempt), self.namespace)

    def cancel(self) -> TaskRunHandle:
        """Ask the operator to stop the run (``spec.cancelled``); a run that already ended is left alone."""
        self._resource = self._api.cancel(self.name, self.namespace)
        return self


def task_reference(task: kubetask.Task[..., Any], *, image: str, namespace: str) -> TaskReference:
    """How the pod will find ``task``: its resolver's loader args (``task:`` for the default resolver)."""
    if not isinstance(task, kubetask.Task):
        raise ClientUsageError(
            f"task: expected a @kubetask.task function, got {task!r} ({type(task).__name__})"
        )
    resolver = task.resolver if task.resolver is not None else kubetask.default_task_resolver
    settings = kubetask.SerializationSettings(image=image, namespace=namespace)
    loader_args = resolver.loader_args(settings, task)
    return reference_from_loader_args(
        resolver.location, loader_args, default_resolver=kubetask.DEFAULT_RESOLVER
    )


def create_taskrun(
    api: TaskRunApi,
    task: kubetask.Task[..., Any],
    json_inputs: Mapping[str, Any],
    *,
    options: SubmitOptions,
    namespace: str | None,
    name: str | None,
) -> TaskRunHandle:
    """Create the TaskRun for ``task`` with inputs already converted to JSON values."""
    namespace = validate_namespace(namespace or api.connection.namespace)
    name = validate_name(name) if name is not None else generated_name(task.name)
    reference = task_reference(task, image=options.image, namespace=namespace)
    created = create_with_code(
        api,
        task,
        namespace=namespace,
        ship_code=options.ship_code,
        build_manifest=lambda code: taskrun_manifest(
            name=name,
            namespace=namespace,
            reference=reference,
            inputs=json_inputs,
            options=options,
            code=code,
        ),
    )
    return TaskRunHandle(api, created)


def submit_options(
    task: kubetask.Task[..., Any],
    *,
    image: str | None = None,
    retries: int | None = None,
    timeout: str | float | datetime.timedelta | None = None,
    resources: kubetask.Resources | Mapping[str, Mapping[str, str | int | float]] | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[kubetask.Secret] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Mapping[str, Any]] | None = None,
    pod_template: str | None = None,
    service_account: str | None = None,
    pending_timeout: str | None = None,
    output_prefix: str | None = None,
    labels: Mapping[str, str] | None = None,
    ttl_seconds_after_finished: int | None = None,
    image_pull_secrets: Sequence[str] = (),
    ship_code: bool = True,
    cache: bool | None = None,
    cache_version: str | None = None,
    no_cache: bool = False,
    queue: str | None = None,
) -> SubmitOptions:
    """The TaskRun options of a submission: the task's decorator options with the ones given here winning
    (a value replaces one; env, node_selector and resources win key by key; a Secret replaces one with the
    same variable or path; tolerations add up). ClientUsageError names a bad option."""
    if not isinstance(task, kubetask.Task):
        raise ClientUsageError(
            f"task: expected a @kubetask.task function, got {task!r} ({type(task).__name__})"
        )
    if isinstance(timeout, str):
        try:
            timeout = parse_duration(timeout)
        except ValueError as error:
            raise ClientUsageError(f"timeout: {error}") from None
    try:
        overrides = kubetask.TaskOptions(
            retries=retries,
            timeout=timeout,
            resources=resources,
            env=env,
            secrets=secrets,
            node_selector=node_selector,
            tolerations=tolerations,
            pod_template=pod_template,
            service_account=service_account,
            image=image,
            cache=cache,
            cache_version=cache_version,
            queue=queue,
            where="submit",
        )
    except kubetask.TaskDefinitionError as error:
        raise ClientUsageError(str(error)) from None
    options = task.options.merged(overrides)
    if options.image is None:
        raise ClientUsageError(
            f"image: task {task.name!r} names no image: pass image=... (--image) "
            "or set @kubetask.task(image=...)"
        )
    return SubmitOptions(
        image=options.image,
        retries=options.retries,
        timeout=duration_of_seconds(options.timeout) if options.timeout is not None else None,
        pending_timeout=pending_timeout,
        output_prefix=output_prefix,
        service_account=options.service_account,
        env=options.env,
        labels=dict(labels or {}),
        ttl_seconds_after_finished=ttl_seconds_after_finished,
        image_pull_secrets=tuple(image_pull_secrets),
        resources=options.resources,
        secrets=options.secrets,
        node_selector=options.node_selector,
        tolerations=options.tolerations,
        pod_template=options.pod_template,
        cache=bool(options.cache),
        cache_version=options.cache_version,
        cache_refresh=no_cache and bool(options.cache),
        ship_code=ship_code,
        queue=options.queue,
    )


def input_upload(options: SubmitOptions) -> kubetask.Upload | None:
    """Where a submission's local file inputs go: under its output prefix, else nowhere (refused)."""
    return PrefixUpload(options.output_prefix) if options.output_prefix is not None else None


def submit(
    task: kubetask.Task[..., Any],
    inputs: Mapping[str, Any] | None = None,
    *,
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
    code: bool = True,
    cache: bool | None = None,
    cache_version: str | None = None,
    no_cache: bool = False,
    queue: str | None = None,
) -> TaskRunHandle:
    """Run ``task`` on the cluster with ``inputs`` (Python values by input name).

    Every option of ``@kubetask.task`` (image, retries, timeout, resources, env, secrets, node_selector,
    tolerations, pod_template, service_account) reaches the TaskRun; one given here wins over the
    decorator's. The image must contain the task's module. ``namespace`` defaults to the kubeconfig
    context's; ``timeout``/``pending_timeout`` are durations such as ``"5m"`` (``timeout`` also seconds or a
    timedelta); unset options take the operator's defaults. Inputs are checked with the pod's own codec
    before anything is created; local files are uploaded under ``output_prefix`` (refused without one).
    Returns at once; ``.wait()`` then ``.outputs`` give the result.

    The task's code root is shipped with the TaskRun (``spec.code``) and put first on the pod's
    ``sys.path``, so the image needs kubetask and the task's dependencies but not its latest source;
    ``code=False`` ships nothing (the image holds the code). ``cache``/``cache_version`` override the
    decorator's; ``no_cache=True`` runs even when an identical run's outputs could be reused. ``queue``
    names the TaskQueue that admits the run (``spec.queue``), over the decorator's ``queue``.
    """
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
        ship_code=code,
        cache=cache,
        cache_version=cache_version,
        no_cache=no_cache,
        queue=queue,
    )
    json_inputs = inputs_from_values(task, dict(inputs or {}), upload=input_upload(options))
    api = TaskRunApi(connect(kubeconfig=kubeconfig, context=context))
    return create_taskrun(api, task, json_inputs, options=options, namespace=namespace, name=name)


def attach(
    name: str, *, namespace: str | None = None, context: str | None = None, kubeconfig: str | None = None
) -> TaskRunHandle:
    """A handle for the existing TaskRun ``name`` (TaskRunNotFoundError if there is none)."""
    api = TaskRunApi(connect(kubeconfig=kubeconfig, context=context))
    namespace = validate_namespace(namespace or api.connection.namespace)
    return TaskRunHandle(api, api.get(validate_name(name), namespace))
