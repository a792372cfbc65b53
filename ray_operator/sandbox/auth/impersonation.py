"""``Impersonate-User`` / ``Impersonate-Group`` / ``Impersonate-Uid``: acting as someone else (``kubectl --as``).

As upstream's impersonation filter: the requester needs ``impersonate`` on ``users`` (or on the
``serviceaccounts`` object, for a ``system:serviceaccount:<ns>:<name>`` user name), on ``groups`` and on
``uids`` (group ``authentication.k8s.io``) for each one named; a ServiceAccount impersonated without
groups gets its fixed ServiceAccount groups, and every impersonated user but ``system:anonymous`` gets
``system:authenticated`` unless a group says otherwise. Groups without a user are a 400.
Decided against: ``Impersonate-Extra-*`` (kubectl sends it only with ``--as-user-extra``; it is ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.auth.rbac import Attributes, Decision, forbidden_details, forbidden_message
from ray_operator.sandbox.auth.tokens import service_account_groups, split_service_account_username

USER = "Impersonate-User"
GROUP = "Impersonate-Group"
UID = "Impersonate-Uid"


def impersonated(
    requester: dict[str, Any], headers: Any, authorize: Callable[[Attributes], Decision]
) -> dict[str, Any] | None:
    """The user to act as (None without impersonation headers); raises 403/400 as kube-apiserver does."""
    username = headers.get(USER, "")
    groups = [g for g in headers.getall(GROUP, []) if g] if hasattr(headers, "getall") else []
    uid = headers.get(UID, "")
    if not username:
        if groups or uid:
            raise errors.bad_request(
                f"requested impersonation of groups or uid without impersonating a user: groups {groups!r}, uid {uid!r}"
            )
        return None
    who = str(requester.get("username", ""))
    mine = tuple(str(g) for g in requester.get("groups") or ())
    checks: list[Attributes] = []
    sa = split_service_account_username(username)
    if sa is not None:
        checks.append(
            Attributes(
                user=who,
                groups=mine,
                verb="impersonate",
                resource_request=True,
                api_version="v1",
                resource="serviceaccounts",
                namespace=sa[0],
                name=sa[1],
            )
        )
    else:
        checks.append(
            Attributes(
                user=who, groups=mine, verb="impersonate", resource_request=True, resource="users", name=username
            )
        )
    checks += [
        Attributes(user=who, groups=mine, verb="impersonate", resource_request=True, resource="groups", name=group)
        for group in groups
    ]
    if uid:
        checks.append(
            Attributes(
                user=who,
                groups=mine,
                verb="impersonate",
                resource_request=True,
                api_group="authentication.k8s.io",
                resource="uids",
                name=uid,
            )
        )
    for attrs in checks:
        decision = authorize(attrs)
        if not decision.allowed:
            raise errors.forbidden(forbidden_message(attrs, decision.reason), forbidden_details(attrs))
    final_groups = list(groups)
    if sa is not None and not groups:
        final_groups = service_account_groups(sa[0])
    if username != "system:anonymous":
        if not {"system:authenticated", "system:unauthenticated"} & set(final_groups):
            final_groups.append("system:authenticated")
    elif "system:unauthenticated" not in final_groups:
        final_groups.append("system:unauthenticated")
    return {"username": username, "uid": uid, "groups": final_groups, "extra": {}}
