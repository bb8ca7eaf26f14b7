"""The runtime's public face: everything in ``kubetask.__all__`` resolves, and ``kubetask.submit`` comes from
whichever package registers it in the ``kubetask.plugins`` entry point group, never from an import by name."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

import kubetask

RUNTIME = Path(kubetask.__file__).parent


@pytest.mark.parametrize("name", sorted(kubetask.__all__))
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(kubetask, name) is not None


def test_submit_is_the_client_s_found_through_the_entry_point() -> None:
    import kubetask_client

    (entry,) = importlib.metadata.entry_points(group=kubetask.PLUGIN_GROUP, name="submit")
    assert entry.value == "kubetask_client:submit"
    assert kubetask.submit is kubetask_client.submit


def test_without_a_client_submit_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **_: importlib.metadata.EntryPoints(()))
    with pytest.raises(
        AttributeError, match=r"kubetask.submit is provided by the kubetask client.*kubetask\[operator\]"
    ):
        _ = kubetask.submit


# The `kubetask` command (_cli.py) still dispatches to them by name until it moves into the client.
NOT_YET = {"_cli.py"}


def test_the_runtime_never_names_the_packages_above_it() -> None:
    for module in sorted(set(RUNTIME.rglob("*.py")) - {RUNTIME / name for name in NOT_YET}):
        text = module.read_text(encoding="utf-8")
        for package in ("kubetask_client", "kubetask_local", "kubetask_operator"):
            assert package not in text, f"{module.name} names {package}"
