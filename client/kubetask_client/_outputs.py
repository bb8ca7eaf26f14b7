"""Outputs too large for the TaskRun's status: read from the document the task wrote (``outputsUri``), with
the runtime's own storage layer (local paths, file://, and any fsspec protocol whose extra is installed,
with the credentials of the environment)."""

from __future__ import annotations

import json
from typing import Any

import kubetask
from kubetask_client._errors import KubetaskClientError


def read_outputs_document(uri: str, *, taskrun: str) -> dict[str, Any]:
    """The outputs document at ``uri`` (``{name: JSON value}``)."""
    try:
        document = json.loads(kubetask.read_uri(uri))
    except kubetask.StorageError as error:
        raise KubetaskClientError(
            f"the outputs of taskrun {taskrun!r} did not fit in its status and reading them from {uri!r} "
            f"failed: {error}"
        ) from None
    except ValueError as error:
        raise KubetaskClientError(
            f"the outputs document {uri!r} of taskrun {taskrun!r} is not JSON: {error}"
        ) from None
    if not isinstance(document, dict):
        raise KubetaskClientError(
            f"the outputs document {uri!r} of taskrun {taskrun!r} is {type(document).__name__}, not an object"
        )
    return document
