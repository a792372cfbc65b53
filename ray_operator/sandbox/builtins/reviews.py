"""The review kinds: create-only, never stored, answered from the sandbox's authentication and RBAC state.

``SelfSubjectAccessReview`` (``kubectl auth can-i``), ``SelfSubjectRulesReview`` (``can-i --list``) and
``SelfSubjectReview`` (``kubectl auth whoami``) answer for the requesting user; ``SubjectAccessReview``,
``LocalSubjectAccessReview`` and ``TokenReview`` for the user or token in the spec - what an operator's
secure metrics endpoint asks (controller-runtime's ``WithAuthenticationAndAuthorization``). The answers
come from the same ``AuthGate`` that authorizes real requests, so ``can-i`` and a request never
disagree. Without a gate (a bare engine in unit tests) every access is allowed, as for the admin.
Decided against: emulating the webhook and Node authorizers (the sandbox has neither).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.resources import ResourceType

if TYPE_CHECKING:
    from ray_operator.sandbox.auth.gate import AuthGate
    from ray_operator.sandbox.auth.rbac import Attributes


def review_type(group: str, resource: str, kind: str, *, namespaced: bool = False) -> ResourceType:
    """A create-only, never stored review type."""
    return ResourceType(
        group=group,
        version="v1",
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        list_kind=f"{kind}List",
        verbs=("create",),
        extra={"review": True},
    )


def _attributes(user: str, groups: tuple[str, ...], spec: dict[str, Any], namespace: str | None) -> Attributes:
    from ray_operator.sandbox.auth.rbac import Attributes

    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return Attributes(
            user=user,
            groups=groups,
            verb=str(resource.get("verb", "")),
            resource_request=True,
            api_group=str(resource.get("group", "")),
            api_version=str(resource.get("version", "")),
            resource=str(resource.get("resource", "")),
            subresource=str(resource.get("subresource", "")),
            namespace=str(namespace if namespace is not None else resource.get("namespace", "")),
            name=str(resource.get("name", "")),
        )
    other = spec.get("nonResourceAttributes") or {}
    verb, path = str(other.get("verb", "")), str(other.get("path", ""))
    return Attributes(user=user, groups=groups, verb=verb, resource_request=False, path=path)


def _invalid(rt: ResourceType, field: str, value: str, detail: str) -> errors.ApiError:
    return errors.invalid(
        rt.kind,
        rt.group,
        "",
        [errors.Cause(reason="FieldValueInvalid", message=f'Invalid value: "{value}": {detail}', field=field)],
    )


def _access(
    rt: ResourceType, spec: dict[str, Any], user: str, groups: tuple[str, ...], gate: AuthGate | None, ns: str | None
) -> dict[str, Any]:
    if isinstance(spec.get("resourceAttributes"), dict) == isinstance(spec.get("nonResourceAttributes"), dict):
        raise _invalid(
            rt,
            "spec.resourceAttributes",
            "",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
    if gate is None:
        return {"allowed": True, "reason": "no authorizer: every request is allowed"}
    decision = gate.authorize(_attributes(user, groups, spec, ns))
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def review_response(
    rt: ResourceType,
    body: Any,
    user: dict[str, Any],
    gate: AuthGate | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The answered review: ``spec`` echoed, ``status`` computed for the requester or the spec's subject."""
    spec: dict[str, Any] = body["spec"] if isinstance(body, dict) and isinstance(body.get("spec"), dict) else {}
    out: dict[str, Any] = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"creationTimestamp": None}}
    me = str(user.get("username", ""))
    my_groups = tuple(str(g) for g in user.get("groups") or ())
    if rt.kind == "SelfSubjectReview":
        out["status"] = {"userInfo": {k: v for k, v in user.items() if v}}
        return out
    out["spec"] = spec
    if rt.kind == "SelfSubjectRulesReview":
        rules = gate.rules_for(me, my_groups, str(spec.get("namespace", ""))) if gate else [{"verbs": ["*"]}]
        resource_rules = [
            {k: r[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if r.get(k)}
            for r in rules
            if not r.get("nonResourceURLs")
        ]
        url_rules = [
            {"verbs": r["verbs"], "nonResourceURLs": r["nonResourceURLs"]} for r in rules if r.get("nonResourceURLs")
        ]
        out["status"] = {"resourceRules": resource_rules, "nonResourceRules": url_rules, "incomplete": False}
    elif rt.kind == "SelfSubjectAccessReview":
        out["status"] = _access(rt, spec, me, my_groups, gate, None)
    elif rt.kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
        if not spec.get("user") and not spec.get("groups"):
            raise _invalid(rt, "spec.user", "", "at least one of user or group must be specified")
        attrs = spec.get("resourceAttributes")
        if namespace is not None and (not isinstance(attrs, dict) or attrs.get("namespace", "") != namespace):
            got = attrs.get("namespace", "") if isinstance(attrs, dict) else ""
            raise _invalid(rt, "spec.resourceAttributes.namespace", str(got), "must match metadata.namespace")
        groups = tuple(str(g) for g in spec.get("groups") or ())
        out["status"] = _access(rt, spec, str(spec.get("user", "")), groups, gate, namespace)
        if namespace is not None:
            out["metadata"]["namespace"] = namespace
    elif rt.kind == "TokenReview":
        out["status"] = _token_review(spec, gate)
    return out


def _token_review(spec: dict[str, Any], gate: AuthGate | None) -> dict[str, Any]:
    from ray_operator.sandbox.auth.tokens import API_AUDIENCES

    token = str(spec.get("token", ""))
    wanted = tuple(str(a) for a in spec.get("audiences") or ()) or API_AUDIENCES
    found = gate.authenticator.authenticate(token, audiences=wanted) if gate and token else None
    if found is None or gate is None:
        return {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
    static = token in gate.authenticator.static
    audiences = list(wanted) if static else gate.authenticator.audiences_of(token, wanted)
    return {"authenticated": True, "user": {k: v for k, v in found.items() if v}, "audiences": audiences}
