"""The operator's RBAC is least privilege: exact verbs on exact resources, no wildcards, nothing extra.

EXPECTED_OPERATOR_RULES is the reviewed list of what the operator does through the API; a change to the
chart's rules must change it too, on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Render = Callable[..., list[dict[str, Any]]]
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
Rule = tuple[str, str, frozenset[str]]

EXPECTED_OPERATOR_RULES: set[Rule] = {
    ("kubetask.dev", "taskruns", frozenset({"get", "list", "watch", "patch", "delete"})),
    ("kubetask.dev", "taskruns/status", frozenset({"get", "patch"})),
    ("", "pods", frozenset({"get", "list", "watch", "create", "delete"})),
    ("", "configmaps", frozenset({"get", "create"})),
    ("", "events", frozenset({"create"})),
}
EXPECTED_TEST_RULES: set[Rule] = {
    ("kubetask.dev", "taskruns", frozenset({"create", "get", "list", "watch", "delete"})),
}


def _rules(role: dict[str, Any]) -> set[Rule]:
    """Flatten rules to (apiGroup, resource, verbs), failing on anything but plain resource rules."""
    flat: set[Rule] = set()
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, f"unexpected rule fields: {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                flat.add((group, resource, frozenset(rule["verbs"])))
    return flat


def _is_test_hook(document: dict[str, Any]) -> bool:
    return document["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"


def _operator_rbac(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] in RBAC_KINDS and not _is_test_hook(d)]


def test_no_rule_uses_a_wildcard(render_chart: Render, chart_values: dict[str, Any]) -> None:
    for document in render_chart(chart_values):
        for rule in document.get("rules", []) if document["kind"] in {"Role", "ClusterRole"} else []:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"{document['kind']}/{document['metadata']['name']}: {rule}"
                assert not any("*" in item for item in rule[field])
            assert "nonResourceURLs" not in rule
            assert "resourceNames" not in rule


def test_cluster_wide_by_default_with_exactly_the_operator_rules(render_chart: Render) -> None:
    rbac = _operator_rbac(render_chart({}, namespace="ops"))
    assert sorted(d["kind"] for d in rbac) == ["ClusterRole", "ClusterRoleBinding"]
    (cluster_role,) = (d for d in rbac if d["kind"] == "ClusterRole")
    assert _rules(cluster_role) == EXPECTED_OPERATOR_RULES


def test_watched_namespaces_get_roles_and_no_cluster_wide_rights(render_chart: Render) -> None:
    documents = render_chart({"watchNamespaces": ["team-a", "team-b", "team-a"]}, namespace="ops")
    rbac = _operator_rbac(documents)
    assert not [d for d in rbac if d["kind"].startswith("Cluster")]
    roles = {d["metadata"]["namespace"]: d for d in rbac if d["kind"] == "Role"}
    bindings = {d["metadata"]["namespace"]: d for d in rbac if d["kind"] == "RoleBinding"}
    assert sorted(roles) == sorted(bindings) == ["team-a", "team-b"]
    for namespace, role in roles.items():
        assert _rules(role) == EXPECTED_OPERATOR_RULES, namespace
        assert bindings[namespace]["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role["metadata"]["name"],
        }


def test_the_operator_never_touches_secrets_or_its_own_rbac(
    render_chart: Render, chart_values: dict[str, Any]
) -> None:
    for document in _operator_rbac(render_chart(chart_values)):
        for _, resource, _ in _rules(document) if "rules" in document else set():
            assert resource not in {"secrets", "roles", "rolebindings", "clusterroles", "serviceaccounts"}


def test_bindings_bind_the_service_account_the_operator_runs_as(
    render_chart: Render, chart_values: dict[str, Any]
) -> None:
    documents = render_chart(chart_values, namespace="ops")
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    for binding in (d for d in _operator_rbac(documents) if d["kind"].endswith("Binding")):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "ops"}]
    service_accounts = [d for d in documents if d["kind"] == "ServiceAccount" and not _is_test_hook(d)]
    if chart_values.get("serviceAccount", {}).get("create", True):
        assert [d["metadata"]["name"] for d in service_accounts] == [account]
    else:
        assert service_accounts == []


def test_rbac_create_false_renders_no_operator_rbac(render_chart: Render) -> None:
    assert _operator_rbac(render_chart({"rbac": {"create": False}})) == []


@pytest.mark.parametrize(
    ("values", "expected_namespace"),
    [
        pytest.param({}, "ops", id="all-namespaces"),
        pytest.param({"watchNamespaces": ["ops", "team-a"]}, "ops", id="release-namespace-watched"),
        pytest.param({"watchNamespaces": ["team-a", "team-b"]}, "team-a", id="release-namespace-not-watched"),
    ],
)
def test_helm_test_may_only_submit_taskruns_where_the_operator_watches(
    render_chart: Render, values: dict[str, Any], expected_namespace: str
) -> None:
    hooks = [d for d in render_chart(values, namespace="ops") if _is_test_hook(d)]
    (role,) = (d for d in hooks if d["kind"] == "Role")
    assert role["metadata"]["namespace"] == expected_namespace
    assert _rules(role) == EXPECTED_TEST_RULES
    (pod,) = (d for d in hooks if d["kind"] == "Pod")
    command = pod["spec"]["containers"][0]["command"]
    assert command[command.index("--namespace") + 1] == expected_namespace
    assert not [d for d in hooks if d["kind"].startswith("Cluster")]
