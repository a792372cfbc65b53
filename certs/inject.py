"""caBundle injection into the operator's Validating- and MutatingWebhookConfiguration.

Why: the API server only calls a webhook whose certificate verifies against ``clientConfig.caBundle``.
Manifests ship the configurations with an empty caBundle, and ``kubectl apply``/Helm may reset it, so
the certificate manager writes it at start and re-checks it every interval.

Decisions:
- A JSON patch touching only ``/webhooks/<i>/clientConfig/caBundle`` of the entries that differ, each
  guarded by a ``test`` of that entry's ``name``: if the list was reordered or edited since the read,
  the patch fails as a whole and the next check re-reads. Decided against a full replace (a client
  model round-trip drops fields it does not know) and against a resourceVersion guard (replicas
  writing the *same* bundle would only conflict with each other for nothing).
- A missing configuration (404) is logged and retried on the next check, never fatal: the operator may
  start before its manifests are applied, or run with one kind of webhook only.
- Every entry of a configuration gets the bundle, as cert-controller does.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Awaitable
from typing import Any, Literal, Protocol

from kubernetes_asyncio.client.exceptions import ApiException

Kind = Literal["validating", "mutating"]


class WebhookConfigsApi(Protocol):
    """The part of ``kubernetes_asyncio.client.AdmissionregistrationV1Api`` injection uses."""

    def read_validating_webhook_configuration(self, name: str, **kwargs: Any) -> Awaitable[Any]: ...

    def patch_validating_webhook_configuration(self, name: str, body: Any, **kwargs: Any) -> Awaitable[Any]: ...

    def read_mutating_webhook_configuration(self, name: str, **kwargs: Any) -> Awaitable[Any]: ...

    def patch_mutating_webhook_configuration(self, name: str, body: Any, **kwargs: Any) -> Awaitable[Any]: ...


class Outcome(enum.Enum):
    UP_TO_DATE = "up-to-date"
    PATCHED = "patched"
    MISSING = "missing"
    FAILED = "failed"
    STALE = "stale"
    """Read-only check: the configuration lacks the bundle and this replica may not write it."""


def bundle_patch(webhooks: list[Any] | None, bundle: bytes) -> list[dict[str, Any]]:
    """JSON-patch operations that set ``bundle`` on every entry lacking it; empty when all have it."""
    wanted = base64.b64encode(bundle).decode()
    ops: list[dict[str, Any]] = []
    for index, webhook in enumerate(webhooks or []):
        client_config = getattr(webhook, "client_config", None)
        current = getattr(client_config, "ca_bundle", None) if client_config is not None else None
        if current == wanted:
            continue
        ops.append({"op": "test", "path": f"/webhooks/{index}/name", "value": webhook.name})
        if client_config is None:
            ops.append({"op": "add", "path": f"/webhooks/{index}/clientConfig", "value": {"caBundle": wanted}})
        else:
            ops.append({"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": wanted})
    return ops


async def inject_ca_bundle(
    *, api: WebhookConfigsApi, kind: Kind, name: str, bundle: bytes, request_timeout: float, write: bool = True
) -> Outcome:
    """Make every entry of the named configuration carry ``bundle`` (with ``write=False`` only check it).

    Raises only on unexpected client errors."""
    read = (
        api.read_validating_webhook_configuration if kind == "validating" else api.read_mutating_webhook_configuration
    )
    patch = (
        api.patch_validating_webhook_configuration if kind == "validating" else api.patch_mutating_webhook_configuration
    )
    try:
        config = await read(name, _request_timeout=request_timeout)
    except ApiException as exc:
        if exc.status == 404:
            return Outcome.MISSING
        raise
    ops = bundle_patch(config.webhooks, bundle)
    if not ops:
        return Outcome.UP_TO_DATE
    if not write:
        return Outcome.STALE
    try:
        await patch(name, ops, _content_type="application/json-patch+json", _request_timeout=request_timeout)
    except ApiException as exc:
        if exc.status == 404:
            return Outcome.MISSING
        if exc.status in (409, 422):  # 422: a failed ``test`` op, the list changed under us
            return Outcome.FAILED
        raise
    return Outcome.PATCHED
