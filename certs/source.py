"""The one interface the webhook server and runtime use: a ``CertificateSource`` and its factory.

Why: the runtime should not care where certificates come from. It builds the webhook server once
with ``source.ssl_context``, awaits ``ensure_ready()`` before announcing readiness, runs ``run()`` as a
root task, and asks ``handshake_ok`` (``certs.tlsctx``) in ``/readyz``.

Decided against separate entry points per mode and against handing out certificate files: the live
context is the only thing the server needs, and it stays the same object for the process lifetime.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, cast, runtime_checkable

from certs.config import CertConfig
from certs.files import FileSource
from certs.inject import WebhookConfigsApi
from certs.logs import Logger
from certs.secretstore import SecretsApi
from certs.selfsigned import SelfSignedSource


@runtime_checkable
class CertificateSource(Protocol):
    """The one declaration of what a certificate source offers; the runtime and ``/readyz`` use it as it is."""

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Built into the server once; reloaded in place on rotation."""

    async def ensure_ready(self) -> None:
        """Load or create the first certificate; returns once ``ssl_context`` holds one (retries until then)."""

    async def run(self) -> None:
        """Rotation / reload / caBundle-keeping loop; runs until cancelled."""

    @property
    def ready(self) -> bool:
        """Whether ``ssl_context`` holds a certificate."""

    def current_ca_bundle(self) -> bytes | None:
        """PEM of the CAs clients should trust; ``None`` when unknown (cert-manager files without ca.crt), and
        ``/readyz`` then checks the handshake without verification, like controller-runtime's StartedChecker."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_certificate_source(
    *,
    config: CertConfig,
    api_client: Any | None,
    logger: Logger,
    clock: Callable[[], datetime] = utc_now,
    inject_ca_bundle: bool = True,
) -> CertificateSource:
    """The source ``config.source`` names.

    ``api_client`` is a ``kubernetes_asyncio.client.ApiClient`` (required for ``self-signed``, unused for
    ``files``). ``inject_ca_bundle=False`` keeps a replica from writing the webhook configurations; it still
    reads them, so it never moves a CA rollover forward before the new bundle is in place.
    """
    if config.source == "files":
        return FileSource(config=config, logger=logger)
    if config.source != "self-signed":
        raise ValueError(f"cert_source: unknown source {config.source!r}; use 'self-signed' or 'files'")
    if api_client is None:
        raise ValueError("cert_source 'self-signed' needs a Kubernetes API client; pass api_client or use 'files'")
    from kubernetes_asyncio.client import AdmissionregistrationV1Api, CoreV1Api

    return SelfSignedSource(
        config=config,
        # The client's stubs omit ``_content_type`` (accepted at runtime), hence the casts to our Protocols.
        secrets=cast(SecretsApi, CoreV1Api(api_client)),
        webhooks=cast(WebhookConfigsApi, AdmissionregistrationV1Api(api_client)),
        inject=inject_ca_bundle,
        logger=logger,
        clock=clock,
    )
