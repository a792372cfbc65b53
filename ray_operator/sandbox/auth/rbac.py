"""The RBAC authorizer: may this user do this, by the Roles, ClusterRoles and bindings in the store.

Evaluation follows kube-apiserver's ``rbac.RBACAuthorizer``: members of ``system:masters`` are allowed
before RBAC is asked (the privileged-group authorizer in front of it); then every ClusterRoleBinding
whose subjects include the user, and - for a namespaced request - every RoleBinding of that
namespace, contributes its role's rules, and the first rule that covers the request allows it. A rule
covers a request when its verbs, apiGroups and resources (``*``, ``pods/status``, ``*/scale``) match
and its resourceNames, if any, contain the request's name; non-resource URLs (``/metrics``,
``/healthz/*``) only come from ClusterRoles bound cluster-wide. A binding whose role is missing adds
``RBAC: clusterrole.rbac.authorization.k8s.io "x" not found`` to the denial reason, as upstream.
ClusterRole aggregation (``aggregationRule``) is resolved when the rules are read.

The module is pure over a ``Policy`` (reads of the four kinds), so the rule logic is tested without
a server; ``rules_for`` gives what ``SelfSubjectRulesReview`` lists.
Decided against: caching compiled rules (the sandbox holds a few dozen bindings; reading them per
request keeps a changed Role effective at once, as RBAC's informers make it within milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ray_operator.sandbox.auth.tokens import split_service_account_username

RBAC_GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it (apiserver's ``authorizer.Attributes``)."""

    user: str
    groups: tuple[str, ...]
    verb: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Policy(Protocol):
    """Read access to the stored RBAC objects (the sandbox's store, or a test's lists)."""

    def cluster_roles(self) -> list[dict[str, Any]]: ...

    def cluster_role_bindings(self) -> list[dict[str, Any]]: ...

    def role(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def role_bindings(self, namespace: str) -> list[dict[str, Any]]: ...


@dataclass
class StaticPolicy:
    """A ``Policy`` over plain lists of objects (tests, and rule sets read from YAML)."""

    objects: list[dict[str, Any]] = field(default_factory=list)

    def _of(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            o
            for o in self.objects
            if o.get("kind") == kind and (namespace is None or (o.get("metadata") or {}).get("namespace") == namespace)
        ]

    def cluster_roles(self) -> list[dict[str, Any]]:
        return self._of("ClusterRole")

    def cluster_role_bindings(self) -> list[dict[str, Any]]:
        return self._of("ClusterRoleBinding")

    def role(self, namespace: str, name: str) -> dict[str, Any] | None:
        return next((r for r in self._of("Role", namespace) if r["metadata"].get("name") == name), None)

    def role_bindings(self, namespace: str) -> list[dict[str, Any]]:
        return self._of("RoleBinding", namespace)


# --------------------------------------------------------------------------------------- matching


def _verb_matches(rule: dict[str, Any], verb: str) -> bool:
    verbs = rule.get("verbs") or []
    return "*" in verbs or verb in verbs


def _group_matches(rule: dict[str, Any], group: str) -> bool:
    groups = rule.get("apiGroups") or []
    return "*" in groups or group in groups


def _resource_matches(rule: dict[str, Any], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for wanted in rule.get("resources") or []:
        if wanted in ("*", combined):
            return True
        if subresource and wanted == f"*/{subresource}":
            return True
    return False


def _name_matches(rule: dict[str, Any], name: str) -> bool:
    names = rule.get("resourceNames") or []
    return not names or name in names


def _url_matches(rule: dict[str, Any], path: str) -> bool:
    for url in rule.get("nonResourceURLs") or []:
        if url in ("*", path) or (url.endswith("*") and path.startswith(url.rstrip("*"))):
            return True
    return False


def rule_allows(attrs: Attributes, rule: dict[str, Any]) -> bool:
    """One PolicyRule against one request (upstream ``RuleAllows``)."""
    if not _verb_matches(rule, attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    return (
        _group_matches(rule, attrs.api_group)
        and _resource_matches(rule, attrs.resource, attrs.subresource)
        and _name_matches(rule, attrs.name)
    )


def _applies_to(subject: dict[str, Any], user: str, groups: tuple[str, ...], binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = str(subject.get("name", ""))
    if kind == "User":
        return user == name
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        return bool(namespace) and split_service_account_username(user) == (namespace, name)
    return False


def _describe_subject(subject: dict[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or binding_namespace}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


def _matches_selector(labels: dict[str, Any], selector: dict[str, Any]) -> bool:
    wanted = selector.get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and present and labels.get(key) in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def cluster_role_rules(policy: Policy, role: dict[str, Any]) -> list[dict[str, Any]]:
    """A ClusterRole's rules, with those of the ClusterRoles its ``aggregationRule`` selects."""
    rules = list(role.get("rules") or [])
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    if selectors:
        me = (role.get("metadata") or {}).get("name")
        for other in policy.cluster_roles():
            labels = (other.get("metadata") or {}).get("labels") or {}
            if other["metadata"].get("name") != me and any(_matches_selector(labels, s) for s in selectors):
                rules.extend(other.get("rules") or [])
    return rules


def _cluster_role(policy: Policy, name: str) -> dict[str, Any] | None:
    return next((r for r in policy.cluster_roles() if (r.get("metadata") or {}).get("name") == name), None)


def _visit(
    policy: Policy, user: str, groups: tuple[str, ...], namespace: str
) -> Iterator[tuple[str, list[dict[str, Any]] | None, str]]:
    """(source description, rules or None when the role is missing, the missing-role error) per binding."""
    for binding in policy.cluster_role_bindings():
        ref = binding.get("roleRef") or {}
        for subject in binding.get("subjects") or []:
            if not _applies_to(subject, user, groups, ""):
                continue
            role = _cluster_role(policy, str(ref.get("name", ""))) if ref.get("kind") == "ClusterRole" else None
            source = (
                f'ClusterRoleBinding "{binding["metadata"].get("name")}" of ClusterRole "{ref.get("name")}" '
                f"to {_describe_subject(subject, '')}"
            )
            missing = f'clusterrole.{RBAC_GROUP} "{ref.get("name")}" not found'
            yield source, (cluster_role_rules(policy, role) if role is not None else None), missing
            break
    if not namespace:
        return
    for binding in policy.role_bindings(namespace):
        ref = binding.get("roleRef") or {}
        for subject in binding.get("subjects") or []:
            if not _applies_to(subject, user, groups, namespace):
                continue
            ref_name = str(ref.get("name", ""))
            if ref.get("kind") == "Role":
                role = policy.role(namespace, ref_name)
                missing = f'role.{RBAC_GROUP} "{ref_name}" not found'
            else:
                role = _cluster_role(policy, ref_name)
                missing = f'clusterrole.{RBAC_GROUP} "{ref_name}" not found'
            rules = None
            if role is not None and ref.get("kind") == "ClusterRole":
                rules = cluster_role_rules(policy, role)
            elif role is not None:
                rules = list(role.get("rules") or [])
            source = (
                f'RoleBinding "{binding["metadata"].get("name")}/{namespace}" of {ref.get("kind")} "{ref_name}" '
                f"to {_describe_subject(subject, namespace)}"
            )
            yield source, rules, missing
            break


def authorize(policy: Policy, attrs: Attributes) -> Decision:
    """Allowed with upstream's reason (``RBAC: allowed by ...``), or denied with the resolution errors."""
    if MASTERS in attrs.groups:
        return Decision(True, "")
    errors: list[str] = []
    for source, rules, missing in _visit(policy, attrs.user, attrs.groups, attrs.namespace):
        if rules is None:
            errors.append(missing)
            continue
        for rule in rules:
            if rule_allows(attrs, rule):
                return Decision(True, f"RBAC: allowed by {source}")
    if not errors:
        return Decision(False, "")
    joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return Decision(False, f"RBAC: {joined}")


def rules_for(policy: Policy, user: str, groups: tuple[str, ...], namespace: str) -> list[dict[str, Any]]:
    """Every rule that applies to the user in ``namespace`` (``SelfSubjectRulesReview``), masters as ``*``."""
    if MASTERS in groups:
        return [
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
            {"verbs": ["*"], "nonResourceURLs": ["*"]},
        ]
    out: list[dict[str, Any]] = []
    for _, rules, _ in _visit(policy, user, groups, namespace):
        for rule in rules or []:
            if rule not in out:
                out.append(rule)
    return out


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """kube-apiserver's 403 text: ``pods is forbidden: User "u" cannot list resource "pods" in API group ""...``."""
    if not attrs.resource_request:
        text = f'User "{attrs.user}" cannot {attrs.verb} path "{attrs.path}"'
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        text = f'User "{attrs.user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {scope}'
    if reason:
        text = f"{text}: {reason}"
    if not attrs.resource_request or not attrs.resource:
        return f"forbidden: {text}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f'{qualified} "{attrs.name}" is forbidden: {text}'
    return f"{qualified} is forbidden: {text}"


def forbidden_details(attrs: Attributes) -> dict[str, Any]:
    """``details`` of the 403 Status: the group, the *resource* as ``kind`` (as upstream) and the name."""
    details: dict[str, Any] = {}
    if attrs.resource_request and attrs.resource:
        if attrs.name:
            details["name"] = attrs.name
        if attrs.api_group:
            details["group"] = attrs.api_group
        details["kind"] = attrs.resource
    return details
