"""Connecting to the cluster the way kubectl does: --kubeconfig, else $KUBECONFIG (a list of files), else
~/.kube/config; its current context unless --context names another; inside a pod, the service account.

The kubernetes client reads $KUBECONFIG once at import; we read it at each call, so a changed environment
(tests, ``kubetask dev`` in another shell) is honoured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as _k8s_config

from kubetask_client._errors import KubeconfigError

# kubernetes.config ships py.typed but leaves its functions unannotated; treat it as the dynamic API it is.
k8s_config: Any = _k8s_config

_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_DEFAULT_KUBECONFIG = "~/.kube/config"
#: The kubeconfig cluster extension naming the cluster's storage for the client (shipped code):
#: ``extensions: [{name: kubetask.dev/storage, extension: {prefix: URI}}]`` (``kubetask dev`` writes it).
KUBECONFIG_EXTENSION = "kubetask.dev/storage"


@dataclass(frozen=True)
class Connection:
    """An API client for one cluster and the namespace its context defaults to."""

    api_client: Any
    namespace: str
    context: str | None
    server: str
    storage_prefix: str | None = None


def kubeconfig_paths(kubeconfig: str | None, env: Mapping[str, str]) -> list[Path]:
    """The kubeconfig files to read, in kubectl's order of precedence."""
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    listed = env.get("KUBECONFIG", "")
    if listed:
        return [Path(part).expanduser() for part in listed.split(os.pathsep) if part]
    return [Path(_DEFAULT_KUBECONFIG).expanduser()]


def connect(
    *, kubeconfig: str | None = None, context: str | None = None, env: Mapping[str, str] | None = None
) -> Connection:
    """A Connection from the kubeconfig (or the in-cluster service account); KubeconfigError if neither."""
    env = os.environ if env is None else env
    paths = kubeconfig_paths(kubeconfig, env)
    existing = [path for path in paths if path.is_file()]
    if kubeconfig and not existing:
        raise KubeconfigError(f"--kubeconfig: no such file {kubeconfig!r}")
    if existing:
        return _from_kubeconfig(existing, context)
    if env.get("KUBERNETES_SERVICE_HOST") and context is None:
        return _in_cluster()
    looked = ", ".join(repr(str(path)) for path in paths)
    raise KubeconfigError(
        f"no kubeconfig found (looked at {looked}) and not running in a pod: set KUBECONFIG, pass "
        "--kubeconfig, or start a local cluster with `kubetask dev`"
    )


def _read_contexts(paths: list[Path]) -> tuple[list[dict[str, Any]], str | None]:
    """Contexts and current context of merged kubeconfig files: the first file to set a value wins."""
    contexts: dict[str, dict[str, Any]] = {}
    current: str | None = None
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise KubeconfigError(f"kubeconfig {str(path)!r} is not readable YAML: {error}") from None
        if not isinstance(document, dict):
            raise KubeconfigError(
                f"kubeconfig {str(path)!r}: expected a mapping, got {type(document).__name__}"
            )
        if current is None and document.get("current-context"):
            current = str(document["current-context"])
        for entry in document.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in contexts:
                contexts[str(entry["name"])] = entry
    return list(contexts.values()), current


def _from_kubeconfig(paths: list[Path], context: str | None) -> Connection:
    joined = os.pathsep.join(str(path) for path in paths)
    contexts, current = _read_contexts(paths)
    names = [entry["name"] for entry in contexts]
    chosen_name = context if context is not None else current
    if chosen_name is None:
        raise KubeconfigError(
            f"kubeconfig {joined!r} has no current context; choose one with --context (contexts: {names})"
        )
    chosen = next((entry for entry in contexts if entry["name"] == chosen_name), None)
    if chosen is None:
        raise KubeconfigError(f"--context: no context {chosen_name!r} in {joined!r}; its contexts: {names}")
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=joined, context=chosen_name, client_configuration=configuration, persist_config=False
        )
    except (k8s_config.ConfigException, OSError, ValueError) as error:
        raise KubeconfigError(f"context {chosen_name!r} of {joined!r} is not usable: {error}") from None
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    return Connection(
        api_client=k8s_client.ApiClient(configuration=configuration),
        namespace=str(namespace),
        context=str(chosen_name),
        server=str(configuration.host),
        storage_prefix=storage_prefix_from_kubeconfig(paths, str(chosen_name)),
    )


def storage_prefix_from_kubeconfig(paths: list[Path], context: str) -> str | None:
    """The ``kubetask.dev/storage`` extension's ``prefix`` on the cluster of ``context`` (first file wins)."""
    contexts: dict[str, Any] = {}
    clusters: dict[str, Any] = {}
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue  # the connection itself reports unreadable kubeconfigs
        if not isinstance(document, dict):
            continue
        for entries, key in ((contexts, "contexts"), (clusters, "clusters")):
            for entry in document.get(key) or []:
                if isinstance(entry, dict) and entry.get("name") is not None:
                    entries.setdefault(str(entry["name"]), entry.get(key[:-1]) or {})
    cluster_name = (contexts.get(context) or {}).get("cluster")
    cluster = clusters.get(str(cluster_name)) or {}
    for extension in cluster.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == KUBECONFIG_EXTENSION:
            prefix = (extension.get("extension") or {}).get("prefix")
            return str(prefix) if prefix else None
    return None


def _in_cluster() -> Connection:
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except k8s_config.ConfigException as error:
        raise KubeconfigError(f"in-cluster configuration is not usable: {error}") from None
    try:
        namespace = _SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        namespace = "default"
    return Connection(
        api_client=k8s_client.ApiClient(configuration=configuration),
        namespace=namespace,
        context=None,
        server=str(configuration.host),
    )
