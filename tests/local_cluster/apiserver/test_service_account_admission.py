"""ServiceAccount and DefaultTolerationSeconds admission, the root CA publisher and pod-bound tokens, as a
default kube-apiserver and kube-controller-manager run them.

Sources (kubernetes/kubernetes):
- plugin/pkg/admission/serviceaccount/admission.go: a pod without ``serviceAccountName`` gets ``default``; a
  missing account is refused ("error looking up service account %s/%s: %w"); unless
  ``automountServiceAccountToken`` is false (the pod's wins over the account's), ``mountServiceAccountToken``
  adds the ``kube-api-access-<5 random>`` volume (``TokenVolumeSource``: token with expirationSeconds 3607,
  ``kube-root-ca.crt``'s ca.crt, downwardAPI namespace, defaultMode 420) mounted read-only at
  /var/run/secrets/kubernetes.io/serviceaccount in every init container and container that mounts nothing
  there; the account's imagePullSecrets go to a pod that names none.
- plugin/pkg/admission/defaulttolerationseconds/admission.go: not-ready and unreachable NoExecute tolerations
  (operator Exists, 300 s) unless a toleration with that key or no key, and effect NoExecute or none, exists.
- pkg/controller/certificates/rootcacertpublisher/publisher.go: ``kube-root-ca.crt`` in every namespace with
  ``ca.crt`` and the ``kubernetes.io/description`` annotation, recreated when deleted, reset when changed.
- pkg/registry/core/serviceaccount/storage/token.go: a TokenRequest's ``boundObjectRef`` to a pod must name
  an existing pod (404) of this account (400) with this uid (409); pkg/serviceaccount/claims.go: a token
  bound to a pod stops authenticating once the pod is gone.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from tests.local_cluster.apiserver.conftest import Http, wait_for

from kubetask_local import ApiServer, ThreadedApiServer

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_VOLUME = {
    "defaultMode": 420,
    "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {
            "downwardAPI": {
                "items": [
                    {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                ]
            }
        },
    ],
}
# names.SimpleNameGenerator: 5 characters of "bcdfghjklmnpqrstvwxz2456789".
TOKEN_VOLUME_NAME = re.compile(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}")
NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}
UNREACHABLE = {**NOT_READY, "key": "node.kubernetes.io/unreachable"}


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "busybox"}], **spec},
    }


def create_pod(http: Http, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = http.post(f"/api/v1/namespaces/{namespace}/pods", body)
    assert reply.status == 201, reply.body
    created: dict[str, Any] = reply.body
    return created


def token_volumes(created: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in created["spec"].get("volumes") or [] if v["name"].startswith("kube-api-access-")]


class TestServiceAccount:
    def test_a_pod_gets_the_default_account_and_its_token_volume(self, http: Http, namespace: str) -> None:
        created = create_pod(
            http, namespace, pod(initContainers=[{"name": "init", "image": "busybox", "command": ["true"]}])
        )
        assert created["spec"]["serviceAccountName"] == "default"
        [volume] = token_volumes(created)
        assert TOKEN_VOLUME_NAME.fullmatch(volume["name"]), volume["name"]
        assert volume["projected"] == TOKEN_VOLUME
        mount = {"name": volume["name"], "readOnly": True, "mountPath": MOUNT_PATH}
        for field in ("initContainers", "containers"):
            assert created["spec"][field][0]["volumeMounts"] == [mount], field
        # Stored as answered: a GET shows the same volume.
        stored = http.get(f"/api/v1/namespaces/{namespace}/pods/p").body
        assert stored["spec"]["volumes"] == created["spec"]["volumes"]

    def test_each_pod_gets_its_own_random_volume_name(self, http: Http, namespace: str) -> None:
        names = {token_volumes(create_pod(http, namespace, pod(f"p{i}")))[0]["name"] for i in range(4)}
        assert len(names) > 1

    @pytest.mark.parametrize(
        ("pod_says", "account_says", "mounted"),
        [
            pytest.param(None, None, True, id="neither-says-mount"),
            pytest.param(False, None, False, id="pod-false"),
            pytest.param(None, False, False, id="account-false"),
            pytest.param(True, False, True, id="pod-true-wins-over-account-false"),
            pytest.param(False, True, False, id="pod-false-wins-over-account-true"),
        ],
    )
    def test_automount_follows_the_pod_then_the_account(
        self, http: Http, namespace: str, pod_says: bool | None, account_says: bool | None, mounted: bool
    ) -> None:
        account: dict[str, Any] = {"metadata": {"name": "runner"}}
        if account_says is not None:
            account["automountServiceAccountToken"] = account_says
        assert http.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", account).status == 201
        spec: dict[str, Any] = {"serviceAccountName": "runner"}
        if pod_says is not None:
            spec["automountServiceAccountToken"] = pod_says
        created = create_pod(http, namespace, pod(**spec))
        assert bool(token_volumes(created)) is mounted
        assert bool(created["spec"]["containers"][0].get("volumeMounts")) is mounted

    def test_a_container_mounting_the_account_path_itself_keeps_its_mount(
        self, http: Http, namespace: str
    ) -> None:
        own = {"name": "own", "mountPath": MOUNT_PATH}
        created = create_pod(
            http,
            namespace,
            {
                "metadata": {"name": "p"},
                "spec": {
                    "volumes": [{"name": "own", "emptyDir": {}}],
                    "containers": [
                        {"name": "mine", "image": "busybox", "volumeMounts": [own]},
                        {"name": "other", "image": "busybox"},
                    ],
                },
            },
        )
        mine, other = created["spec"]["containers"]
        assert mine["volumeMounts"] == [own]
        assert other["volumeMounts"][0]["mountPath"] == MOUNT_PATH
        assert len(token_volumes(created)) == 1

    def test_a_pod_whose_account_does_not_exist_is_refused(self, http: Http, namespace: str) -> None:
        reply = http.post(f"/api/v1/namespaces/{namespace}/pods", pod(serviceAccountName="ghost"))
        assert reply.status == 403, reply.body
        assert reply.body["reason"] == "Forbidden"
        assert reply.body["message"] == (
            f'pods "p" is forbidden: error looking up service account {namespace}/ghost: '
            'serviceaccount "ghost" not found'
        )
        assert http.get(f"/api/v1/namespaces/{namespace}/pods/p").status == 404

    def test_the_accounts_image_pull_secrets_reach_a_pod_that_names_none(
        self, http: Http, namespace: str
    ) -> None:
        account = {"metadata": {"name": "puller"}, "imagePullSecrets": [{"name": "registry"}]}
        assert http.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", account).status == 201
        inherited = create_pod(http, namespace, pod("a", serviceAccountName="puller"))
        assert inherited["spec"]["imagePullSecrets"] == [{"name": "registry"}]
        own = create_pod(
            http, namespace, pod("b", serviceAccountName="puller", imagePullSecrets=[{"name": "mine"}])
        )
        assert own["spec"]["imagePullSecrets"] == [{"name": "mine"}]


class TestDefaultTolerationSeconds:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            pytest.param([], [NOT_READY, UNREACHABLE], id="none-given"),
            pytest.param(
                [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}],
                [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
                    UNREACHABLE,
                ],
                id="not-ready-given-forever",
            ),
            pytest.param(
                [{**UNREACHABLE, "tolerationSeconds": 5}],
                [{**UNREACHABLE, "tolerationSeconds": 5}, NOT_READY],
                id="unreachable-given-5s",
            ),
            pytest.param([{"operator": "Exists"}], [{"operator": "Exists"}], id="tolerate-everything"),
            pytest.param(
                [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"}],
                [
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"},
                    NOT_READY,
                    UNREACHABLE,
                ],
                id="noschedule-does-not-count",
            ),
        ],
    )
    def test_the_two_node_tolerations_are_added_unless_present(
        self, http: Http, namespace: str, given: list[dict[str, Any]], expected: list[dict[str, Any]]
    ) -> None:
        created = create_pod(http, namespace, pod(tolerations=given) if given else pod())
        assert created["spec"]["tolerations"] == expected


# ---------------------------------------------------------------------- with TLS: a CA, and tokens

ADMIN_TOKEN = "admin-token-for-service-account-tests"


@pytest.fixture(scope="module")
def secured() -> Iterator[ThreadedApiServer]:
    with ApiServer.run_in_thread(token=ADMIN_TOKEN, tls=True) as server:
        yield server


def call(
    server: ThreadedApiServer, method: str, path: str, body: Any = None, *, token: str = ADMIN_TOKEN
) -> tuple[int, Any]:
    assert server.api.ca_pem is not None
    context = ssl.create_default_context(cadata=server.api.ca_pem.decode())
    request = urllib.request.Request(
        server.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def secured_namespace(secured: ThreadedApiServer, namespace_name: str) -> str:
    status, body = call(secured, "POST", "/api/v1/namespaces", {"metadata": {"name": namespace_name}})
    assert status == 201, body
    return namespace_name


@pytest.fixture
def namespace_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-")


def root_ca(server: ThreadedApiServer, namespace: str) -> Any:
    return call(server, "GET", f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt")


class TestRootCaPublisher:
    def test_every_namespace_holds_the_cluster_ca(
        self, secured: ThreadedApiServer, secured_namespace: str
    ) -> None:
        assert secured.api.ca_pem is not None
        for namespace in ("default", "kube-system", secured_namespace):
            status, config_map = root_ca(secured, namespace)
            assert status == 200, (namespace, config_map)
            assert config_map["data"] == {"ca.crt": secured.api.ca_pem.decode()}
            description = config_map["metadata"]["annotations"]["kubernetes.io/description"]
            assert description.startswith(
                "Contains a CA bundle that can be used to verify the kube-apiserver"
            )

    @pytest.mark.parametrize(
        ("method", "body"),
        [
            pytest.param("DELETE", None, id="deleted"),
            pytest.param("PATCH", {"data": {"ca.crt": "forged"}}, id="ca-changed"),
            pytest.param("PATCH", {"data": {"extra": "x"}}, id="key-added"),
            pytest.param(
                "PATCH",
                {"metadata": {"annotations": {"kubernetes.io/description": None}}},
                id="annotation-gone",
            ),
        ],
    )
    def test_a_changed_or_deleted_config_map_is_restored(
        self, secured: ThreadedApiServer, secured_namespace: str, method: str, body: Any
    ) -> None:
        assert secured.api.ca_pem is not None
        path = f"/api/v1/namespaces/{secured_namespace}/configmaps/kube-root-ca.crt"
        if method == "PATCH":
            context = ssl.create_default_context(cadata=secured.api.ca_pem.decode())
            request = urllib.request.Request(
                secured.url + path,
                data=json.dumps(body).encode(),
                method="PATCH",
                headers={
                    "Content-Type": "application/merge-patch+json",
                    "Authorization": f"Bearer {ADMIN_TOKEN}",
                },
            )
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                assert response.status == 200
        else:
            assert call(secured, method, path)[0] == 200

        def restored() -> bool:
            status, config_map = root_ca(secured, secured_namespace)
            return bool(
                status == 200
                and config_map["data"] == {"ca.crt": secured.api.ca_pem.decode()}  # type: ignore[union-attr]
                and config_map["metadata"].get("annotations", {}).get("kubernetes.io/description")
            )

        wait_for(restored, timeout=30, what="the root CA publisher to restore kube-root-ca.crt")


class TestPodBoundTokens:
    def request_token(
        self, server: ThreadedApiServer, namespace: str, account: str, reference: dict[str, Any]
    ) -> tuple[int, Any]:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3607, "boundObjectRef": reference},
        }
        return call(server, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", body)

    def make_pod(self, server: ThreadedApiServer, namespace: str) -> dict[str, Any]:
        status, created = call(server, "POST", f"/api/v1/namespaces/{namespace}/pods", pod("bound"))
        assert status == 201, created
        result: dict[str, Any] = created
        return result

    def test_a_token_bound_to_a_pod_authenticates_until_the_pod_is_gone(
        self, secured: ThreadedApiServer, secured_namespace: str
    ) -> None:
        created = self.make_pod(secured, secured_namespace)
        reference = {"apiVersion": "v1", "kind": "Pod", "name": "bound", "uid": created["metadata"]["uid"]}
        status, answer = self.request_token(secured, secured_namespace, "default", reference)
        assert status == 201, answer
        token = answer["status"]["token"]
        probe = f"/api/v1/namespaces/{secured_namespace}/configmaps"
        status, refused = call(secured, "GET", probe, token=token)
        # Authenticated as the pod's account, which holds no RBAC permission: 403 naming it (401 would mean
        # the token was not recognised).
        assert status == 403, refused
        assert f'User "system:serviceaccount:{secured_namespace}:default"' in refused["message"]
        assert (
            call(
                secured, "DELETE", f"/api/v1/namespaces/{secured_namespace}/pods/bound?gracePeriodSeconds=0"
            )[0]
            == 200
        )
        wait_for(
            lambda: call(secured, "GET", f"/api/v1/namespaces/{secured_namespace}/pods/bound")[0] == 404,
            timeout=30,
            what="the pod to be gone",
        )
        status, body = call(secured, "GET", probe, token=token)
        assert status == 401, body

    @pytest.mark.parametrize(
        ("account", "reference", "answer"),
        [
            pytest.param(
                "default",
                {"apiVersion": "v1", "kind": "Pod", "name": "absent"},
                (404, 'pods "absent" not found'),
                id="no-such-pod",
            ),
            pytest.param(
                "default",
                {"apiVersion": "v1", "kind": "Pod", "name": "bound", "uid": "not-the-uid"},
                (
                    409,
                    'Operation cannot be fulfilled on Pod "bound": the UID in the bound object reference '
                    "(not-the-uid) does not match the UID in record. The object might have been deleted "
                    "and then recreated",
                ),
                id="wrong-uid",
            ),
            pytest.param(
                "other",
                {"apiVersion": "v1", "kind": "Pod", "name": "bound"},
                (
                    400,
                    'cannot bind token for serviceaccount "other" to pod running with different '
                    "serviceaccount name.",
                ),
                id="other-account",
            ),
        ],
    )
    def test_a_bad_binding_is_refused(
        self,
        secured: ThreadedApiServer,
        secured_namespace: str,
        account: str,
        reference: dict[str, Any],
        answer: tuple[int, str],
    ) -> None:
        self.make_pod(secured, secured_namespace)
        created, _ = call(
            secured,
            "POST",
            f"/api/v1/namespaces/{secured_namespace}/serviceaccounts",
            {"metadata": {"name": "other"}},
        )
        assert created == 201
        answered, body = self.request_token(secured, secured_namespace, account, reference)
        assert (answered, body["message"]) == answer
