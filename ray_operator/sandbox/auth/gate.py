"""Authentication, impersonation and RBAC for one HTTP request: what ``server.handlers`` calls first.

``AuthGate.check`` takes the method, path, query, headers and the router's parse of the path, and
returns the user the request runs as with its RBAC attributes and decision, or raises the exact
``Status`` kube-apiserver answers: 401 ``Unauthorized`` for a missing or bad token, 403 ``Forbidden``
with ``<resource> is forbidden: User "..." cannot <verb> resource ...`` and ``details`` for a denial.
The same gate answers the review kinds (``TokenReview``, ``SubjectAccessReview``,
``SelfSubjectAccessReview``, ``SelfSubjectRulesReview``) from the same state, and issues TokenRequest
tokens.

Over plain HTTP (tests only: kubectl sends no token there) every request is the sandbox admin, as
before RBAC existed. The test-control API under ``/_sandbox/`` needs an authenticated member of
``system:masters``; the health and version paths need nothing, as anonymous requests may read them.
Decided against: anonymous requests for other paths (kube-apiserver allows them by default, but then
denies them by RBAC; a 401 is what a hardened cluster with ``--anonymous-auth=false`` answers and
what the sandbox always answered).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ray_operator.sandbox import errors
from ray_operator.sandbox.auth.authn import Authenticator, UserInfo
from ray_operator.sandbox.auth.escalation import check_grant
from ray_operator.sandbox.auth.impersonation import impersonated
from ray_operator.sandbox.auth.rbac import (
    MASTERS,
    RBAC_GROUP,
    Attributes,
    Decision,
    authorize,
    forbidden_details,
    forbidden_message,
    rules_for,
)
from ray_operator.sandbox.auth.requestinfo import ParsedPath, request_attributes
from ray_operator.sandbox.auth.tokens import TokenIssuer
from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.storage.store import Store

PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")


class StorePolicy:
    """The RBAC ``Policy`` read from the sandbox's store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def cluster_roles(self) -> list[dict[str, Any]]:
        return self.store.items((RBAC_GROUP, "clusterroles"))

    def cluster_role_bindings(self) -> list[dict[str, Any]]:
        return self.store.items((RBAC_GROUP, "clusterrolebindings"))

    def role(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get((RBAC_GROUP, "roles"), namespace, name)

    def role_bindings(self, namespace: str) -> list[dict[str, Any]]:
        return self.store.items((RBAC_GROUP, "rolebindings"), namespace)


@dataclass(frozen=True)
class Checked:
    """The outcome of a request that passed the gate."""

    user: UserInfo
    attributes: Attributes
    decision: Decision

    def log_fields(self) -> dict[str, Any]:
        """What the request log records of it (the least-privilege test reads these)."""
        a = self.attributes
        return {
            "user": a.user,
            "verb": a.verb,
            "api_group": a.api_group,
            "resource": a.resource,
            "subresource": a.subresource,
            "namespace": a.namespace,
            "name": a.name,
            "resource_request": a.resource_request,
            "allowed": self.decision.allowed,
        }


def bearer_token(headers: Any) -> str:
    header = str(headers.get("Authorization", ""))
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


class AuthGate:
    """One sandbox's authenticator, token issuer and RBAC authorizer."""

    def __init__(
        self, *, store: Store, now: Callable[[], datetime], static_tokens: dict[str, UserInfo], require_token: bool
    ) -> None:
        self.store = store
        self.now = now
        self.issuer = TokenIssuer()
        self.authenticator = Authenticator(store=store, issuer=self.issuer, static=static_tokens, now=now)
        self.policy = StorePolicy(store)
        self.require_token = require_token
        self.default_user: UserInfo = dict(next(iter(static_tokens.values()), {"username": "system:admin"}))
        self.grant_log: deque[dict[str, Any]] = deque(maxlen=10000)
        """Every right an escalation check looked for (the request log's fields): rights held to be granted."""

    def authorize(self, attrs: Attributes) -> Decision:
        return authorize(self.policy, attrs)

    def check_grant(self, rt: ResourceType, obj: dict[str, Any], user: UserInfo) -> None:
        """RBAC escalation prevention for a Role, ClusterRole or binding about to be written (``escalation``)."""
        if self.require_token and rt.group == RBAC_GROUP:

            def covers(attrs: Attributes) -> Decision:
                decision = self.authorize(attrs)
                self.grant_log.append({**Checked(user, attrs, decision).log_fields(), "path": attrs.path})
                return decision

            check_grant(self.policy, self.authorize, user, rt.kind, obj, covers)

    def rules_for(self, user: str, groups: tuple[str, ...], namespace: str) -> list[dict[str, Any]]:
        return rules_for(self.policy, user, groups, namespace)

    def check(
        self,
        *,
        method: str,
        path: str,
        query: Any,
        headers: Any,
        parsed: ParsedPath | None,
        control: bool,
        record: dict[str, Any] | None = None,
    ) -> Checked:
        """Who the request is and whether it may proceed; raises the 401/403 Status otherwise.

        ``record`` (a request-log entry) gets ``Checked.log_fields`` - denials included - before any raise.
        """
        if not self.require_token or path in PUBLIC_PATHS:
            user = dict(self.default_user)
        else:
            found = self.authenticator.authenticate(bearer_token(headers))
            if found is None:
                raise errors.unauthorized()
            user = impersonated(found, headers, self.authorize) or found
        attrs = request_attributes(user=user, method=method, path=path, query=query, parsed=parsed)
        if control:
            checked = Checked(user, attrs, Decision(MASTERS in attrs.groups, ""))
            if record is not None:
                record.update(checked.log_fields())
            if not checked.decision.allowed:
                raise errors.forbidden(forbidden_message(attrs))
            return checked
        decision = self.authorize(attrs) if self.require_token else Decision(True, "")
        if record is not None:
            record.update(Checked(user, attrs, decision).log_fields())
        if not decision.allowed:
            raise errors.forbidden(forbidden_message(attrs, decision.reason), forbidden_details(attrs))
        return Checked(user, attrs, decision)
