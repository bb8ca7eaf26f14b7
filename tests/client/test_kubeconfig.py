"""The client finds its cluster as kubectl does: --kubeconfig, $KUBECONFIG (a list), ~/.kube/config,
the current context or --context, and the context's namespace."""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from kubetask_client import KubeconfigError, KubetaskClientError
from kubetask_client._kube import connect, kubeconfig_paths, merge_kubeconfigs


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


# ---------------------------------------------------------------- credentials, against a real HTTP server


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 200 to the token in ``accepted`` (401 otherwise) and records every Authorization header."""

    accepted: ClassVar[list[str]] = []
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        header = self.headers.get("Authorization") or ""
        self.seen.append(header)
        ok = header in self.accepted
        body = json.dumps({"kind": "Status", "message": "ok" if ok else "Unauthorized"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[type[_Recorder]]:
    class Handler(_Recorder):
        accepted: ClassVar[list[str]] = []
        seen: ClassVar[list[str]] = []

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield Handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _config_with_user(path: Path, server: str, user: dict[str, Any]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def _get(connection: Any) -> int:
    try:
        return int(connection.http.request("GET", "/api").status)
    finally:
        connection.http.close()


def test_a_token_file_is_read_again_after_a_401(tmp_path: Path, api_server: Any) -> None:
    token = tmp_path / "token"
    token.write_text("old\n")
    config = _config_with_user(tmp_path / "config", api_server.url, {"tokenFile": "token"})  # relative
    connection = connect(kubeconfig=str(config), env={})
    api_server.accepted = ["Bearer old"]
    assert _get(connection) == 200
    token.write_text("rotated\n")  # as the kubelet rotates a service-account token
    api_server.accepted = ["Bearer rotated"]
    assert _get(connection) == 200
    assert api_server.seen == ["Bearer old", "Bearer old", "Bearer rotated"]


@pytest.mark.parametrize(
    "api_version", ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]
)
def test_exec_credential_plugins_as_eks_gke_and_aks_use_them(
    tmp_path: Path, api_server: Any, api_version: str
) -> None:
    # A plugin that answers token-1, token-2, ... and records the ExecCredential it was given.
    plugin = tmp_path / "get-token"
    plugin.write_text(
        "#!/bin/sh\n"
        'count=$(cat "$0.count" 2>/dev/null || echo 0); count=$((count + 1)); echo $count > "$0.count"\n'
        'printf "%s" "$KUBERNETES_EXEC_INFO" > "$0.info"\n'
        f'echo \'{{"apiVersion": "{api_version}", "kind": "ExecCredential", '
        '"status": {"token": "token-\'$count\'", "expirationTimestamp": "2999-01-01T00:00:00Z"}}\'\n'
    )
    plugin.chmod(0o755)
    config = _config_with_user(
        tmp_path / "config",
        api_server.url,
        {
            "exec": {
                "apiVersion": api_version,
                "command": str(plugin),
                "args": [],
                "env": [{"name": "X", "value": "1"}],
            }
        },
    )
    connection = connect(kubeconfig=str(config), env={})
    api_server.accepted = ["Bearer token-1"]
    assert _get(connection) == 200
    assert _get(connection) == 200  # kept until it expires: the plugin ran once
    info = json.loads((tmp_path / "get-token.info").read_text())
    assert info["apiVersion"] == api_version
    assert info["spec"]["cluster"]["server"] == api_server.url
    api_server.accepted = ["Bearer token-2"]  # the server stopped taking token-1: a 401 runs the plugin again
    assert _get(connection) == 200
    assert api_server.seen == ["Bearer token-1", "Bearer token-1", "Bearer token-1", "Bearer token-2"]


def test_an_exec_plugin_that_is_missing_shows_its_install_hint(tmp_path: Path, api_server: Any) -> None:
    config = _config_with_user(
        tmp_path / "config",
        api_server.url,
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": "no-such-auth-plugin",
                "installHint": "install it with: brew install no-such-auth-plugin",
            }
        },
    )
    with pytest.raises(
        KubeconfigError, match=r"cannot run: .*; install it with: brew install no-such-auth-plugin"
    ):
        _get(connect(kubeconfig=str(config), env={}))


@pytest.mark.parametrize(
    ("user", "header"),
    [
        pytest.param({"token": "abc"}, "Bearer abc", id="token"),
        pytest.param(
            {"username": "ann", "password": "pw"}, "Basic " + base64.b64encode(b"ann:pw").decode(), id="basic"
        ),
        pytest.param({}, "", id="anonymous"),
    ],
)
def test_static_credentials(tmp_path: Path, api_server: Any, user: dict[str, Any], header: str) -> None:
    api_server.accepted = [header]
    assert (
        _get(connect(kubeconfig=str(_config_with_user(tmp_path / "c", api_server.url, user)), env={})) == 200
    )


def test_an_auth_provider_is_refused_by_name(tmp_path: Path) -> None:
    config = _config_with_user(tmp_path / "c", "https://127.0.0.1:9", {"auth-provider": {"name": "gcp"}})
    with pytest.raises(
        KubeconfigError, match=r"auth-provider .gcp. is not supported .* exec credential plugin"
    ):
        connect(kubeconfig=str(config), env={})


def test_relative_paths_are_resolved_against_the_file_that_holds_them(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    merged = merge_kubeconfigs(
        [
            (
                tmp_path / "a" / "config",
                {
                    "clusters": [
                        {"name": "c", "cluster": {"server": "https://x", "certificate-authority": "ca.pem"}}
                    ],
                    "users": [
                        {"name": "u", "user": {"client-certificate": "u.crt", "client-key": "/abs/u.key"}}
                    ],
                },
            ),
            (tmp_path / "b", {"clusters": [{"name": "c", "cluster": {"server": "https://ignored"}}]}),
        ]
    )
    assert merged["clusters"] == [
        {
            "name": "c",
            "cluster": {"server": "https://x", "certificate-authority": str(tmp_path / "a" / "ca.pem")},
        }
    ]
    assert merged["users"][0]["user"] == {
        "client-certificate": str(tmp_path / "a" / "u.crt"),
        "client-key": "/abs/u.key",
    }


def test_in_cluster_uses_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetask_client import _kube

    for name, content in (("namespace", "team-a"), ("token", "sa-token")):
        (tmp_path / name).write_text(content)
    monkeypatch.setattr(_kube, "_SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    connection = connect(env={"KUBECONFIG": str(tmp_path / "absent"), "KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert (connection.namespace, connection.server, connection.context) == (
        "team-a",
        "https://10.0.0.1:6443",
        None,
    )


# ---------------------------------------------------------------- TLS: the cluster's CA, client certificates


def _certificate(
    subject: str, *, issuer: tuple[Any, Any] | None, ca: bool, names: list[str]
) -> tuple[bytes, bytes, Any, Any]:
    """(certificate PEM, key PEM, certificate, key), signed by ``issuer`` (cert, key) or self-signed."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    certificate = builder.sign(issuer_key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem, certificate, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An HTTPS server whose certificate names only 'kube.internal' and that requires a client certificate
    signed by the same CA; it answers 200 with the client certificate's common name."""
    import ssl

    ca_pem, _, ca_cert, ca_key = _certificate("test-ca", issuer=None, ca=True, names=[])
    server_pem, server_key, _, _ = _certificate(
        "server", issuer=(ca_cert, ca_key), ca=False, names=["kube.internal"]
    )
    client_pem, client_key, _, _ = _certificate("alice", issuer=(ca_cert, ca_key), ca=False, names=[])
    for name, content in (("ca.pem", ca_pem), ("server.pem", server_pem + server_key)):
        (tmp_path / name).write_bytes(content)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            peer = self.connection.getpeercert()
            subject = dict(item[0] for item in peer["subject"])
            body = json.dumps({"user": subject["commonName"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "server.pem"))
    context.load_verify_locations(cafile=str(tmp_path / "ca.pem"))
    context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "url": f"https://127.0.0.1:{server.server_address[1]}",
            "ca": ca_pem,
            "client_cert": client_pem,
            "client_key": client_key,
        }
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _tls_config(path: Path, cluster: dict[str, Any], user: dict[str, Any]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_client_certificates_and_the_cluster_ca_as_data(tmp_path: Path, tls_server: dict[str, Any]) -> None:
    config = _tls_config(
        tmp_path / "config",
        {
            "server": tls_server["url"],
            "certificate-authority-data": _b64(tls_server["ca"]),
            "tls-server-name": "kube.internal",  # the certificate does not name 127.0.0.1
        },
        {
            "client-certificate-data": _b64(tls_server["client_cert"]),
            "client-key-data": _b64(tls_server["client_key"]),
        },
    )
    connection = connect(kubeconfig=str(config), env={})
    response = connection.http.request("GET", "/api")
    connection.http.close()
    assert (response.status, json.loads(response.body)) == (200, {"user": "alice"})


def test_client_certificates_and_the_cluster_ca_as_files(tmp_path: Path, tls_server: dict[str, Any]) -> None:
    for name in ("ca", "client_cert", "client_key"):
        (tmp_path / f"{name}.pem").write_bytes(tls_server[name])
    config = _tls_config(
        tmp_path / "config",
        {"server": tls_server["url"], "certificate-authority": "ca.pem", "tls-server-name": "kube.internal"},
        {
            "client-certificate": "client_cert.pem",
            "client-key": "client_key.pem",
        },  # relative to the kubeconfig
    )
    connection = connect(kubeconfig=str(config), env={})
    assert connection.http.request("GET", "/api").status == 200
    connection.http.close()


def test_a_server_certificate_that_does_not_match_is_refused(
    tmp_path: Path, tls_server: dict[str, Any]
) -> None:
    from kubetask_client._api import TaskRunApi

    config = _tls_config(
        tmp_path / "config",
        {
            "server": tls_server["url"],
            "certificate-authority-data": _b64(tls_server["ca"]),
        },  # no tls-server-name
        {
            "client-certificate-data": _b64(tls_server["client_cert"]),
            "client-key-data": _b64(tls_server["client_key"]),
        },
    )
    api = TaskRunApi(connect(kubeconfig=str(config), env={}))
    with pytest.raises(KubetaskClientError, match=r"TLS certificate not trusted: .*127\.0\.0\.1"):
        api.get("x", "default")
