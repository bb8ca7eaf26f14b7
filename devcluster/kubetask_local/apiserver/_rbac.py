"""Who is asking and what they may do: identities, impersonation and the RBAC authorizer.

Sources (kubernetes/kubernetes):
- plugin/pkg/auth/authorizer/rbac/rbac.go and pkg/apis/rbac/v1/evaluation_helpers.go (rule matching:
  verbs, apiGroups, resources with ``resource/subresource`` and ``*``, resourceNames, nonResourceURLs with
  a trailing ``*``)
- staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go (the 403 wording:
  ``pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"``)
- staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go (Impersonate-User/-Group headers)
- plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go (system:discovery, system:basic-user,
  system:public-info-viewer: what every authenticated user may do)
- pkg/serviceaccount/util.go (``system:serviceaccount:<ns>:<name>`` and its groups)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from kubetask_local.apiserver._errors import ApiError

Obj = dict[str, Any]
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
RBAC_GROUP = "rbac.authorization.k8s.io"

# Non-resource URLs of system:discovery, system:public-info-viewer and system:basic-user.
_PUBLIC_PATHS = ("/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/",
                 "/healthz", "/livez", "/readyz")  # fmt: skip
_SELF_REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews")


@dataclasses.dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""

    @property
    def is_admin(self) -> bool:
        return MASTERS in self.groups


ADMIN = Identity("kubetask-local-admin", (MASTERS, AUTHENTICATED))


def service_account_identity(namespace: str, name: str, uid: str = "") -> Identity:
    return Identity(
        f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
        uid,
    )


def impersonated(identity: Identity, headers: Mapping[str, str], group_headers: Sequence[str]) -> Identity:
    """The identity named by ``Impersonate-User`` (and ``-Group``), for admins; 403 for anyone else."""
    user = headers.get("Impersonate-User")
    if not user and not group_headers:
        return identity
    if not identity.is_admin:
        raise ApiError(
            403,
            "Forbidden",
            f'users "{user}" is forbidden: User "{identity.user}" cannot impersonate resource "users" in API '
            'group "" at the cluster scope',
            details={"name": user or "", "kind": "users"},
        )
    if not user:
        raise ApiError(400, "BadRequest", "requested impersonation of groups without a user")
    if user.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace, _, name = user[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
        base = service_account_identity(namespace, name)
        return Identity(
            base.user,
            tuple(dict.fromkeys([*base.groups, *group_headers])),
            headers.get("Impersonate-Uid", ""),
        )
    groups = [*group_headers, AUTHENTICATED] if user != "system:anonymous" else [*group_headers]
    return Identity(user, tuple(dict.fromkeys(groups)), headers.get("Impersonate-Uid", ""))


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What a request does, as the authorizer sees it."""

    verb: str
    path: str
    resource_request: bool
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def verb_of(method: str, *, named: bool, watch: bool) -> str:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "watch" if watch else ("get" if named else "list")
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if named else "deletecollection",
    }.get(method, method.lower())


# ---------------------------------------------------------------------- rule matching


def _matches(values: Iterable[str], wanted: str) -> bool:
    return any(value in ("*", wanted) for value in values)


def _resource_matches(resources: Iterable[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in resources:
        if item in ("*", combined):
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def _url_matches(urls: Iterable[str], path: str) -> bool:
    return any(url in ("*", path) or (url.endswith("*") and path.startswith(url[:-1])) for url in urls)


def rule_allows(rule: Mapping[str, Any], attributes: Attributes) -> bool:
    if not _matches(rule.get("verbs") or [], attributes.verb):
        return False
    if not attributes.resource_request:
        return _url_matches(rule.get("nonResourceURLs") or [], attributes.path)
    if not _matches(rule.get("apiGroups") or [], attributes.api_group):
        return False
    if not _resource_matches(rule.get("resources") or [], attributes.resource, attributes.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attributes.name in names


# ---------------------------------------------------------------------- the authorizer


@dataclasses.dataclass
class RbacObjects:
    """What the authorizer reads from the store."""

    cluster_roles: Mapping[str, Obj]
    cluster_role_bindings: Iterable[Obj]
    roles: Callable[[str], Mapping[str, Obj]]  # namespace -> name -> Role
    role_bindings: Callable[[str], Iterable[Obj]]  # namespace -> RoleBindings


def _subject_matches(subject: Mapping[str, Any], identity: Identity, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return bool(subject.get("name") == identity.user)
    if kind == "Group":
        return subject.get("name") in identity.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return identity.user == f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{subject.get('name')}"
    return False


def _label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = (
            expression.get("key"),
            expression.get("operator"),
            expression.get("values") or [],
        )
        present = key in labels
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and present and labels.get(key) in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def cluster_role_rules(role: Mapping[str, Any], cluster_roles: Mapping[str, Obj]) -> list[Mapping[str, Any]]:
    """A ClusterRole's rules, with those its ``aggregationRule`` gathers (the aggregation controller's)."""
    rules = list(role.get("rules") or [])
    aggregation = role.get("aggregationRule") or {}
    for selector in aggregation.get("clusterRoleSelectors") or []:
        for other in cluster_roles.values():
            if other is role:
                continue
            if _label_selector_matches(selector, (other.get("metadata") or {}).get("labels") or {}):
                rules.extend(other.get("rules") or [])
    return rules


def _bound_rules(binding: Mapping[str, Any], rbac: RbacObjects, namespace: str) -> list[Mapping[str, Any]]:
    ref = binding.get("roleRef") or {}
    if ref.get("kind") == "ClusterRole":
        role = rbac.cluster_roles.get(str(ref.get("name")))
        return cluster_role_rules(role, rbac.cluster_roles) if role is not None else []
    if ref.get("kind") == "Role" and namespace:
        role = rbac.roles(namespace).get(str(ref.get("name")))
        return list(role.get("rules") or []) if role is not None else []
    return []


def rules_for(identity: Identity, namespace: str, rbac: RbacObjects) -> list[Mapping[str, Any]]:
    """Every rule that applies to the identity in the namespace (cluster-wide ones included)."""
    rules: list[Mapping[str, Any]] = []
    for binding in rbac.cluster_role_bindings:
        if any(_subject_matches(s, identity, "") for s in binding.get("subjects") or []):
            rules.extend(_bound_rules(binding, rbac, ""))
    if namespace:
        for binding in rbac.role_bindings(namespace):
            if any(_subject_matches(s, identity, namespace) for s in binding.get("subjects") or []):
                rules.extend(_bound_rules(binding, rbac, namespace))
    return rules


def allowed(identity: Identity, attributes: Attributes, rbac: RbacObjects) -> bool:
    if identity.is_admin:
        return True
    if AUTHENTICATED in identity.groups:
        if (
            not attributes.resource_request
            and attributes.verb == "get"
            and _url_matches(_PUBLIC_PATHS, attributes.path)
        ):
            return True
        if (
            attributes.resource_request
            and attributes.api_group == "authorization.k8s.io"
            and attributes.resource in _SELF_REVIEWS
            and attributes.verb == "create"
        ):
            return True
    return any(rule_allows(rule, attributes) for rule in rules_for(identity, attributes.namespace, rbac))


def forbidden(identity: Identity, attributes: Attributes) -> ApiError:
    """The authorizer's 403, worded as responsewriters.forbiddenMessage."""
    if not attributes.resource_request:
        return ApiError(
            403,
            "Forbidden",
            f'forbidden: User "{identity.user}" cannot {attributes.verb} path "{attributes.path}"',
        )
    resource = (
        f"{attributes.resource}/{attributes.subresource}" if attributes.subresource else attributes.resource
    )
    qualified = (
        f"{attributes.resource}.{attributes.api_group}" if attributes.api_group else attributes.resource
    )
    subject = f'{qualified} "{attributes.name}"' if attributes.name else qualified
    scope = f'in the namespace "{attributes.namespace}"' if attributes.namespace else "at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{identity.user}" cannot {attributes.verb} resource "{resource}" '
        f'in API group "{attributes.api_group}" {scope}',
        details={"name": attributes.name, "group": attributes.api_group, "kind": attributes.resource}
        if attributes.name
        else {"group": attributes.api_group, "kind": attributes.resource},
    )


def access_review_attributes(spec: Mapping[str, Any]) -> Attributes:
    """The attributes a SelfSubjectAccessReview (or SubjectAccessReview) asks about."""
    resource = spec.get("resourceAttributes")
    if isinstance(resource, Mapping):
        return Attributes(
            verb=str(resource.get("verb") or ""),
            path="",
            resource_request=True,
            api_group=str(resource.get("group") or ""),
            resource=str(resource.get("resource") or ""),
            subresource=str(resource.get("subresource") or ""),
            namespace=str(resource.get("namespace") or ""),
            name=str(resource.get("name") or ""),
        )
    other = spec.get("nonResourceAttributes") or {}
    return Attributes(
        verb=str(other.get("verb") or ""), path=str(other.get("path") or ""), resource_request=False
    )


# ---------------------------------------------------------------------- escalation (RBAC writes)


def _atomic_rules(rule: Mapping[str, Any]) -> list[tuple[Attributes, str]]:
    """BreakdownRule: one (attributes, compact string) per verb, group, resource and name of a rule."""
    atoms: list[tuple[Attributes, str]] = []
    for verb in rule.get("verbs") or []:
        for url in rule.get("nonResourceURLs") or []:
            atoms.append(
                (
                    Attributes(verb=verb, path=url, resource_request=False),
                    f'{{NonResourceURLs:["{url}"], Verbs:["{verb}"]}}',
                )
            )
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                base, _, sub = resource.partition("/")
                for name in rule.get("resourceNames") or [""]:
                    names = f', ResourceNames:["{name}"]' if name else ""
                    atoms.append(
                        (
                            Attributes(
                                verb=verb,
                                path="",
                                resource_request=True,
                                api_group=group,
                                resource=base,
                                subresource=sub,
                                name=name,
                            ),
                            f'{{APIGroups:["{group}"], Resources:["{resource}"]{names}, Verbs:["{verb}"]}}',
                        )
                    )
    return atoms


def missing_rights(
    identity: Identity, rules: Iterable[Mapping[str, Any]], namespace: str, rbac: RbacObjects
) -> list[str]:
    """The parts of ``rules`` the identity does not hold itself (ConfirmNoEscalation)."""
    held = rules_for(identity, namespace, rbac)
    missing = []
    for rule in rules:
        for attributes, shown in _atomic_rules(rule):
            scoped = dataclasses.replace(attributes, namespace=namespace)
            if not any(rule_allows(own, scoped) for own in held):
                missing.append(shown)
    return missing


def check_rbac_write(
    identity: Identity, plural: str, obj: Mapping[str, Any], namespace: str, rbac: RbacObjects
) -> None:
    """403 when a non-admin writes a role granting, or a binding to a role holding, rights it lacks, unless
    it holds ``escalate`` (roles) or ``bind`` (bindings) on it (pkg/registry/rbac/*/policybased)."""
    if identity.is_admin:
        return
    name = str((obj.get("metadata") or {}).get("name") or "")
    if plural in ("roles", "clusterroles"):
        special = Attributes("escalate", "", True, RBAC_GROUP, plural, "", namespace, name)
        rules = list(obj.get("rules") or [])
    elif plural in ("rolebindings", "clusterrolebindings"):
        ref = obj.get("roleRef") or {}
        role_plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        special = Attributes(
            "bind", "", True, RBAC_GROUP, role_plural, "", namespace, str(ref.get("name") or "")
        )
        rules = _bound_rules({"roleRef": ref}, rbac, namespace)
    else:
        return
    if any(rule_allows(own, special) for own in rules_for(identity, namespace, rbac)):
        return
    missing = missing_rights(identity, rules, namespace, rbac)
    if missing:
        groups = " ".join(f'"{group}"' for group in identity.groups)
        raise ApiError(
            403,
            "Forbidden",
            f'{plural}.{RBAC_GROUP} "{name}" is forbidden: user "{identity.user}" (groups=[{groups}]) is '
            "attempting to grant RBAC permissions not currently held:\n" + "\n".join(missing),
            details={"name": name, "group": RBAC_GROUP, "kind": plural},
        )


def rules_review(identity: Identity, namespace: str, rbac: RbacObjects) -> dict[str, Any]:
    """The status of a SelfSubjectRulesReview: what the identity may do in the namespace."""
    if identity.is_admin:
        rules: list[Mapping[str, Any]] = [
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
            {"verbs": ["*"], "nonResourceURLs": ["*"]},
        ]
    else:
        rules = [
            {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": list(_SELF_REVIEWS)},
            {"verbs": ["get"], "nonResourceURLs": list(_PUBLIC_PATHS)},
            *rules_for(identity, namespace, rbac),
        ]
    resource_rules = [
        {
            key: list(rule[key])
            for key in ("verbs", "apiGroups", "resources", "resourceNames")
            if rule.get(key)
        }
        for rule in rules
        if rule.get("resources")
    ]
    non_resource_rules = [
        {"verbs": list(rule["verbs"]), "nonResourceURLs": list(rule["nonResourceURLs"])}
        for rule in rules
        if rule.get("nonResourceURLs")
    ]
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}
