"""Pure logic, no server: CEL verdicts are cached on what a rule can observe, and stay exact."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask_local.apiserver._cel import verdict


@pytest.mark.parametrize(
    ("rule", "value", "old", "transition", "expected"),
    [
        pytest.param(
            "has(self.task) != has(self.args)", {"task": {"a": 1}}, None, False, True, id="presence"
        ),
        pytest.param(
            "has(self.task) != has(self.args)", {"task": 1, "args": [1]}, None, False, False, id="both"
        ),
        pytest.param("self.n > 2", {"n": 3, "other": "x"}, None, False, True, id="value-read"),
        pytest.param("self.n > 2", {"n": 1, "other": "x"}, None, False, False, id="value-read-fails"),
        pytest.param("self == oldSelf", {"a": [1, 2]}, {"a": [1, 2]}, True, True, id="identity"),
        pytest.param("self == oldSelf", {"a": [1, 2]}, {"a": [2, 1]}, True, False, id="identity-changed"),
        pytest.param("self.size() <= 1", {"a": 1, "b": 2}, None, False, False, id="whole-object"),
        pytest.param(
            "!has(oldSelf.c) || !oldSelf.c || (has(self.c) && self.c)",
            {"c": False},
            {"c": True},
            True,
            False,
            id="transition",
        ),
        pytest.param(
            "[has(self.x), has(self.y)] == [has(oldSelf.x), has(oldSelf.y)]",
            {"x": 1, "y": 2},
            {"x": 5, "y": 6},
            True,
            True,
            id="presence-lists",
        ),
    ],
)
def test_verdicts(rule: str, value: Any, old: Any, transition: bool, expected: bool) -> None:
    assert verdict(rule, value, old, transition=transition) is expected


def test_the_cache_judges_each_object_by_its_own_fields() -> None:
    rule = "self.image.startsWith('python')"
    assert verdict(rule, {"image": "python:3.11", "inputs": {"n": 1}}, None, transition=False)
    assert not verdict(rule, {"image": "busybox", "inputs": {"n": 1}}, None, transition=False)
