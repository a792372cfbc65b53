"""Bearer token to user: the sandbox's static tokens first, then ServiceAccount tokens.

A static token (the admin token of the kubeconfig the sandbox writes) maps to a fixed user info. A
ServiceAccount token must verify (``tokens``), carry one of the API server's audiences, and name a
ServiceAccount that still exists with the uid it was issued for - and, for a token bound to a Pod or a
Secret, that object too: deleting either revokes the token, as upstream. The user is
``system:serviceaccount:<ns>:<name>`` in ``system:serviceaccounts``, ``system:serviceaccounts:<ns>``
and ``system:authenticated``, with the ``authentication.kubernetes.io/*`` extras kube-apiserver adds.
Decided against: legacy Secret-based ServiceAccount tokens (``kubernetes.io/service-account-token``
Secrets); nothing here creates them and upstream stopped auto-creating them in 1.24.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ray_operator.sandbox.auth.tokens import API_AUDIENCES, TokenClaims, TokenIssuer, service_account_groups
from ray_operator.sandbox.auth.tokens import service_account_username as sa_username
from ray_operator.sandbox.storage.store import Store

UserInfo = dict[str, Any]
"""``{"username", "uid", "groups", "extra"}`` as in ``authentication.k8s.io/v1 UserInfo``."""

_BOUND_GR = {"pod": ("", "pods"), "secret": ("", "secrets")}


class Authenticator:
    """Static tokens plus the ServiceAccount tokens of ``issuer``, checked against ``store``."""

    def __init__(
        self, *, store: Store, issuer: TokenIssuer, static: dict[str, UserInfo], now: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.static = static
        self.now = now

    def authenticate(self, token: str, *, audiences: tuple[str, ...] = API_AUDIENCES) -> UserInfo | None:
        """The user ``token`` belongs to, or None when it is unknown, expired, revoked or for another audience."""
        if not token:
            return None
        user = self.static.get(token)
        if user is not None:
            return dict(user)
        claims = self.issuer.verify(token, now=self.now())
        if claims is None or not set(claims.audiences) & set(audiences):
            return None
        if not self._still_valid(claims):
            return None
        return self.user_of(claims)

    def audiences_of(self, token: str, wanted: tuple[str, ...]) -> list[str]:
        """The audiences of ``wanted`` a (valid) token carries: TokenReview's ``status.audiences``."""
        claims = self.issuer.verify(token, now=self.now())
        return [a for a in wanted if claims is not None and a in claims.audiences]

    def _still_valid(self, claims: TokenClaims) -> bool:
        sa = self.store.get(("", "serviceaccounts"), claims.namespace, claims.name)
        if sa is None or (sa.get("metadata") or {}).get("uid") != claims.uid:
            return False
        if not claims.bound_kind:
            return True
        bound = self.store.get(_BOUND_GR[claims.bound_kind], claims.namespace, claims.bound_name)
        meta = (bound or {}).get("metadata") or {}
        return bound is not None and meta.get("uid") == claims.bound_uid and not meta.get("deletionTimestamp")

    @staticmethod
    def user_of(claims: TokenClaims) -> UserInfo:
        extra: dict[str, list[str]] = {"authentication.kubernetes.io/credential-id": [f"JTI={claims.jti}"]}
        if claims.bound_kind == "pod":
            extra["authentication.kubernetes.io/pod-name"] = [claims.bound_name]
            extra["authentication.kubernetes.io/pod-uid"] = [claims.bound_uid]
        if claims.node_name:
            extra["authentication.kubernetes.io/node-name"] = [claims.node_name]
            extra["authentication.kubernetes.io/node-uid"] = [claims.node_uid]
        return {
            "username": sa_username(claims.namespace, claims.name),
            "uid": claims.uid,
            "groups": [*service_account_groups(claims.namespace), "system:authenticated"],
            "extra": extra,
        }
