"""The review kinds ``kubectl auth can-i`` and ``kubectl auth whoami`` create: answered, never stored.

``SelfSubjectAccessReview``, ``SelfSubjectRulesReview`` and ``SelfSubjectReview`` are create-only; the
answer says what the requesting user may do or who it is. The sandbox's only user is a cluster
admin, so every access is allowed and every rule is ``*``.
Decided against: emulating RBAC (the operator's RBAC manifests are checked against a real cluster
only), which would make every test set up roles first.
"""

from __future__ import annotations

from typing import Any

from ray_operator.sandbox.resources import ResourceType


def review_type(group: str, resource: str, kind: str) -> ResourceType:
    """A create-only, never stored review type (``kubectl auth can-i`` / ``whoami``); RBAC is not emulated."""
    return ResourceType(
        group=group,
        version="v1",
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=False,
        list_kind=f"{kind}List",
        verbs=("create",),
        extra={"review": True},
    )


def review_response(rt: ResourceType, body: Any, user: dict[str, Any]) -> dict[str, Any]:
    """Everything is allowed: the sandbox's only user is a cluster admin."""
    spec = body.get("spec") if isinstance(body, dict) and isinstance(body.get("spec"), dict) else {}
    out: dict[str, Any] = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"creationTimestamp": None}}
    if rt.kind == "SelfSubjectReview":
        out["status"] = {"userInfo": {k: v for k, v in user.items() if v}}
    elif rt.kind == "SelfSubjectRulesReview":
        out["spec"] = spec
        out["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    else:
        out["spec"] = spec
        out["status"] = {"allowed": True, "reason": "the sandbox allows every request"}
    return out
