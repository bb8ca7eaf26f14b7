"""RBAC as a real server evaluates it, for users and ServiceAccounts reached by impersonation or by their
TokenRequest tokens, so the chart's Roles are exercised for real.

Sources (kubernetes/kubernetes): plugin/pkg/auth/authorizer/rbac/rbac.go and
pkg/apis/rbac/v1/evaluation_helpers.go (rule matching), staging/src/k8s.io/apiserver/pkg/endpoints/
handlers/responsewriters/errors.go (the 403 wording), .../endpoints/filters/impersonation.go,
pkg/registry/core/serviceaccount/storage/token.go (TokenRequest), and
https://kubernetes.io/docs/reference/access-authn-authz/rbac/ (aggregated ClusterRoles).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.local_cluster.apiserver.conftest import Http

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def as_account(namespace: str, name: str = "runner") -> dict[str, str]:
    return {"Impersonate-User": f"system:serviceaccount:{namespace}:{name}"}


def grant(http: Http, namespace: str, rules: list[dict[str, Any]], account: str = "runner") -> None:
    assert (
        http.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": account}}).status
        == 201
    )
    role = {"metadata": {"name": "r"}, "rules": rules}
    assert http.post(f"{RBAC}/namespaces/{namespace}/roles", role).status == 201
    binding = {
        "metadata": {"name": "rb"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }
    assert http.post(f"{RBAC}/namespaces/{namespace}/rolebindings", binding).status == 201


def test_a_verb_the_role_lacks_is_403_with_the_real_message(http: Http, namespace: str) -> None:
    grant(http, namespace, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])
    headers = as_account(namespace)
    assert http.get(f"/api/v1/namespaces/{namespace}/pods", headers=headers).status == 200
    reply = http.post(
        f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "c"}}, headers=headers
    )
    assert reply.status == 403, reply.body
    assert reply.body["reason"] == "Forbidden"
    assert reply.body["message"] == (
        f'configmaps is forbidden: User "system:serviceaccount:{namespace}:runner" cannot create resource '
        f'"configmaps" in API group "" in the namespace "{namespace}"'
    )
    assert http.get(f"/api/v1/namespaces/{namespace}/configmaps/c").status == 404


def test_named_objects_subresources_and_cluster_scope(http: Http, namespace: str) -> None:
    grant(
        http,
        namespace,
        [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["allowed"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        ],
    )
    headers = as_account(namespace)
    for name in ("allowed", "other"):
        assert (
            http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": name}}).status
            == 201
        )
    assert http.get(f"/api/v1/namespaces/{namespace}/configmaps/allowed", headers=headers).status == 200
    other = http.get(f"/api/v1/namespaces/{namespace}/configmaps/other", headers=headers)
    assert other.status == 403
    assert other.body["message"].startswith('configmaps "other" is forbidden: User ')
    assert other.body["details"] == {"name": "other", "group": "", "kind": "configmaps"}
    pod = http.get(f"/api/v1/namespaces/{namespace}/pods/p", headers=headers)
    assert pod.status == 403  # pods/log does not grant pods
    nodes = http.get("/api/v1/nodes", headers=headers)
    assert nodes.status == 403
    assert nodes.body["message"].endswith('cannot list resource "nodes" in API group "" at the cluster scope')


def test_discovery_is_open_to_every_authenticated_user(http: Http, namespace: str) -> None:
    headers = as_account(namespace, "nobody")
    assert http.get("/apis", headers=headers).status == 200
    assert http.get("/api/v1", headers=headers).status == 200


def test_aggregated_cluster_roles(http: Http, namespace: str) -> None:
    parts = {
        "metadata": {"name": f"part-{namespace}", "labels": {"aggregate-to": namespace}},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
    }
    whole = {
        "metadata": {"name": f"whole-{namespace}"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"aggregate-to": namespace}}]},
    }
    assert http.post(f"{RBAC}/clusterroles", parts).status == 201
    assert http.post(f"{RBAC}/clusterroles", whole).status == 201
    binding = {
        "metadata": {"name": "agg"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": f"whole-{namespace}",
        },
        "subjects": [{"kind": "User", "name": "alice"}],
    }
    assert http.post(f"{RBAC}/namespaces/{namespace}/rolebindings", binding).status == 201
    headers = {"Impersonate-User": "alice"}
    assert http.get(f"/api/v1/namespaces/{namespace}/secrets", headers=headers).status == 200
    assert http.get("/api/v1/namespaces/default/secrets", headers=headers).status == 403


def test_only_admins_impersonate(http: Http, namespace: str) -> None:
    headers = {**as_account(namespace), "Impersonate-Group": "system:masters"}
    # An admin may add groups; the account itself may not impersonate anyone.
    assert http.get("/api/v1/nodes", headers=headers).status == 200


def test_kubectl_auth_can_i(kubectl: Callable[..., Any], http: Http, namespace: str) -> None:
    grant(http, namespace, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
    who = f"--as=system:serviceaccount:{namespace}:runner"
    yes = kubectl("auth", "can-i", "list", "pods", "-n", namespace, who, check=False)
    assert yes.stdout.strip() == "yes", yes.stderr
    no = kubectl("auth", "can-i", "delete", "pods", "-n", namespace, who, check=False)
    assert no.stdout.strip() == "no"
    assert no.returncode == 1


def test_token_request_tokens_authenticate_as_the_account(http: Http, namespace: str) -> None:
    grant(http, namespace, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
    reply = http.post(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/runner/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
    )
    assert reply.status == 201, reply.body
    assert reply.body["kind"] == "TokenRequest"
    token = reply.body["status"]["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get(f"/api/v1/namespaces/{namespace}/pods", headers=bearer).status == 200
    denied = http.get(f"/api/v1/namespaces/{namespace}/secrets", headers=bearer)
    assert denied.status == 403
    assert f'User "system:serviceaccount:{namespace}:runner"' in denied.body["message"]
    # The account cannot impersonate its way out.
    escalated = http.get("/api/v1/nodes", headers={**bearer, "Impersonate-User": "admin"})
    assert escalated.status == 403
    assert "cannot impersonate resource" in escalated.body["message"]
    # Deleting the account revokes its tokens.
    assert http.delete(f"/api/v1/namespaces/{namespace}/serviceaccounts/runner").status == 200
    assert (
        http.get(f"/api/v1/namespaces/{namespace}/pods", headers=bearer).status == 200
    )  # open server: admin


class TestEscalation:
    """pkg/registry/rbac/role/policybased/storage.go and rbac/validation ConfirmNoEscalation: a role may only
    grant what its writer holds (or the writer holds ``escalate``); a binding only to a role whose rights the
    writer holds (or ``bind``)."""

    def manager(self, http: Http, namespace: str, extra: list[dict[str, Any]]) -> dict[str, str]:
        rules = [
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles", "rolebindings"],
                "verbs": ["create"],
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            *extra,
        ]
        grant(http, namespace, rules, account="manager")
        return as_account(namespace, "manager")

    def test_granting_rights_not_held_is_403(self, http: Http, namespace: str) -> None:
        headers = self.manager(http, namespace, [])
        held = {
            "metadata": {"name": "ok"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        }
        assert http.post(f"{RBAC}/namespaces/{namespace}/roles", held, headers=headers).status == 201
        wider = {
            "metadata": {"name": "wider"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        }
        reply = http.post(f"{RBAC}/namespaces/{namespace}/roles", wider, headers=headers)
        assert reply.status == 403, reply.body
        assert reply.body["message"] == (
            'roles.rbac.authorization.k8s.io "wider" is forbidden: '
            f'user "system:serviceaccount:{namespace}:manager" (groups=["system:serviceaccounts" '
            f'"system:serviceaccounts:{namespace}" "system:authenticated"]) is '
            "attempting to grant RBAC permissions not currently held:\n"
            '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
        )

    def test_escalate_and_bind_verbs_allow_it(self, http: Http, namespace: str) -> None:
        extra = [
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles"],
                "verbs": ["escalate", "bind"],
            },
        ]
        headers = self.manager(http, namespace, extra)
        wider = {
            "metadata": {"name": "wider"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}],
        }
        assert http.post(f"{RBAC}/namespaces/{namespace}/roles", wider, headers=headers).status == 201
        binding = {
            "metadata": {"name": "to-wider"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "wider"},
            "subjects": [{"kind": "User", "name": "bob"}],
        }
        assert (
            http.post(f"{RBAC}/namespaces/{namespace}/rolebindings", binding, headers=headers).status == 201
        )

    def test_binding_a_role_with_rights_not_held_is_403(self, http: Http, namespace: str) -> None:
        headers = self.manager(http, namespace, [])
        secrets_role = {
            "metadata": {"name": "secrets"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
        }
        assert http.post(f"{RBAC}/namespaces/{namespace}/roles", secrets_role).status == 201  # by the admin
        binding = {
            "metadata": {"name": "steal"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secrets"},
            "subjects": [{"kind": "ServiceAccount", "name": "manager", "namespace": namespace}],
        }
        reply = http.post(f"{RBAC}/namespaces/{namespace}/rolebindings", binding, headers=headers)
        assert reply.status == 403, reply.body
        assert reply.body["message"].endswith('{APIGroups:[""], Resources:["secrets"], Verbs:["list"]}')
        assert http.get(f"/api/v1/namespaces/{namespace}/secrets", headers=headers).status == 403


def test_kubectl_auth_can_i_list(kubectl: Callable[..., Any], http: Http, namespace: str) -> None:
    # SelfSubjectRulesReview (staging/src/k8s.io/api/authorization/v1/types.go), what `can-i --list` prints.
    grant(http, namespace, [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "watch"]}])
    who = f"--as=system:serviceaccount:{namespace}:runner"
    listed = kubectl("auth", "can-i", "--list", "-n", namespace, who).stdout
    jobs = next(line for line in listed.splitlines() if line.startswith("jobs.batch"))
    assert "[get watch]" in jobs
    assert "secrets" not in listed
