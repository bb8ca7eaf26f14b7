"""The client finds its cluster as kubectl does: --kubeconfig, $KUBECONFIG (a list), ~/.kube/config,
the current context or --context, and the context's namespace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask_client import KubeconfigError
from kubetask_client._kube import connect, kubeconfig_paths


def _kubeconfig(path: Path, *, current: str | None, contexts: dict[str, dict[str, Any]]) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": f"http://127.0.0.1:{6440 + index}"}}
            for index, name in enumerate(contexts)
        ],
        "users": [{"name": "user", "user": {"token": "t"}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": "user", **extra}}
            for name, extra in contexts.items()
        ],
    }
    if current is not None:
        document["current-context"] = current
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_current_context_and_its_namespace(tmp_path: Path) -> None:
    config = _kubeconfig(
        tmp_path / "config", current="dev", contexts={"dev": {"namespace": "team-a"}, "prod": {}}
    )
    connection = connect(kubeconfig=str(config), env={})
    assert (connection.context, connection.namespace, connection.server) == (
        "dev",
        "team-a",
        "http://127.0.0.1:6440",
    )


def test_context_overrides_the_current_one_and_namespace_defaults(tmp_path: Path) -> None:
    config = _kubeconfig(
        tmp_path / "config", current="dev", contexts={"dev": {"namespace": "team-a"}, "prod": {}}
    )
    connection = connect(kubeconfig=str(config), context="prod", env={})
    assert (connection.context, connection.namespace, connection.server) == (
        "prod",
        "default",
        "http://127.0.0.1:6441",
    )


def test_kubeconfig_env_lists_files_that_are_merged(tmp_path: Path) -> None:
    first = _kubeconfig(tmp_path / "a", current="one", contexts={"one": {}})
    second = _kubeconfig(tmp_path / "b", current=None, contexts={"two": {"namespace": "x"}})
    env = {"KUBECONFIG": os.pathsep.join([str(first), str(tmp_path / "missing"), str(second)])}
    assert kubeconfig_paths(None, env) == [first, tmp_path / "missing", second]
    assert connect(env=env).context == "one"
    assert connect(env=env, context="two").namespace == "x"


def test_the_default_is_home_kube_config(tmp_path: Path) -> None:
    assert kubeconfig_paths(None, {}) == [Path("~/.kube/config").expanduser()]
    assert kubeconfig_paths("~/k", {"KUBECONFIG": "/ignored"}) == [Path("~/k").expanduser()]


def test_an_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config", current="dev", contexts={"dev": {}, "prod": {}})
    with pytest.raises(
        KubeconfigError, match=r"--context: no context 'staging' in .*; its contexts: \['dev', 'prod'\]"
    ):
        connect(kubeconfig=str(config), context="staging", env={})


def test_no_current_context_asks_for_one(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config", current=None, contexts={"dev": {}})
    with pytest.raises(
        KubeconfigError, match=r"has no current context; choose one with --context \(contexts: \['dev'\]\)"
    ):
        connect(kubeconfig=str(config), env={})


def test_a_missing_kubeconfig_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match=r"--kubeconfig: no such file '.*nowhere'"):
        connect(kubeconfig=str(tmp_path / "nowhere"), env={})
    with pytest.raises(KubeconfigError, match=r"no kubeconfig found \(looked at '.*nowhere'\).*kubetask dev"):
        connect(env={"KUBECONFIG": str(tmp_path / "nowhere")})


def test_a_broken_kubeconfig_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "contexts: [{name: dev, context: {cluster: gone, user: u}}]\n"
    )
    with pytest.raises(KubeconfigError, match="is not usable"):
        connect(kubeconfig=str(config), env={})
