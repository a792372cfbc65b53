"""The RBAC objects every cluster starts with, as kube-apiserver's bootstrap policy creates them.

Without them a ServiceAccount could not even read discovery (``/api``, ``/apis``, ``/openapi/v3``),
so kubectl with an operator's token would fail before reaching the request under test. The subset
here is what any client needs: ``cluster-admin`` bound to ``system:masters``; ``system:discovery``
and ``system:basic-user`` (the self-reviews ``kubectl auth can-i`` and ``whoami`` post) for every
authenticated user; ``system:public-info-viewer`` (``/healthz``, ``/version``...) for everyone.
Rules and names are upstream's; the objects carry ``kubernetes.io/bootstrapping: rbac-defaults``.
Decided against: the aggregated ``admin``/``edit``/``view`` roles and the controllers' ``system:*``
roles (the sandbox's controllers run as the server itself; no test binds the user-facing roles).
"""

from __future__ import annotations

from typing import Any

from ray_operator.sandbox.auth.rbac import RBAC_GROUP

_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}

_CLUSTER_ROLES: dict[str, list[dict[str, Any]]] = {
    "cluster-admin": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
    "system:discovery": [
        {
            "nonResourceURLs": [
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/healthz",
                "/livez",
                "/openapi",
                "/openapi/*",
                "/readyz",
                "/version",
                "/version/",
            ],
            "verbs": ["get"],
        }
    ],
    "system:basic-user": [
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            "verbs": ["create"],
        },
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
    ],
    "system:public-info-viewer": [
        {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}
    ],
}

_BINDINGS: dict[str, list[str]] = {
    "cluster-admin": ["system:masters"],
    "system:discovery": ["system:authenticated"],
    "system:basic-user": ["system:authenticated"],
    "system:public-info-viewer": ["system:authenticated", "system:unauthenticated"],
}


def bootstrap_objects() -> list[dict[str, Any]]:
    """The bootstrap ClusterRoles and ClusterRoleBindings (seeded at start and on reset)."""
    out: list[dict[str, Any]] = []
    for name, rules in _CLUSTER_ROLES.items():
        out.append(
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name, "labels": dict(_LABELS), "annotations": dict(_ANNOTATIONS)},
                "rules": [dict(rule) for rule in rules],
            }
        )
    for name, groups in _BINDINGS.items():
        out.append(
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name, "labels": dict(_LABELS), "annotations": dict(_ANNOTATIONS)},
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
                "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": group} for group in groups],
            }
        )
    return out
