"""``x-kubernetes-validations``: CEL rules (with ``oldSelf`` transition rules) evaluated by cel-python."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import sys
from collections.abc import Mapping
from typing import Any

import celpy
from celpy.adapter import json_to_cel

Causes = list[tuple[str, str]]


@functools.lru_cache(maxsize=512)
def _program(rule: str) -> Any:
    # celpy.Environment() sets the process's recursion limit to 2500, which would undo the API server's
    # (objects nested 10000 deep must stay storable): keep whichever is higher.
    limit = sys.getrecursionlimit()
    environment = celpy.Environment()
    sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
    return environment.program(environment.compile(rule))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_PRESENCE = re.compile(r"has\(\s*(?:self|oldSelf)\.([A-Za-z_][A-Za-z0-9_]*)\s*\)")
_ACCESS = re.compile(r"\b(?:self|oldSelf)\b(?:\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\())?")
_IDENTITY_RULES = frozenset({"self == oldSelf", "oldSelf == self"})


@dataclasses.dataclass(frozen=True)
class _Projection:
    """What of ``self``/``oldSelf`` a rule can observe: some fields' values, some fields' presence."""

    values: frozenset[str]
    presence: frozenset[str]

    def apply(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {
            key: (item if key in self.values else True)
            for key, item in value.items()
            if key in self.values or key in self.presence
        }


@functools.lru_cache(maxsize=512)
def _projection(rule: str) -> _Projection | None:
    """The fields a rule reads, when it reads only named fields (None: it may read the whole value).

    Two objects that agree on those fields get the same verdict, so the verdict cache keys on them only:
    a spec with a unique ``inputs`` does not defeat the cache for rules that never read ``inputs``."""
    presence = frozenset(_PRESENCE.findall(rule))
    values = set()
    for match in _ACCESS.finditer(_PRESENCE.sub("true", rule)):
        if match.group(1) is None:
            return None  # ``self`` as a whole, or a method called on it
        values.add(match.group(1))
    return _Projection(values=frozenset(values), presence=presence - values)


def verdict(expression: str, value: Any, old: Any, *, transition: bool) -> bool:
    if transition and expression.strip() in _IDENTITY_RULES:
        return bool(value == old)
    projection = _projection(expression)
    if projection is not None:
        value, old = projection.apply(value), projection.apply(old)
    return _cached_result(expression, _canonical(value), _canonical(old) if transition else "")


@functools.lru_cache(maxsize=8192)
def _cached_result(expression: str, value: str, old: str) -> bool:
    """A rule's verdict on a value (and old value): the same spec in many objects is judged once."""
    activation = {"self": json_to_cel(json.loads(value))}
    if old:
        activation["oldSelf"] = json_to_cel(json.loads(old))
    result = _program(expression).evaluate(activation)
    if isinstance(result, Exception):
        raise result
    return bool(result)


def _is_transition(rule: str) -> bool:
    return "oldSelf" in rule


def _shown(schema: Mapping[str, Any]) -> str:
    """CEL failures show the schema type in place of the value, as the real server does."""
    return json.dumps(str(schema.get("type", "object")))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _evaluate(
    rule: Mapping[str, Any], schema: Mapping[str, Any], value: Any, old: Any, path: str
) -> tuple[str, str] | None:
    expression = str(rule.get("rule", ""))
    if _is_transition(expression) and old is None:
        return None  # transition rules only judge updates of an existing value
    field = _join(path, str(rule["fieldPath"]).lstrip(".")) if rule.get("fieldPath") else path
    try:
        result = verdict(expression, value, old, transition=_is_transition(expression))
    except Exception as error:  # celpy raises its own evaluation errors for type and key mistakes
        return field, f"Invalid value: {_shown(schema)}: rule {expression!r} could not be evaluated: {error}"
    if result:
        return None
    message = rule.get("message") or f"failed rule: {expression}"
    reason = rule.get("reason")
    if reason == "FieldValueRequired":
        return field, f"Required value: {message}"
    if reason == "FieldValueForbidden":
        return field, f"Forbidden: {message}"
    return field, f"Invalid value: {_shown(schema)}: {message}"


def check_rules(schema: Mapping[str, Any], value: Any, old: Any, *, path: str) -> Causes:
    """Evaluate every rule of the schema tree on the value (and on the old value for transition rules)."""
    causes: Causes = []
    if value is None:
        return causes
    unchanged = old is not None and value == old
    for rule in schema.get("x-kubernetes-validations") or []:
        if unchanged and not _is_transition(str(rule.get("rule", ""))):
            continue  # validation ratcheting: an unchanged value keeps passing, as in the real server
        cause = _evaluate(rule, schema, value, old, path)
        if cause is not None:
            causes.append(cause)
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if key in value and key != "metadata":
                old_item = old.get(key) if isinstance(old, Mapping) else None
                causes.extend(check_rules(sub, value[key], old_item, path=_join(path, key)))
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            causes.extend(check_rules(schema["items"], item, None, path=f"{path}[{index}]"))
    return causes
