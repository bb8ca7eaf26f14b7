"""``--inputs-file FILE`` of ``run`` and ``submit``: a JSON or YAML object of inputs by name.

JSON is read with the standard library (``run`` needs no extra); YAML only when the file is not JSON, with
PyYAML when it is installed (the ``client`` extra brings it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from kubetask_client._errors import ClientUsageError


def parse_inputs_document(text: str, *, path: str) -> dict[str, Any]:
    """The inputs object in ``text`` (JSON, else YAML); ClientUsageError naming --inputs-file."""
    try:
        document: Any = json.loads(text)
    except ValueError as json_error:
        try:
            import yaml
        except ImportError:
            raise ClientUsageError(
                f"--inputs-file {path!r}: not valid JSON ({json_error}); for YAML install PyYAML "
                "(pip install 'kubetask[client]')"
            ) from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as yaml_error:
            raise ClientUsageError(
                f"--inputs-file {path!r}: neither JSON ({json_error}) nor YAML ({yaml_error})"
            ) from None
    if not isinstance(document, dict):
        raise ClientUsageError(
            f"--inputs-file {path!r}: expected an object of inputs by name, got {type(document).__name__}"
        )
    bad = [key for key in document if not isinstance(key, str)]
    if bad:
        raise ClientUsageError(f"--inputs-file {path!r}: input names must be strings, got {bad[0]!r}")
    return document


def read_inputs_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as error:
        raise ClientUsageError(f"--inputs-file {path!r}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ClientUsageError(f"--inputs-file {path!r}: not UTF-8 text: {error}") from None
    return parse_inputs_document(text, path=path)


def task_inputs(
    task: Any,
    *,
    document: Mapping[str, Any] | None,
    assignments: Sequence[str],
    upload: Any = None,
    local_paths: bool = False,
) -> dict[str, Any]:
    """The JSON inputs of a run from an inputs file (JSON values) and ``-i`` assignments over it, each
    checked by the task's interface exactly as the pod will decode it; unknown and missing inputs are
    refused. Local files are uploaded with ``upload`` or, for a local run (``local_paths``), kept as paths."""
    import kubetask  # the task's interface: only commands that load a task get here

    interface = task.interface
    try:
        given = interface.parse_assignments(list(assignments))
    except kubetask.UsageError as error:
        raise ClientUsageError(str(error)) from None
    try:
        if document is None:
            return dict(interface.encode_inputs(given, upload=upload, local_paths=local_paths))
        # -i values as JSON over the file's, then every value checked together as the pod will read them.
        assigned = interface.encode_inputs(given, local_paths=True, complete=False)
        values = interface.check_inputs({**document, **assigned})
        return dict(interface.encode_inputs(values, upload=upload, local_paths=local_paths))
    except kubetask.InputError as error:  # it names the input and the path inside it
        raise ClientUsageError(str(error)) from None
