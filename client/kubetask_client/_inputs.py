"""Inputs for a TaskRun, as the JSON values its ``spec.inputs`` holds, converted by the task's own interface.

Python values, ``-i NAME=VALUE`` strings and inputs files all go through the codec the pod uses
(``kubetask.Interface``), so a value means the same thing locally and on the cluster and a bad one is
refused here, before any TaskRun exists, with the message the pod would give. Local files are uploaded
under the submission's output prefix; without one they are refused, naming what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import kubetask
from kubetask_client._errors import ClientUsageError, KubetaskClientError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PrefixUpload:
    """Uploads a submission's local file inputs to ``<prefix>/inputs/<input path>/<file name>``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, path: str, *, directory: bool, key: str) -> str:
        segments = ["inputs", _UNSAFE.sub("_", key).strip(".") or "value"]
        if not directory:
            segments.append(os.path.basename(os.path.abspath(path)))
        uri = kubetask.join_uri(self.prefix, *segments)
        try:
            kubetask.upload_to_uri(path, uri, directory=directory)
        except kubetask.StorageError as error:
            raise KubetaskClientError(
                f"input '{key}': uploading {path!r} to {uri!r} failed: {error}"
            ) from None
        return uri


def inputs_from_values(
    task: kubetask.Task[..., Any], values: Mapping[str, Any], *, upload: kubetask.Upload | None = None
) -> dict[str, Any]:
    """Python values by input name -> JSON values, every input checked against the task's types."""
    try:
        return task.interface.encode_inputs(dict(values), upload=upload)
    except kubetask.InputError as error:
        raise ClientUsageError(str(error)) from None


def inputs_from_document(
    task: kubetask.Task[..., Any], document: Mapping[str, Any], *, upload: kubetask.Upload | None = None
) -> dict[str, Any]:
    """JSON values by input name (an inputs file) -> the JSON values to submit, checked as the pod will
    read them; local files in it are uploaded like Python ones."""
    try:
        values = task.interface.check_inputs(dict(document))
    except kubetask.InputError as error:
        raise ClientUsageError(str(error)) from None
    return inputs_from_values(task, values, upload=upload)


def inputs_from_assignments(
    task: kubetask.Task[..., Any], assignments: Sequence[str], *, upload: kubetask.Upload | None = None
) -> dict[str, Any]:
    """``["name=value", ...]`` from the command line -> JSON values, each parsed by its parameter's type."""
    try:
        values = task.interface.parse_assignments(list(assignments))
    except kubetask.UsageError as error:
        raise ClientUsageError(str(error)) from None
    return inputs_from_values(task, values, upload=upload)
