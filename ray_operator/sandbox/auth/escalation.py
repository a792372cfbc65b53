"""RBAC escalation prevention: a user may only grant what they hold, unless allowed to ``escalate`` or ``bind``.

As kube-apiserver's RBAC storage: writing a Role or ClusterRole needs every rule in it to be allowed
to the writer already (in the Role's namespace, or cluster-wide), or the ``escalate`` verb on that
role; writing a RoleBinding or ClusterRoleBinding needs the ``bind`` verb on the role it references,
or holding all of that role's rules. A refusal is upstream's 403:
``roles.rbac.authorization.k8s.io "x" is forbidden: user "u" (groups=["a" "b"]) is attempting to grant
RBAC permissions not currently held:`` followed by the missing rights, one compact rule per line.
This is why an operator that creates Roles (the autoscaler's) must hold their rules itself.
Decided against: checking before mutating admission (upstream checks the object as sent; here the
check runs with validation, after webhooks, which no webhook of this project changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.auth.rbac import RBAC_GROUP, Attributes, Decision, Policy, cluster_role_rules

_ROLE_KINDS = {"Role": "roles", "ClusterRole": "clusterroles"}
_BINDING_KINDS = {"RoleBinding": "rolebindings", "ClusterRoleBinding": "clusterrolebindings"}


def _go_quoted(values: list[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"


def compact(rule: dict[str, Any]) -> str:
    """rbacv1helpers' ``CompactString``: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    parts = []
    for key, label in (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("resourceNames", "ResourceNames"),
        ("verbs", "Verbs"),
    ):
        if rule.get(key):
            parts.append(f"{label}:{_go_quoted([str(v) for v in rule[key]])}")
    return "{" + ", ".join(parts) + "}"


def _atoms(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """A rule broken into one-verb, one-resource (or one-URL), one-name rules (upstream ``BreakdownRule``)."""
    out = []
    for verb in rule.get("verbs") or []:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for name in rule.get("resourceNames") or [""]:
                    atom = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                    if name:
                        atom["resourceNames"] = [name]
                    out.append(atom)
        for url in rule.get("nonResourceURLs") or []:
            out.append({"nonResourceURLs": [url], "verbs": [verb]})
    return out


Allows = Callable[[Attributes], Decision]


def missing_rights(
    rules: list[dict[str, Any]], namespace: str, user: str, groups: tuple[str, ...], allows: Allows
) -> list[str]:
    """The compact descriptions of the rights in ``rules`` that ``user`` does not hold in ``namespace``."""
    missing: dict[tuple[str, str, str, str], list[str]] = {}
    for rule in rules:
        for atom in _atoms(rule):
            verb = atom["verbs"][0]
            if "nonResourceURLs" in atom:
                attrs = Attributes(
                    user=user, groups=groups, verb=verb, resource_request=False, path=atom["nonResourceURLs"][0]
                )
                key = ("", "", atom["nonResourceURLs"][0], "")
            else:
                resource, _, sub = atom["resources"][0].partition("/")
                name = (atom.get("resourceNames") or [""])[0]
                attrs = Attributes(
                    user=user,
                    groups=groups,
                    verb=verb,
                    resource_request=True,
                    api_group=atom["apiGroups"][0],
                    resource=resource,
                    subresource=sub,
                    namespace=namespace,
                    name=name,
                )
                key = (atom["apiGroups"][0], atom["resources"][0], "", name)
            if not allows(attrs).allowed:
                verbs = missing.setdefault(key, [])
                if verb not in verbs:
                    verbs.append(verb)
    lines = []
    for (group, resource, url, name), verbs in missing.items():
        merged: dict[str, Any] = {"verbs": verbs}
        if url:
            merged["nonResourceURLs"] = [url]
        else:
            merged.update(apiGroups=[group], resources=[resource])
            if name:
                merged["resourceNames"] = [name]
        lines.append(compact(merged))
    return sorted(lines)


def check_grant(
    policy: Policy,
    allows: Allows,
    user_info: dict[str, Any],
    kind: str,
    obj: dict[str, Any],
    covers: Allows | None = None,
) -> None:
    """Raise upstream's 403 when writing ``obj`` (an RBAC object of ``kind``) would grant rights the user lacks.

    ``allows`` answers the ``escalate``/``bind`` shortcuts; ``covers`` (``allows`` by default) each right granted.
    """
    if kind not in _ROLE_KINDS and kind not in _BINDING_KINDS:
        return
    user = str(user_info.get("username", ""))
    groups = tuple(str(g) for g in user_info.get("groups") or ())
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    namespace = str(meta.get("namespace", "")) if kind in ("Role", "RoleBinding") else ""

    def may(verb: str, resource: str, target: str) -> bool:
        attrs = Attributes(
            user=user,
            groups=groups,
            verb=verb,
            resource_request=True,
            api_group=RBAC_GROUP,
            resource=resource,
            namespace=namespace,
            name=target,
        )
        return allows(attrs).allowed

    if kind in _ROLE_KINDS:
        if may("escalate", _ROLE_KINDS[kind], name):
            return
        rules = cluster_role_rules(policy, obj) if kind == "ClusterRole" else list(obj.get("rules") or [])
        resource = _ROLE_KINDS[kind]
    else:
        ref = obj.get("roleRef") or {}
        ref_kind, ref_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        ref_resource = _ROLE_KINDS.get(ref_kind, "")
        if may("bind", ref_resource, ref_name):
            return
        if ref_kind == "Role":
            role = policy.role(namespace, ref_name)
        else:
            role = next((r for r in policy.cluster_roles() if r["metadata"].get("name") == ref_name), None)
        if role is None:
            raise errors.not_found(ref_resource, RBAC_GROUP, ref_name)
        rules = cluster_role_rules(policy, role) if ref_kind == "ClusterRole" else list(role.get("rules") or [])
        resource = _BINDING_KINDS[kind]
    missing = missing_rights(rules, namespace, user, groups, covers or allows)
    if not missing:
        return
    text = (
        f"user {_go_quoted([user])[1:-1]} (groups={_go_quoted(list(groups))}) is attempting to grant RBAC "
        "permissions not currently held:\n" + "\n".join(missing)
    )
    raise errors.forbidden(
        f'{resource}.{RBAC_GROUP} "{name}" is forbidden: {text}', {"name": name, "group": RBAC_GROUP, "kind": resource}
    )
