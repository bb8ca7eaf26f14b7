"""Errors of the emulated API server, each rendered as a real Kubernetes ``Status`` object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ApiError(Exception):
    """An API failure answered as ``kind: Status`` with the HTTP code of the real API server."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The Status, its keys in the order Go serialises metav1.Status and StatusDetails (clients that
        compare error text byte for byte, e.g. the kubernetes Python client's e2e suite, see that order)."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            order = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")
            body["details"] = {
                **{key: self.details[key] for key in order if key in self.details},
                **{key: value for key, value in self.details.items() if key not in order},
            }
        body["code"] = self.code
        return body


def _details(group: str, kind: str, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind}
    if group:
        details["group"] = group
    if name is not None:
        details["name"] = name
    return details


def _qualified(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(*, group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(group, plural)} "{name}" not found',
        details=_details(group, plural, name),
    )


def already_exists(*, group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(group, plural)} "{name}" already exists',
        details=_details(group, plural, name),
    )


def conflict(*, group: str, plural: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group, plural)} "{name}": {why}',
        details=_details(group, plural, name),
    )


def stale_resource_version(*, group: str, plural: str, name: str) -> ApiError:
    return conflict(
        group=group,
        plural=plural,
        name=name,
        why="the object has been modified; please apply your changes to the latest version and try again",
    )


def invalid(*, group: str, kind: str, name: str, causes: Sequence[tuple[str, str]]) -> ApiError:
    """422 Invalid with one cause per field, worded as the real server words them (``field: message``)."""
    field_errors = [f"{field}: {message}" if field else message for field, message in causes]
    summary = field_errors[0] if len(field_errors) == 1 else "[" + ", ".join(field_errors) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{kind}.{group} "{name}" is invalid: {summary}'
        if group
        else f'{kind} "{name}" is invalid: {summary}',
        details={
            **_details(group, kind, name),
            "causes": [
                {"reason": _cause_reason(message), "message": message, "field": field}
                for field, message in causes
            ],
        },
    )


def _cause_reason(message: str) -> str:
    for prefix, reason in (
        ("Required value", "FieldValueRequired"),
        ("Unsupported value", "FieldValueNotSupported"),
        ("Invalid value", "FieldValueInvalid"),
        ("Forbidden", "FieldValueForbidden"),
        ("Too long", "FieldValueTooLong"),
        ("Too many", "FieldValueTooMany"),
        ("Duplicate value", "FieldValueDuplicate"),
        ("Not found", "FieldValueNotFound"),
    ):
        if message.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unprocessable_patch(message: str) -> ApiError:
    """A JSON patch whose ``test`` fails or whose path does not exist: 422 as the real server answers."""
    return ApiError(422, "Invalid", message)


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", message)


def too_many_requests(*, retry_after: int) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
        details={"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )
