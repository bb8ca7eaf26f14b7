"""The termination message ``kubetask-execute`` leaves for the operator (built here; parsed in ``_summary``).

Kubernetes keeps at most 4096 bytes of a container's termination message, so the summary is built to fit:
outputs inline when they fit, otherwise only their URI and ``"truncated": true``; an error message is cut
to fit. Pure functions, no I/O.
"""

from __future__ import annotations

from kubetask._jsoncodec import dumps

MAX_TERMINATION_MESSAGE_BYTES = 4096
SUCCEEDED = "Succeeded"
FAILED = "Failed"
_ELLIPSIS = "..."


def _size(document: dict[str, object]) -> int:
    return len(dumps(document).encode("utf-8"))


def success_message(*, outputs: dict[str, object], outputs_uri: str) -> str:
    """``{"outcome":"Succeeded","outputs":{...},"outputsUri":...}``, or without outputs when too big."""
    document: dict[str, object] = {"outcome": SUCCEEDED, "outputs": outputs, "outputsUri": outputs_uri}
    text = dumps(document)
    if len(text.encode("utf-8")) <= MAX_TERMINATION_MESSAGE_BYTES:
        return text
    return _fit({"outcome": SUCCEEDED, "outputsUri": outputs_uri, "truncated": True})


def failure_message(
    *, kind: str, recoverable: bool, error_type: str, message: str, error_uri: str | None
) -> str:
    """``{"outcome":"Failed","error":{kind, recoverable, type, message},"errorUri":...}``, cut to fit."""
    error: dict[str, object] = {
        "kind": kind,
        "recoverable": recoverable,
        "type": error_type,
        "message": message,
    }
    document: dict[str, object] = {"outcome": FAILED, "error": error}
    if error_uri is not None:
        document["errorUri"] = error_uri
    if _size(document) <= MAX_TERMINATION_MESSAGE_BYTES:
        return dumps(document)
    document["truncated"] = True
    error["message"] = ""
    spare = MAX_TERMINATION_MESSAGE_BYTES - _size(document)
    if spare > len(_ELLIPSIS):
        error["message"] = _cut(message, spare)
    return _fit(document)


def _cut(text: str, budget: int) -> str:
    """The longest prefix of *text* (plus an ellipsis) whose JSON encoding takes at most *budget* bytes."""
    low, high = 0, len(text)
    while low < high:  # binary search: escapes make the encoded length non-linear in the character count
        middle = (low + high + 1) // 2
        if len(dumps(text[:middle] + _ELLIPSIS)) - 2 <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low] + _ELLIPSIS


def _fit(document: dict[str, object]) -> str:
    """Last resort for absurdly long URIs or type names: drop fields until the summary fits."""
    for field in ("outputsUri", "errorUri"):
        if _size(document) <= MAX_TERMINATION_MESSAGE_BYTES:
            break
        document.pop(field, None)
    error = document.get("error")
    if isinstance(error, dict) and _size(document) > MAX_TERMINATION_MESSAGE_BYTES:
        error["type"] = _cut(str(error["type"]), 200)
        error["message"] = ""
    return dumps(document)
