"""TaskRuns from a manifest file, created and followed: what ``kubetask dev --apply FILE --wait`` does
through the client's public face (``create_from_file``, ``follow``)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

import yaml

from kubetask_client._api import TaskRunApi
from kubetask_client._errors import ClientUsageError
from kubetask_client._follow import follow_to_end
from kubetask_client._kube import connect
from kubetask_client._taskrun import API_VERSION, KIND, validate_name, validate_namespace


def taskruns_in(text: str, *, path: str, namespace: str) -> list[dict[str, Any]]:
    """The TaskRuns of a YAML or JSON manifest (``---``-separated documents, or a List); anything else is
    refused naming the document. Pure."""
    try:
        documents = [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as error:
        raise ClientUsageError(f"{path}: not valid YAML: {error}") from None
    found: list[dict[str, Any]] = []
    for index, document in enumerate(documents, start=1):
        items = (
            document.get("items")
            if isinstance(document, Mapping) and document.get("kind") == "List"
            else None
        )
        for item in items if isinstance(items, list) else [document]:
            if not isinstance(item, Mapping):
                raise ClientUsageError(
                    f"{path}: document {index}: expected a TaskRun, got {type(item).__name__}"
                )
            if (item.get("apiVersion"), item.get("kind")) != (API_VERSION, KIND):
                raise ClientUsageError(
                    f"{path}: document {index}: expected apiVersion {API_VERSION} kind {KIND}, got "
                    f"{item.get('apiVersion')!r} {item.get('kind')!r}"
                )
            metadata = dict(item.get("metadata") or {})
            if not metadata.get("name") and not metadata.get("generateName"):
                raise ClientUsageError(f"{path}: document {index}: metadata.name is missing")
            if metadata.get("name"):
                validate_name(str(metadata["name"]), what=f"{path}: document {index}: metadata.name")
            metadata["namespace"] = validate_namespace(str(metadata.get("namespace") or namespace))
            found.append({**item, "metadata": metadata})
    if not found:
        raise ClientUsageError(f"{path}: no TaskRun in it")
    return found


def create_from_file(
    path: str, *, kubeconfig: str | None = None, context: str | None = None, err: TextIO | None = None
) -> list[tuple[str, str]]:
    """Create the TaskRuns of the manifest at ``path``; their (namespace, name)."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as error:
        raise ClientUsageError(f"{path}: {error.strerror or error}") from None
    connection = connect(kubeconfig=kubeconfig, context=context)
    api = TaskRunApi(connection)
    created = []
    for manifest in taskruns_in(text, path=path, namespace=connection.namespace):
        result = api.create(manifest)
        namespace, name = str(result["metadata"]["namespace"]), str(result["metadata"]["name"])
        (err or sys.stderr).write(f"taskrun.kubetask.dev/{name} created in namespace {namespace}\n")
        created.append((namespace, name))
    return created


def follow(
    name: str,
    *,
    namespace: str,
    kubeconfig: str | None = None,
    context: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    quiet: bool = False,
    timeout: float | None = None,
) -> int:
    """Follow the TaskRun live to its end as ``kubetask wait`` does; the exit code per the table."""
    api = TaskRunApi(connect(kubeconfig=kubeconfig, context=context))
    return follow_to_end(
        api,
        validate_name(name, what="name"),
        validate_namespace(namespace),
        out=out or sys.stdout,
        err=err or sys.stderr,
        quiet=quiet,
        timeout=timeout,
    )
