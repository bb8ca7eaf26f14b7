"""The operator's RBAC is least privilege: exact verbs on exact resources, no wildcards, nothing extra.

EXPECTED_OPERATOR_RULES is the reviewed list of what the operator does through the API; a change to the
chart's rules must change it too, on purpose.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kubetask_operator
from kubetask_client._commands import build_parser
from kubetask_client._inputs import inputs_from_assignments
from kubetask_client._target import load_target
from kubetask_operator._handlers import registry

Render = Callable[..., list[dict[str, Any]]]
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
Rule = tuple[str, str, frozenset[str]]

EXPECTED_OPERATOR_RULES: set[Rule] = {
    ("kubetask.dev", "taskruns", frozenset({"get", "list", "watch", "create", "patch", "delete"})),
    ("kubetask.dev", "taskruns/status", frozenset({"patch"})),
    ("kubetask.dev", "taskmaps", frozenset({"list", "watch", "delete"})),
    ("kubetask.dev", "taskmaps/status", frozenset({"patch"})),
    ("kubetask.dev", "taskqueues", frozenset({"list", "watch"})),
    ("kubetask.dev", "taskqueues/status", frozenset({"patch"})),
    ("", "pods", frozenset({"get", "list", "watch", "create", "patch", "delete"})),
    ("", "configmaps", frozenset({"create"})),
    ("", "podtemplates", frozenset({"get"})),
    ("", "events", frozenset({"create", "list"})),
}
#: The leader-election Role (release namespace only): (apiGroup, resource, verbs, resourceNames).
EXPECTED_LEASE_RULES = {
    ("coordination.k8s.io", "leases", frozenset({"create"}), ()),
    ("coordination.k8s.io", "leases", frozenset({"get", "update"}), ("kubetask",)),
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


def _lease_rules(role: dict[str, Any]) -> set[tuple[str, str, frozenset[str], tuple[str, ...]]]:
    return {
        (group, resource, frozenset(rule["verbs"]), tuple(rule.get("resourceNames", ())))
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


def _is_leader_election(document: dict[str, Any]) -> bool:
    return str(document["metadata"]["name"]).endswith("-leader-election")


def _is_test_hook(document: dict[str, Any]) -> bool:
    return document["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"


def _is_user_role(document: dict[str, Any]) -> bool:
    labels = document["metadata"].get("labels", {})
    return any(label.startswith("rbac.authorization.k8s.io/aggregate-to-") for label in labels)


def _operator_rbac(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operator's rules on the namespaces it watches (not its Lease, nor helm test's, nor users')."""
    return [
        d
        for d in documents
        if d["kind"] in RBAC_KINDS
        and not _is_test_hook(d)
        and not _is_user_role(d)
        and not _is_leader_election(d)
    ]


def _leader_election_rbac(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] in RBAC_KINDS and _is_leader_election(d)]


def test_no_rule_uses_a_wildcard(render_chart: Render, chart_values: dict[str, Any]) -> None:
    for document in render_chart(chart_values):
        for rule in document.get("rules", []) if document["kind"] in {"Role", "ClusterRole"} else []:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"{document['kind']}/{document['metadata']['name']}: {rule}"
                assert not any("*" in item for item in rule[field])
            assert "nonResourceURLs" not in rule
            if "resourceNames" in rule:  # only the Lease, by its exact name
                assert _is_leader_election(document), rule
                assert rule["resources"] == ["leases"]
                assert "*" not in rule["resourceNames"]


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


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="cluster-wide"),
        pytest.param({"watchNamespaces": ["team-a", "team-b"]}, id="watched-namespaces"),
    ],
)
def test_the_lease_may_be_used_in_the_operators_namespace_only(
    render_chart: Render, values: dict[str, Any]
) -> None:
    documents = render_chart(values, namespace="ops", release="kubetask")
    rbac = _leader_election_rbac(documents)
    assert sorted((d["kind"], d["metadata"]["namespace"]) for d in rbac) == [
        ("Role", "ops"),
        ("RoleBinding", "ops"),
    ]
    (role,) = (d for d in rbac if d["kind"] == "Role")
    assert _lease_rules(role) == EXPECTED_LEASE_RULES
    (binding,) = (d for d in rbac if d["kind"] == "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "kubetask-leader-election",
    }
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBETASK_LEADER_ELECTION_LEASE"]["value"] == "kubetask"  # the name the Role allows
    assert env["KUBETASK_LEADER_ELECTION_NAMESPACE"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }


def test_no_lease_rights_without_leader_election(render_chart: Render) -> None:
    documents = render_chart({"leaderElection": {"enabled": False}})
    assert _leader_election_rbac(documents) == []


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


def test_users_with_the_default_roles_may_run_tasks(render_chart: Render) -> None:
    roles = {d["metadata"]["name"]: d for d in render_chart({}, release="prod") if _is_user_role(d)}
    assert sorted(roles) == ["prod-kubetask-edit", "prod-kubetask-view"]
    edit, view = roles["prod-kubetask-edit"], roles["prod-kubetask-view"]
    assert edit["kind"] == view["kind"] == "ClusterRole"
    assert {k: v for k, v in edit["metadata"]["labels"].items() if "aggregate-to" in k} == {
        "rbac.authorization.k8s.io/aggregate-to-admin": "true",
        "rbac.authorization.k8s.io/aggregate-to-edit": "true",
    }
    assert {k: v for k, v in view["metadata"]["labels"].items() if "aggregate-to" in k} == {
        "rbac.authorization.k8s.io/aggregate-to-view": "true"
    }
    edit_verbs = frozenset(
        {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
    )
    kinds = ("taskruns", "taskmaps", "taskqueues")
    assert _rules(edit) == {("kubetask.dev", resource, edit_verbs) for resource in kinds}
    assert _rules(view) == {
        ("kubetask.dev", resource, frozenset({"get", "list", "watch"})) for resource in kinds
    }
    # Nothing is bound to them: they only widen roles someone already holds.
    assert not [
        d
        for d in render_chart({}, release="prod")
        if d["kind"].endswith("Binding") and "-edit" in d["roleRef"]["name"]
    ]
    assert not [d for d in render_chart({"rbac": {"aggregateToDefaultRoles": False}}) if _is_user_role(d)]


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


# ---------------------------------------------------------------- the rules against the operator's code

OPERATOR_PACKAGE = Path(kubetask_operator.__file__).parent
_CLIENT_VERBS = {
    "create": "create",
    "get": "get",
    "list": "list",
    "merge_patch": "patch",
    "replace": "update",
    "delete": "delete",
}
_PATH_RESOURCE = re.compile(
    r"^/apis?/(?:(?P<group>[a-z0-9.]+)/)?v1/namespaces/\{[^}]*\}/(?P<resource>[a-z]+)(?P<rest>/.*)?$"
)


def _path_text(node: ast.expr) -> str:
    """The path argument as text, f-string holes as ``{}``; taskrun_path(...) as the TaskRun path."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            _path_text(value) if isinstance(value, ast.Constant) else "{}" for value in node.values
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "taskrun_path":
        return "/apis/kubetask.dev/v1alpha1/namespaces/{}/taskruns/{}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "taskmap_path":
        return "/apis/kubetask.dev/v1alpha1/namespaces/{}/taskmaps/{}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "taskqueue_path":
        return "/apis/kubetask.dev/v1alpha1/namespaces/{}/taskqueues/{}"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _path_text(node.left) + _path_text(node.right)
    raise AssertionError(f"cannot read the API path {ast.unparse(node)!r}: extend this test")


def _operator_api_calls() -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) of every call the operator's KubeClient makes, read from its source."""
    calls: set[tuple[str, str, str]] = set()
    for source in OPERATOR_PACKAGE.glob("*.py"):
        tree = ast.parse(source.read_text())
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef)):
            assigned = {
                target.id: node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                func = call.func
                if not (isinstance(func, ast.Attribute) and func.attr in _CLIENT_VERBS):
                    continue
                if not (isinstance(func.value, ast.Attribute) and func.value.attr == "_client"):
                    continue
                argument = call.args[0]
                if isinstance(argument, ast.Name):
                    argument = assigned[argument.id]
                path = _path_text(argument)
                verb = _CLIENT_VERBS[func.attr]
                if path.startswith("/apis/kubetask.dev/"):
                    kinds = ("taskmaps", "taskqueues")
                    plural = next((kind for kind in kinds if f"/{kind}" in path), "taskruns")
                    resource = f"{plural}/status" if path.endswith("/status") else plural
                    calls.add(("kubetask.dev", resource, verb))
                else:
                    match = _PATH_RESOURCE.match(path)
                    assert match, f"{source.name}: unexpected API path {path!r}"
                    calls.add((match["group"] or "", match["resource"], verb))
    return calls


def _kopf_watches() -> set[tuple[str, str, str]]:
    """kopf lists then watches the resource of every on.event handler."""
    watched = set()
    for handler in registry._watching.get_all_handlers():
        selector = handler.selector
        assert selector is not None
        for verb in ("list", "watch"):
            watched.add((selector.group or "", selector.plural or selector.any_name, verb))
    return watched


def test_the_rules_are_exactly_what_the_operator_calls() -> None:
    used = _operator_api_calls() | _kopf_watches()
    granted = {
        (group, resource, verb) for group, resource, verbs in EXPECTED_OPERATOR_RULES for verb in verbs
    } | {(group, resource, verb) for group, resource, verbs, _ in EXPECTED_LEASE_RULES for verb in verbs}
    assert used, "found no API calls in the operator: the scan is broken"
    assert used - granted == set(), "the operator makes calls its RBAC does not allow"
    assert granted - used == set(), "the RBAC allows calls the operator never makes"


def test_the_helm_test_command_is_one_the_client_accepts(render_chart: Render) -> None:
    values = {"test": {"timeoutSeconds": 120}, "imagePullSecrets": [{"name": "registry"}]}
    (pod,) = (d for d in render_chart(values) if d["kind"] == "Pod")
    command = pod["spec"]["containers"][0]["command"]
    assert command[:2] == ["kubetask", "submit"]
    args = build_parser().parse_args(command[1:])
    assert (args.wait, args.wait_timeout, args.delete_after) == (True, 120.0, True)
    assert args.image_pull_secret == ["registry"]  # the task's pod pulls the same private image
    assert args.name is None  # a generated name: a TaskRun left by an interrupted test never blocks the next
    task = load_target(args.target)
    assert inputs_from_assignments(task, args.inputs) == {"message": "helm test kubetask"}
