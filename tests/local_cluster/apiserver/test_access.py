"""The local cluster is not an open door: a bearer token (new at each start, in the kubeconfig) is required,
and only JSON, YAML, protobuf and the patch types are accepted as bodies.

Real behaviour: a request with no valid credential answers 401 ``Unauthorized``
(k8s.io/apiserver/pkg/endpoints/filters/authentication.go, unauthorized()); /healthz, /livez, /readyz and
/version stay readable by anyone (the ``system:public-info-viewer`` ClusterRole); a body in a media type the
server has no serializer for answers 415 (k8s.io/apiserver/pkg/endpoints/handlers/negotiation/errors.go).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes
import pytest
import yaml
from tests.local_cluster.apiserver.conftest import VENV_BIN, Http

from kubetask_local import ApiServer, ThreadedApiServer
from kubetask_local._dev import write_kubeconfig
from kubetask_local.testing import Cluster, local_api_request, start_local_cluster

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded() -> Iterator[ThreadedApiServer]:
    with ApiServer.run_in_thread(token=TOKEN, tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def guarded_kubeconfig(guarded: ThreadedApiServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("guarded") / "kubeconfig"
    write_kubeconfig(path, guarded.url, token=TOKEN, ca_pem=guarded.api.ca_pem)
    return path


def raw(server: ThreadedApiServer, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    """A request with exactly these headers, over the server's TLS (its CA trusted)."""
    assert server.api.ca_pem is not None
    context = ssl.create_default_context(cadata=server.api.ca_pem.decode())
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def raw_text(server: ThreadedApiServer, path: str) -> tuple[int, bytes]:
    assert server.api.ca_pem is not None
    context = ssl.create_default_context(cadata=server.api.ca_pem.decode())
    with urllib.request.urlopen(server.url + path, timeout=10, context=context) as response:
        return response.status, response.read()


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="none"),
        pytest.param("Bearer wrong", id="wrong-token"),
        pytest.param(f"Basic {base64.b64encode(b'admin:wrong').decode()}", id="wrong-basic"),
        pytest.param(TOKEN, id="no-scheme"),
    ],
)
def test_requests_without_the_token_get_401(guarded: ThreadedApiServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [
        ("GET", "/api/v1/namespaces"),
        ("GET", "/apis"),
        ("GET", "/kubetask-local/faults"),
        ("POST", "/kubetask-local/node/stop"),
    ]:
        status, body = raw(guarded, method, path, headers)
        assert status == 401, (method, path, body)
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }


def test_the_token_admits_and_public_paths_stay_open(
    guarded: ThreadedApiServer, guarded_kubeconfig: Path
) -> None:
    assert local_api_request(guarded_kubeconfig, "GET", "/api/v1/namespaces")[0] == 200
    for path in ("/healthz", "/livez", "/readyz", "/version"):
        status, _ = raw_text(guarded, path)
        assert status == 200, path


def test_the_serving_certificate_is_signed_by_the_ca(guarded: ThreadedApiServer) -> None:
    assert guarded.url.startswith("https://")
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(guarded.url + "/healthz", timeout=10)  # the system CAs do not know it


def test_url_with_credentials_admits_an_aiohttp_client(guarded: ThreadedApiServer) -> None:
    async def get(url: str) -> int:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/api/v1/namespaces") as reply:
            return reply.status

    assert asyncio.run(get(guarded.api.url_with_credentials)) == 200
    assert asyncio.run(get(guarded.api.url_with_credentials.replace(TOKEN, "wrong"))) == 401


def test_kubernetes_client_and_kubectl_use_the_token(guarded_kubeconfig: Path, tmp_path: Path) -> None:
    api_client = kubernetes.config.new_client_from_config(config_file=str(guarded_kubeconfig))
    with api_client:
        names = [ns.metadata.name for ns in kubernetes.client.CoreV1Api(api_client).list_namespace().items]
    assert "default" in names
    result = subprocess.run(
        [
            str(VENV_BIN / "kubectl"),
            "--kubeconfig",
            str(guarded_kubeconfig),
            "get",
            "namespaces",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"KUBECACHEDIR": str(tmp_path / "cache"), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert "namespace/default" in result.stdout


@pytest.mark.parametrize(
    ("method", "content_type", "body"),
    [
        pytest.param("POST", "text/plain", b'{"metadata":{"name":"x"}}', id="text-plain"),
        pytest.param("POST", "application/x-www-form-urlencoded", b"metadata=x", id="form"),
        pytest.param("POST", "multipart/form-data; boundary=b", b"--b--", id="multipart"),
        pytest.param("PATCH", "text/plain", b'{"data":{"a":"b"}}', id="patch-text-plain"),
    ],
)
def test_bodies_other_than_json_yaml_protobuf_and_patches_get_415(
    http: Http, namespace: str, method: str, content_type: str, body: bytes
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    if method == "PATCH":
        assert http.post(path, {"metadata": {"name": "x"}}).status == 201
        path += "/x"
    reply = http.request(method, path, body, content_type=content_type)
    assert reply.status == 415, reply.body
    assert reply.body["reason"] == "UnsupportedMediaType"
    assert reply.body["message"].startswith(
        "the body of the request was in an unknown format - accepted media types include: "
    )
    if method == "POST":
        assert http.get(f"{path}/x").status == 404


def test_admin_routes_refuse_text_plain_too(http: Http) -> None:
    reply = http.request("PUT", "/kubetask-local/faults", b'{"errorRate": 1}', content_type="text/plain")
    assert reply.status == 415
    assert http.get("/kubetask-local/faults").body["injected"] == 0


def test_yaml_bodies_are_accepted(http: Http, namespace: str) -> None:
    body = b"metadata:\n  name: from-yaml\ndata:\n  a: b\n"
    reply = http.request(
        "POST", f"/api/v1/namespaces/{namespace}/configmaps", body, content_type="application/yaml"
    )
    assert reply.status == 201, reply.body


def test_kubetask_dev_writes_a_new_token_at_each_start(tmp_path: Path) -> None:
    tokens = []
    for run in ("first", "second"):
        cluster = start_local_cluster(tmp_path / run, operator=False)
        try:
            document = yaml.safe_load(cluster.kubeconfig.read_text())
            token = document["users"][0]["user"]["token"]
            assert token == cluster.api_token
            assert len(token) >= 32
            assert cluster.kubeconfig.stat().st_mode & 0o077 == 0, "the kubeconfig is for its owner only"
            assert cluster.api_url.startswith("https://127.0.0.1:")
            assert local_api_request(cluster.kubeconfig, "GET", "/api/v1/namespaces")[0] == 200
            anonymous = cluster.kubeconfig.with_name("anonymous")
            document["users"][0]["user"]["token"] = "guess"
            anonymous.write_text(yaml.safe_dump(document))
            assert local_api_request(anonymous, "GET", "/api/v1/namespaces")[0] == 401
            assert "default" in cluster.kubectl("get", "namespaces", "-o", "name").stdout
            tokens.append(token)
        finally:
            assert cluster.process is not None
            cluster.process.stop()
    assert tokens[0] != tokens[1]


def test_an_emulator_bug_is_a_500_status_without_traceback(tmp_path: Path) -> None:
    # A real server answers its own failures as a 500 Status; the traceback stays in the server's log.
    async def broken(_raw: object) -> Any:
        raise RuntimeError("boom")

    with ApiServer.run_in_thread() as server:
        server.api.add_admin_route("GET", "broken", broken)  # type: ignore[arg-type]
        reply = Http(server.url).get("/kubetask-local/broken")
        assert reply.status == 500
        assert reply.body["kind"] == "Status"
        assert reply.body["reason"] == "InternalError"
        assert "RuntimeError: boom" in reply.body["message"]
        assert "Traceback" not in reply.body["message"]
        assert [str(error) for error in server.call(lambda: server.api.errors)] == ["boom"]
        assert server.call(lambda: server.api.requests)[-1].url.path == "/kubetask-local/broken"


def test_service_account_tokens_and_their_revocation(guarded_kubeconfig: Path, tmp_path: Path) -> None:
    namespace = "default"
    assert (
        local_api_request(
            guarded_kubeconfig,
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts",
            {"metadata": {"name": "bot"}},
        )[0]
        == 201
    )
    status, reply = local_api_request(
        guarded_kubeconfig, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/bot/token", {"spec": {}}
    )
    assert status == 201, reply
    as_bot = tmp_path / "bot"
    document = yaml.safe_load(guarded_kubeconfig.read_text())
    document["users"][0]["user"]["token"] = reply["status"]["token"]
    as_bot.write_text(yaml.safe_dump(document))
    status, denied = local_api_request(as_bot, "GET", "/api/v1/namespaces/default/secrets")
    assert status == 403, denied
    assert 'User "system:serviceaccount:default:bot" cannot list resource "secrets"' in denied["message"]
    assert local_api_request(as_bot, "GET", "/apis")[0] == 200  # discovery: every authenticated user
    assert (
        local_api_request(guarded_kubeconfig, "DELETE", "/api/v1/namespaces/default/serviceaccounts/bot")[0]
        == 200
    )
    assert local_api_request(as_bot, "GET", "/apis")[0] == 401


def test_a_process_can_hold_only_a_service_accounts_rights(guarded_kubeconfig: Path, tmp_path: Path) -> None:
    # kubectl create token (a protobuf TokenRequest) through the plugin's helper, then kubectl as the account.
    cluster = Cluster(kubeconfig=guarded_kubeconfig, is_local=False)
    cluster.kubectl("create", "namespace", "held")
    cluster.kubectl("create", "serviceaccount", "op", "-n", "held")
    cluster.kubectl("create", "role", "pods-reader", "-n", "held", "--verb=list", "--resource=pods")
    cluster.kubectl(
        "create", "rolebinding", "op", "-n", "held", "--role=pods-reader", "--serviceaccount=held:op"
    )
    held = Cluster(
        kubeconfig=cluster.service_account_kubeconfig("held", "op", tmp_path / "op-kubeconfig"),
        is_local=False,
    )
    assert held.kubectl("get", "pods", "-n", "held").returncode == 0
    refused = held.kubectl("get", "secrets", "-n", "held", check=False)
    assert refused.returncode != 0
    assert 'User "system:serviceaccount:held:op" cannot list resource "secrets"' in refused.stderr
    assert held.kubectl("auth", "can-i", "list", "pods", "-n", "held").stdout.strip() == "yes"


def test_every_namespace_holds_the_cluster_ca(guarded: ThreadedApiServer, guarded_kubeconfig: Path) -> None:
    # pkg/controller/certificates/rootcacertpublisher: ConfigMap kube-root-ca.crt, key ca.crt, in every
    # namespace, existing and new; pods and clients verify the API server with it.
    assert guarded.api.ca_pem is not None
    for namespace in ("default", "kube-system"):
        status, config_map = local_api_request(
            guarded_kubeconfig, "GET", f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt"
        )
        assert status == 200, config_map
        assert config_map["data"] == {"ca.crt": guarded.api.ca_pem.decode()}
    assert (
        local_api_request(guarded_kubeconfig, "POST", "/api/v1/namespaces", {"metadata": {"name": "fresh"}})[
            0
        ]
        == 201
    )
    status, _ = local_api_request(
        guarded_kubeconfig, "GET", "/api/v1/namespaces/fresh/configmaps/kube-root-ca.crt"
    )
    assert status == 200
