"""Label and field selectors as the API server parses them (``?labelSelector=`` / ``?fieldSelector=``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from kubetask_local.apiserver._errors import bad_request

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_./-]*)\s*$")


@dataclasses.dataclass(frozen=True)
class _Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "=":
                return present and value in self.values
            case "!=":
                return not present or value not in self.values
            case "in":
                return present and value in self.values
            case "notin":
                return not present or value not in self.values
            case "exists":
                return present
            case _:
                return not present


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``in (...)`` parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def parse_label_selector(text: str | None) -> Predicate | None:
    """A predicate over a whole object, or None when there is no selector; 400 on bad syntax."""
    if not text or not text.strip():
        return None
    requirements = []
    for part in _split_top_level(text):
        if equality := _EQ_RE.match(part):
            key, operator, value = equality.groups()
            requirements.append(_Requirement(key, "!=" if operator == "!=" else "=", frozenset({value})))
        elif set_based := _SET_RE.match(part):
            negated, key, operator, values = set_based.groups()
            if operator:
                items = frozenset(item.strip() for item in values.split(",") if item.strip())
                requirements.append(_Requirement(key, operator, items))
            else:
                requirements.append(_Requirement(key, "!" if negated else "exists", frozenset()))
        else:
            raise bad_request(f"unable to parse requirement: {part!r} in labelSelector {text!r}")

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(requirement.matches(labels) for requirement in requirements)

    return matches


def field_value(obj: Mapping[str, Any], path: str) -> str | None:
    """The string form of a dotted field path as field selectors compare it."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    if node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


# Field paths that the real server supports for every resource, plus the per-kind extras it documents.
_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_KIND_FIELDS: dict[str, frozenset[str]] = {
    "Pod": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "Event": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reportingController",
            "note",
        }
    ),
    "Secret": frozenset({"type"}),
    "Namespace": frozenset({"status.phase"}),
    "Node": frozenset({"spec.unschedulable"}),
    "Job": frozenset({"status.successful"}),
}


def parse_field_selector(text: str | None, *, kind: str, custom: bool) -> Predicate | None:
    """A predicate for ``fieldSelector``; unsupported field labels answer 400 as the real server does."""
    if not text or not text.strip():
        return None
    allowed = _COMMON_FIELDS | _KIND_FIELDS.get(kind, frozenset())
    terms: list[tuple[str, bool, str]] = []
    for part in text.split(","):
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if match is None:
            raise bad_request(f"invalid selector: {text!r}; can't understand {part!r}")
        path, operator, value = match.groups()
        if path not in allowed and not (custom and path in _COMMON_FIELDS):
            raise bad_request(f"field label not supported: {path}")
        terms.append((path, operator == "!=", value))

    def matches(obj: Mapping[str, Any]) -> bool:
        for path, negated, value in terms:
            actual = field_value(obj, path)
            if path == "source" and kind == "Event":
                actual = field_value(obj, "source.component")
            if (actual or "") == value and negated:
                return False
            if (actual or "") != value and not negated:
                return False
        return True

    return matches
