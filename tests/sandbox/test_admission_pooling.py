"""The sandbox keeps its webhook connections alive across admitted writes and releases them when it stops.

An operator's webhook is called on every write; a new TLS handshake per write would make the sandbox
slower than a real API server and hide keep-alive bugs in the webhook server.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ray_operator.sandbox.admission.transport import SslContexts
from ray_operator.sandbox.server import Sandbox
from tests.sandbox.webhook_fixture import WebhookServer, allow, make_tls

SVC_HOST = "pool-hook.system.svc"


class CountingWebhook(WebhookServer):
    """Records the server-side transport of every call: one transport is one accepted TCP connection."""

    transports: list[asyncio.BaseTransport]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        if not any(t is request.transport for t in self.transports):
            self.transports.append(request.transport)
        return await super()._handle(request)


@pytest.fixture
async def hook_server() -> AsyncIterator[CountingWebhook]:
    server = CountingWebhook(make_tls([SVC_HOST]), handlers={"/validate": allow})
    server.transports = []
    async with server:
        yield server


def validating_config(bundle: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "pool"},
        "webhooks": [
            {
                "name": "pool.example.io",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "rules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}
                ],
                "clientConfig": {
                    "caBundle": bundle,
                    "service": {"namespace": "system", "name": "pool-hook", "path": "/validate"},
                },
            }
        ],
    }


async def test_admitted_writes_share_one_connection_closed_when_the_sandbox_stops(
    hook_server: CountingWebhook, tmp_path: Path
) -> None:
    from kubernetes_asyncio import client, config

    sandbox = Sandbox(tls=True)
    await sandbox.start()
    try:
        sandbox.register_service_endpoint("system", "pool-hook", 443, "127.0.0.1", hook_server.port)
        configuration = client.Configuration()
        await config.load_kube_config(
            config_file=str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")), client_configuration=configuration
        )
        async with client.ApiClient(configuration) as api:
            admission: Any = client.AdmissionregistrationV1Api(api)
            await admission.create_validating_webhook_configuration(validating_config(hook_server.tls.ca_bundle))
            core: Any = client.CoreV1Api(api)
            for i in range(4):
                await core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
        assert len(hook_server.calls("/validate")) == 4
        assert len(hook_server.transports) == 1, "every admitted write reused the kept-alive webhook connection"
        assert not hook_server.transports[0].is_closing()
    finally:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            await sandbox.stop()
            gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)], [str(w.message) for w in caught]
    for _ in range(50):  # bounded: the webhook server notices the client's close within a few loop turns
        if all(t.is_closing() for t in hook_server.transports):
            break
        await asyncio.sleep(0.02)
    assert all(t.is_closing() for t in hook_server.transports), "stopping the sandbox closed its webhook connection"


def test_ssl_contexts_keep_only_the_most_recently_used_ca_bundles() -> None:
    """A caBundle rotated over and over must not grow the cache for the life of the process."""
    contexts = SslContexts(max_size=3)
    bundles = [make_tls([SVC_HOST]).ca_bundle for _ in range(5)]
    first = contexts.for_bundle(bundles[0])
    assert contexts.for_bundle(bundles[0]) is first, "a known caBundle reuses its context (and its connections)"
    oldest = contexts.for_bundle(bundles[1])
    contexts.for_bundle(bundles[2])
    assert contexts.for_bundle(bundles[0]) is first  # used most recently now: bundles[1] is the oldest
    for bundle in bundles[3:]:
        contexts.for_bundle(bundle)
    assert len(contexts) == 3
    assert contexts.for_bundle(bundles[0]) is first, "the recently used bundle survived two rotations"
    assert len(contexts) == 3
    second = contexts.for_bundle(bundles[1])
    assert second is not oldest, "the least recently used bundle was evicted"
    assert len(contexts) == 3, "re-adding an evicted bundle evicts another"
    assert contexts.for_bundle(bundles[1]) is second


def test_ssl_contexts_default_bound_holds_across_many_rotations() -> None:
    contexts = SslContexts()
    ca_bundle = make_tls([SVC_HOST]).ca_bundle
    for _ in range(40):
        contexts.for_bundle(make_tls([SVC_HOST]).ca_bundle)
        contexts.for_bundle(ca_bundle)
    assert len(contexts) == 32
