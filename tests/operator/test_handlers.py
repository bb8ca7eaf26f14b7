"""The kopf registry holds only watching handlers and activities: nothing that makes kopf add a finalizer
(change handlers, timers, daemons) or store its progress on the objects."""

from __future__ import annotations

from kubetask_operator._handlers import registry


def test_no_handler_makes_kopf_add_finalizers_or_store_state() -> None:
    assert not registry._changing.get_all_handlers(), "change handlers store state, may add finalizers"
    assert not registry._spawning.get_all_handlers(), "timers and daemons add finalizers"
    handlers = registry._watching.get_all_handlers()
    watched = {(h.selector.group, h.selector.any_name) for h in handlers if h.selector is not None}
    assert watched == {
        ("kubetask.dev", "taskruns"),
        ("kubetask.dev", "taskmaps"),
        ("kubetask.dev", "taskqueues"),
        ("", "pods"),
    }
