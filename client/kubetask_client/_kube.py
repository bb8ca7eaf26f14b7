"""Connecting to the cluster the way kubectl does: --kubeconfig, else $KUBECONFIG (a list of files, merged
as kubectl merges them), else ~/.kube/config; its current context unless --context names another; inside a
pod, the service account.

Read here, on the standard library (see _http.py for why no library fits the time budget): KUBECONFIG lists
(the first file to name a context, cluster or user wins; relative paths resolved against the file that
holds them), the context's namespace, the cluster's CA (file or data) or insecure-skip-tls-verify and
tls-server-name, client certificates (files or data), bearer tokens, token files (re-read after a 401, as
rotated service-account tokens need), basic auth, exec credential plugins of every API version with their
``expirationTimestamp``, ``KUBERNETES_EXEC_INFO`` and ``installHint`` (EKS, GKE and AKS use them), and the
in-cluster service account. Not supported, and refused by name: ``auth-provider`` (removed from kubectl in
1.26: use the provider's exec plugin) and ``proxy-url``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kubetask_client._errors import KubeconfigError
from kubetask_client._http import HttpClient

if TYPE_CHECKING:
    import ssl

# libyaml's loader when PyYAML has it: a kubeconfig with many contexts parses several times faster.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_DEFAULT_KUBECONFIG = "~/.kube/config"
#: The kubeconfig cluster extension naming the cluster's storage for the client (shipped code):
#: ``extensions: [{name: kubetask.dev/storage, extension: {prefix: URI}}]`` (``kubetask dev`` writes it).
KUBECONFIG_EXTENSION = "kubetask.dev/storage"
#: Fields holding file paths, which kubectl resolves against the kubeconfig file that holds them.
_PATH_FIELDS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}
_EXEC_API_VERSIONS = (
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1alpha1",
)


@dataclass(frozen=True)
class Connection:
    """An HTTP client for one cluster's API and the namespace its context defaults to."""

    http: HttpClient
    namespace: str
    context: str | None
    server: str
    storage_prefix: str | None = None  # the cluster's kubetask.dev/storage extension, when it has one


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


def _absolute_paths(entry: Mapping[str, Any], section: str, directory: Path) -> dict[str, Any]:
    """A named kubeconfig entry with its file paths made absolute against ``directory``."""
    key = section[:-1]  # clusters -> cluster, users -> user
    body = dict(entry.get(key) or {})
    for field in _PATH_FIELDS.get(section, ()):
        value = body.get(field)
        if isinstance(value, str) and value and not os.path.isabs(value):
            body[field] = str(directory / os.path.expanduser(value))
    exec_ = body.get("exec")
    if isinstance(exec_, Mapping) and isinstance(exec_.get("command"), str):
        command = exec_["command"]
        if os.sep in command and not os.path.isabs(command):  # a relative path, not a name on PATH
            body["exec"] = {**exec_, "command": str(directory / command)}
    return {**entry, key: body}


def merge_kubeconfigs(documents: list[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any]:
    """kubectl's merge of a KUBECONFIG list: the first file to set a name or the current context wins."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    seen: dict[str, set[str]] = {section: set() for section in merged}
    current: str | None = None
    for path, document in documents:
        if current is None and document.get("current-context"):
            current = str(document["current-context"])
        for section, entries in merged.items():
            for entry in document.get(section) or []:
                if not isinstance(entry, Mapping) or not entry.get("name"):
                    continue
                name = str(entry["name"])
                if name in seen[section]:
                    continue
                seen[section].add(name)
                entries.append(_absolute_paths(entry, section, path.parent))
    if current is not None:
        merged["current-context"] = current
    return merged


def _read(path: Path) -> dict[str, Any]:
    try:
        document = yaml.load(path.read_text(), Loader=_LOADER) or {}
    except (OSError, yaml.YAMLError) as error:
        raise KubeconfigError(f"kubeconfig {str(path)!r} is not readable YAML: {error}") from None
    if not isinstance(document, dict):
        raise KubeconfigError(f"kubeconfig {str(path)!r}: expected a mapping, got {type(document).__name__}")
    return document


def _from_kubeconfig(paths: list[Path], context: str | None) -> Connection:
    joined = os.pathsep.join(str(path) for path in paths)
    merged = merge_kubeconfigs([(path, _read(path)) for path in paths])
    names = [str(entry["name"]) for entry in merged["contexts"]]
    chosen = context if context is not None else merged.get("current-context")
    if chosen is None:
        raise KubeconfigError(
            f"kubeconfig {joined!r} has no current context; choose one with --context (contexts: {names})"
        )
    if chosen not in names:
        raise KubeconfigError(f"--context: no context {chosen!r} in {joined!r}; its contexts: {names}")
    try:
        return connection_for(merged, chosen)
    except KubeconfigError as error:
        raise KubeconfigError(f"context {chosen!r} of {joined!r} is not usable: {error}") from None


def _named(merged: Mapping[str, Any], section: str, name: object) -> dict[str, Any]:
    key = section[:-1]
    for entry in merged.get(section) or []:
        if entry.get("name") == name:
            body = entry.get(key)
            return dict(body) if isinstance(body, Mapping) else {}
    raise KubeconfigError(f"no {key} {name!r} (it names a {key} the kubeconfig does not define)")


def connection_for(merged: Mapping[str, Any], context_name: str) -> Connection:
    """The Connection for one context of a merged kubeconfig (paths already absolute)."""
    context = _named(merged, "contexts", context_name)
    cluster = _named(merged, "clusters", context.get("cluster"))
    user = _named(merged, "users", context["user"]) if context.get("user") else {}
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeconfigError(f"cluster {context.get('cluster')!r} has no server")
    if cluster.get("proxy-url"):
        raise KubeconfigError(f"cluster {context.get('cluster')!r}: proxy-url is not supported by kubetask")
    try:
        http = HttpClient(
            server,
            ssl_context=_ssl_context(cluster, user) if server.startswith("https:") else None,
            tls_server_name=cluster.get("tls-server-name"),
            auth=_auth(user, server=server),
        )
    except (ValueError, OSError) as error:  # ssl.SSLError is an OSError
        raise KubeconfigError(str(error)) from None
    return Connection(
        http=http,
        namespace=str(context.get("namespace") or "default"),
        context=context_name,
        server=server.rstrip("/"),
        storage_prefix=_storage_prefix(cluster),
    )


def _storage_prefix(cluster: Mapping[str, Any]) -> str | None:
    """The ``prefix`` of the cluster's ``kubetask.dev/storage`` extension, if it has one."""
    for extension in cluster.get("extensions") or []:
        if isinstance(extension, Mapping) and extension.get("name") == KUBECONFIG_EXTENSION:
            body = extension.get("extension")
            prefix = body.get("prefix") if isinstance(body, Mapping) else None
            return str(prefix) if prefix else None
    return None


def _data(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except ValueError:
        raise KubeconfigError(f"{field}: not base64") from None


def _ssl_context(cluster: Mapping[str, Any], user: Mapping[str, Any]) -> ssl.SSLContext:
    import ssl  # only for https servers: its import is a good part of a command's time

    context = ssl.create_default_context()
    if cluster.get("certificate-authority-data"):
        context = ssl.create_default_context(
            cadata=_data(str(cluster["certificate-authority-data"]), "certificate-authority-data").decode()
        )
    elif cluster.get("certificate-authority"):
        context = ssl.create_default_context(cafile=str(cluster["certificate-authority"]))
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    certificate = _pem(user, "client-certificate")
    key = _pem(user, "client-key")
    if certificate is not None:
        if key is None:
            raise KubeconfigError("client-certificate without client-key")
        _load_cert_chain(context, certificate, key)
    return context


def _pem(user: Mapping[str, Any], field: str) -> bytes | str | None:
    """The PEM of ``field`` as bytes (from ``field-data``) or as a path (from ``field``)."""
    if user.get(f"{field}-data"):
        return _data(str(user[f"{field}-data"]), f"{field}-data")
    if user.get(field):
        return str(user[field])
    return None


def _load_cert_chain(context: ssl.SSLContext, certificate: bytes | str, key: bytes | str) -> None:
    """ssl reads certificates only from files: inline data goes through private temporary files, removed
    at once."""
    with tempfile.TemporaryDirectory(prefix="kubetask-tls-") as directory:
        paths = []
        for name, value in (("cert.pem", certificate), ("key.pem", key)):
            if isinstance(value, str):
                paths.append(value)
                continue
            path = os.path.join(directory, name)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(value)
            paths.append(path)
        context.load_cert_chain(paths[0], paths[1])


def _auth(user: Mapping[str, Any], *, server: str) -> Any:
    if user.get("auth-provider"):
        name = (user["auth-provider"] or {}).get("name", "?")
        raise KubeconfigError(
            f"auth-provider {name!r} is not supported (kubectl dropped auth providers in 1.26): use the "
            "provider's exec credential plugin (e.g. gke-gcloud-auth-plugin, kubelogin)"
        )
    if user.get("token"):
        return StaticAuth(f"Bearer {user['token']}")
    if user.get("tokenFile"):
        return TokenFileAuth(str(user["tokenFile"]))
    if isinstance(user.get("exec"), Mapping):
        return ExecCredentialAuth(user["exec"], server=server)
    if user.get("username") and user.get("password"):
        pair = f"{user['username']}:{user['password']}".encode()
        return StaticAuth("Basic " + base64.b64encode(pair).decode())
    return None


class StaticAuth:
    def __init__(self, header: str) -> None:
        self._header = header

    def header(self, *, refresh: bool) -> str | None:  # noqa: ARG002 - the same credentials every time
        return self._header


class TokenFileAuth:
    """A bearer token read from a file, read again after a 401 (the kubelet rotates service tokens)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._token: str | None = None

    def header(self, *, refresh: bool) -> str | None:
        if self._token is None or refresh:
            try:
                self._token = Path(self._path).read_text().strip()
            except OSError as error:
                raise KubeconfigError(f"tokenFile {self._path!r}: {error.strerror or error}") from None
        return f"Bearer {self._token}"


def _in_cluster() -> Connection:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    host = f"[{host}]" if ":" in host else host
    try:
        namespace = (_SERVICE_ACCOUNT / "namespace").read_text().strip() or "default"
    except OSError:
        namespace = "default"
    cluster: dict[str, Any] = {"server": f"https://{host}:{port}"}
    if (_SERVICE_ACCOUNT / "ca.crt").is_file():
        cluster["certificate-authority"] = str(_SERVICE_ACCOUNT / "ca.crt")
    merged = {
        "clusters": [{"name": "in-cluster", "cluster": cluster}],
        "users": [{"name": "in-cluster", "user": {"tokenFile": str(_SERVICE_ACCOUNT / "token")}}],
        "contexts": [
            {
                "name": "in-cluster",
                "context": {"cluster": "in-cluster", "user": "in-cluster", "namespace": namespace},
            }
        ],
    }
    try:
        connection = connection_for(merged, "in-cluster")
    except KubeconfigError as error:
        raise KubeconfigError(f"in-cluster configuration is not usable: {error}") from None
    return Connection(http=connection.http, namespace=namespace, context=None, server=connection.server)


class ExecCredentialAuth:
    """Bearer tokens from an exec credential plugin (``aws eks get-token``, ``gke-gcloud-auth-plugin``,
    ``kubelogin``), as client-go runs them: the ExecCredential of the configured API version in
    ``KUBERNETES_EXEC_INFO``, stdin passed through for interactive plugins, the token kept until its
    ``expirationTimestamp`` and fetched again after a 401."""

    def __init__(self, exec_config: Mapping[str, Any], *, server: str) -> None:
        self._exec = dict(exec_config)
        self._command = str(self._exec.get("command") or "")
        self._server = server
        self._token: str | None = None
        self._expires: datetime | None = None
        self._lock = threading.Lock()

    def _run_plugin(self) -> None:
        api_version = self._exec.get("apiVersion")
        if api_version not in _EXEC_API_VERSIONS:
            raise KubeconfigError(
                f"exec credential plugin {self._command!r}: apiVersion {api_version!r} is not one of "
                f"{', '.join(_EXEC_API_VERSIONS)}"
            )
        env = dict(os.environ)
        env.update({str(item["name"]): str(item["value"]) for item in self._exec.get("env") or ()})
        interactive = sys.stdin is not None and sys.stdin.isatty()
        info = {
            "apiVersion": api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": interactive, "cluster": {"server": self._server}},
        }
        env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
        command = [self._command, *(str(arg) for arg in self._exec.get("args") or ())]
        try:
            completed = subprocess.run(
                command,
                check=False,
                env=env,
                stdin=None if interactive else subprocess.DEVNULL,
                capture_output=True,
            )
        except OSError as error:
            hint = str(self._exec.get("installHint") or "").strip()
            raise KubeconfigError(
                f"exec credential plugin {self._command!r} cannot run: {error.strerror or error}"
                + (f"; {hint}" if hint else "")
            ) from None
        if completed.returncode != 0:
            raise KubeconfigError(
                f"exec credential plugin {self._command!r} exited {completed.returncode}: "
                f"{completed.stderr.decode(errors='replace').strip()}"
            )
        try:
            status = json.loads(completed.stdout)["status"]
            token = str(status["token"])
        except (ValueError, KeyError, TypeError):
            raise KubeconfigError(
                f"exec credential plugin {self._command!r} gave no ExecCredential with status.token "
                "(client certificates from exec plugins are not supported)"
            ) from None
        expires = status.get("expirationTimestamp")
        self._token = token
        self._expires = _parse_time(expires) if isinstance(expires, str) else None

    def header(self, *, refresh: bool) -> str | None:
        with self._lock:
            now = datetime.now(UTC)
            stale = self._expires is not None and now + timedelta(seconds=10) >= self._expires
            if refresh or self._token is None or stale:
                self._run_plugin()
            return f"Bearer {self._token}"


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
