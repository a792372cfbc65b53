"""Secure ``/metrics``: HTTPS, a bearer token checked with TokenReview, ``get /metrics`` with SubjectAccessReview.

What controller-runtime's ``WithAuthenticationAndAuthorization`` filter does, in process, so the 2020
operator's kube-rbac-proxy sidecar (its ``auth_proxy_*`` roles) is not needed: a scraper sends its
ServiceAccount token, the API server says who that is (``authentication.k8s.io/v1 TokenReview``) and
whether they may ``get`` the non-resource URL ``/metrics`` (``authorization.k8s.io/v1
SubjectAccessReview``) - which the ``metrics-reader`` ClusterRole grants. No or a bad token is 401, a
user without the permission 403, an API failure 500; answers are cached for
``metrics_auth_cache_seconds`` per token, so a scrape every 30 s costs the API server nothing between
expiries. The operator itself needs ``create`` on ``tokenreviews`` and ``subjectaccessreviews``
(``config/rbac/metrics_auth_role.yaml``). The serving certificate is self-signed and made at start, as
controller-runtime does without a certificate directory; scrapers skip its verification.

``--metrics-secure=false`` (``RAY_OPERATOR_METRICS_SECURE=false``) serves plain HTTP with no checks.
Decided against: trusting any valid token (any pod's token would read the metrics) and a
per-request API round trip (a burst of scrapes would become a burst of reviews).
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from ray_operator.kube.client import ApiError, request_json

log = structlog.get_logger("ray_operator.metrics_auth")

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class Verdict:
    """The answer to one token: an HTTP status (200 = serve) and the text of a refusal."""

    status: int
    message: str = ""
    user: str = ""


class MetricsAuthorizer:
    """TokenReview then SubjectAccessReview for ``verb path``, cached per token for ``cache_seconds``."""

    def __init__(
        self,
        *,
        api_client: Any,
        cache_seconds: float,
        timeout_seconds: float,
        path: str = "/metrics",
        verb: str = "get",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_client = api_client
        self.cache_seconds = cache_seconds
        self.timeout_seconds = timeout_seconds
        self.path = path
        self.verb = verb
        self.clock = clock
        self._cache: dict[str, tuple[float, Verdict]] = {}
        self.reviews = 0
        """API round trips made (two per uncached token that authenticates)."""

    async def verdict(self, token: str) -> Verdict:
        if not token:
            return Verdict(401, "Unauthorized")
        key = hashlib.sha256(token.encode()).hexdigest()  # never keep the tokens themselves
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        verdict = await self._review(token)
        if verdict.status != 500:  # an API failure is not remembered: the next scrape asks again
            if len(self._cache) > 1000:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[key] = (now + self.cache_seconds, verdict)
        return verdict

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        return await request_json(self.api_client, "POST", path, body=body, timeout=self.timeout_seconds)

    async def _review(self, token: str) -> Verdict:
        self.reviews += 1
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        try:
            review = (
                await request_json(self.api_client, "POST", TOKEN_REVIEWS, body=body, timeout=self.timeout_seconds)
            ).body
        except (ApiError, OSError, TimeoutError) as exc:
            log.warning("metrics_token_review_failed", error=str(exc))
            return Verdict(401, "Unauthorized")  # as controller-runtime: an authentication error is a 401
        status = review.get("status") or {}
        if not status.get("authenticated"):
            return Verdict(401, "Unauthorized")
        user = status.get("user") or {}
        name = str(user.get("username", ""))
        self.reviews += 1
        spec: dict[str, Any] = {
            "user": name,
            "groups": user.get("groups") or [],
            "nonResourceAttributes": {"path": self.path, "verb": self.verb},
        }
        if user.get("uid"):
            spec["uid"] = user["uid"]
        if user.get("extra"):
            spec["extra"] = user["extra"]
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        try:
            access = (
                await request_json(self.api_client, "POST", ACCESS_REVIEWS, body=body, timeout=self.timeout_seconds)
            ).body
        except (ApiError, OSError, TimeoutError) as exc:
            log.warning("metrics_access_review_failed", user=name, error=str(exc))
            return Verdict(500, f"Authorization error (user={name}, verb={self.verb}, path={self.path})", name)
        if not (access.get("status") or {}).get("allowed"):
            return Verdict(403, f"Authorization denied for user {name}", name)
        return Verdict(200, "", name)


def auth_middleware(authorizer: MetricsAuthorizer) -> Any:
    """An aiohttp middleware that serves a request only when ``authorizer`` allows its bearer token."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        verdict = await authorizer.verdict(token)
        if verdict.status != 200:
            return web.Response(status=verdict.status, text=verdict.message + "\n")
        return await handler(request)

    return middleware


def self_signed_context(*, names: list[str]) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for ``names`` (ECDSA P-256, one year)."""
    from certs.generate import generate_ca, generate_serving
    from certs.tlsctx import load_into, new_server_context

    now = datetime.now(UTC)
    ca = generate_ca(now=now, validity=timedelta(days=365), algorithm="ecdsa-p256")
    serving = generate_serving(ca=ca, names=names, now=now, validity=timedelta(days=365), algorithm="ecdsa-p256")
    context = new_server_context()
    load_into(context, cert_pem=serving.cert_pem + ca.cert_pem, key_pem=serving.key_pem)
    return context


def secure(app: web.Application, *, api_client: Any, cache_seconds: float, timeout_seconds: float) -> ssl.SSLContext:
    """Guard ``app`` (before it starts) and return the TLS context to serve it with."""
    app.middlewares.append(
        auth_middleware(
            MetricsAuthorizer(api_client=api_client, cache_seconds=cache_seconds, timeout_seconds=timeout_seconds)
        )
    )
    return self_signed_context(names=["localhost", "ray-operator-metrics-service"])
