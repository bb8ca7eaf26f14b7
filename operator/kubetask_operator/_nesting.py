"""JSON nested deeper than Python's recursion allows, decoded without failing and measured without recursing.

A real API server stores objects nested up to 10000 levels; the standard library's decoder raises
RecursionError near 1000 (Python's recursion limit). One such TaskRun in a watch listing would otherwise stop
the operator's watch (and so the operator, for every TaskRun, at each restart). ``tolerant_loads`` decodes any
JSON: a part nested past ``DECODE_DEPTH`` becomes the string ``TOO_DEEP`` instead, so everything that follows
(kopf, the controller, deep copies of statuses) only ever sees objects shallow enough to handle. The spec
check (``_spec``) and the outcome reader (``_outcomes``) then refuse anything past ``MAX_NESTING`` by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MAX_NESTING = 100
"""The documented limit: levels of objects and arrays in a free-form spec field (``inputs``, ``env``,
``podTemplate.affinity``, ...) and in a task's outputs."""

DECODE_DEPTH = 200
"""Deeper parts of a decoded API object are cut off (far beyond MAX_NESTING, well within Python's reach)."""

TOO_DEEP = f"<kubetask: nested deeper than {DECODE_DEPTH} levels, not decoded>"

_SPACE = re.compile(r"[ \t\n\r]*")
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_scalar = json.JSONDecoder().raw_decode
_scan_string = json.decoder.scanstring  # type: ignore[attr-defined]


def tolerant_loads(text: str | bytes | bytearray) -> Any:
    """``json.loads``, but parts nested deeper than DECODE_DEPTH become TOO_DEEP (never a RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        decoded = text.decode("utf-8") if isinstance(text, (bytes, bytearray)) else text
        return _decode_iteratively(decoded, DECODE_DEPTH)


def _error(message: str, text: str, position: int) -> json.JSONDecodeError:
    return json.JSONDecodeError(message, text, position)


def _skip_container(text: str, position: int) -> int:
    """The position after the object or array starting at ``position`` (strings inside are skipped whole)."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text, position):
        token = match.group()
        if token in "[{":
            depth += 1
        elif token in "]}":
            depth -= 1
            if depth == 0:
                return match.end()
    raise _error("unterminated object or array", text, position)


def _key(text: str, position: int) -> tuple[str, int]:
    position = _skip_space(text, position)
    if text[position : position + 1] != '"':
        raise _error("expected a property name in double quotes", text, position)
    key, position = _scan_string(text, position + 1)
    position = _skip_space(text, position)
    if text[position : position + 1] != ":":
        raise _error("expected ':'", text, position)
    return key, position + 1


_Stack = list[tuple[dict[str, Any] | list[Any], str]]  # containers being filled, each with its next key


def _skip_space(text: str, position: int) -> int:
    return _SPACE.match(text, position).end()  # type: ignore[union-attr]


def _start(text: str, position: int, stack: _Stack, max_depth: int) -> tuple[bool, Any, int]:
    """Read what starts at ``position``: ``(True, value, end)`` for a whole value, or ``(False, None, end)``
    after opening a non-empty container (pushed on ``stack``)."""
    opener = text[position : position + 1]
    if opener in ("{", "[") and len(stack) >= max_depth:
        return True, TOO_DEEP, _skip_container(text, position)
    if opener in ("{", "["):
        after = _skip_space(text, position + 1)
        if text[after : after + 1] == ("}" if opener == "{" else "]"):
            return True, ({} if opener == "{" else []), after + 1
        if opener == "{":
            key, position = _key(text, position + 1)
            stack.append(({}, key))
        else:
            stack.append(([], ""))
            position += 1
        return False, None, position
    if opener == '"':
        value, position = _scan_string(text, position + 1)
        return True, value, position
    try:
        value, position = _scalar(text, position)
    except json.JSONDecodeError:
        raise _error("expected a JSON value", text, position) from None
    return True, value, position


def _decode_iteratively(text: str, max_depth: int) -> Any:
    """A JSON decoder with its own stack instead of recursion; see ``tolerant_loads``."""
    stack: _Stack = []
    position = 0
    while True:
        whole, value, position = _start(text, _skip_space(text, position), stack, max_depth)
        if not whole:
            continue
        # Put the value in its container, closing every container that ends right after it.
        while stack:
            container, key = stack[-1]
            if isinstance(container, dict):
                container[key] = value
            else:
                container.append(value)
            position = _skip_space(text, position)
            separator = text[position : position + 1]
            if separator == ",":
                if isinstance(container, dict):
                    key, position = _key(text, position + 1)
                    stack[-1] = (container, key)
                else:
                    position += 1
                break
            if separator != ("}" if isinstance(container, dict) else "]"):
                raise _error("expected ',' or the end of the object or array", text, position)
            stack.pop()
            value, position = container, position + 1
        else:
            end = _skip_space(text, position)
            if end != len(text):
                raise _error("extra data", text, end)
            return value


def path_too_deep(value: Any, limit: int = MAX_NESTING) -> list[str | int] | None:
    """The path to the first object or array nested more than ``limit`` levels in ``value`` (``value``
    itself, when it is one, is level 1), or None; found without recursion."""
    pending: list[tuple[Any, int, list[str | int]]] = [(value, 1, [])]
    while pending:
        item, depth, path = pending.pop()
        if isinstance(item, Mapping):
            children: list[tuple[str | int, Any]] = [(str(k), v) for k, v in item.items()]
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            continue
        if depth > limit:
            return path
        pending.extend(
            (child, depth + 1, [*path, key])
            for key, child in reversed(children)
            if isinstance(child, (Mapping, list))
        )
    return None


def describe_path(prefix: str, path: list[str | int], *, shown: int = 3) -> str:
    """``prefix`` followed by the first ``shown`` steps of ``path`` (``spec.env[0].valueFrom...``)."""
    text = prefix
    for step in path[:shown]:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text + ("..." if len(path) > shown else "")
