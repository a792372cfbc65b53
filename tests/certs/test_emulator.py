"""The self-signed source against the API-server emulator through kubernetes_asyncio, as in a cluster.

Two replicas starting together, caBundle kept against resets, and a stale-resourceVersion write that
gets a real 409 from the emulator and adopts the winner.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes_asyncio import client, config

from certs import generate as g
from certs import make_certificate_source
from certs.inject import WebhookConfigsApi
from certs.rotation import TLS_CERT, parse_state
from certs.secretstore import decode_data
from certs.selfsigned import SelfSignedSource
from tests.certs.configs import cert_config
from tests.certs.fakeapi import RecordingLogger
from tests.certs.tlshelpers import https_server, peer_certificate

CONFIG = cert_config(
    namespace="ray-system",
    service_name="ray-operator-webhook-service",
    check_interval_seconds=0.1,
    rollover_grace_seconds=300,
)
NAMES = g.serving_names(service=CONFIG.service_name, namespace=CONFIG.namespace)


def _webhook(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {"service": {"name": CONFIG.service_name, "namespace": CONFIG.namespace, "path": "/x"}},
        "rules": [
            {"apiGroups": ["ray.io"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["rayclusters"]}
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail",
    }


async def _prepare_cluster(api: Any) -> None:
    core: Any = client.CoreV1Api(api)  # dict bodies: the client's stubs only admit models
    await core.create_namespace({"metadata": {"name": CONFIG.namespace}})
    admission: Any = client.AdmissionregistrationV1Api(api)
    await admission.create_validating_webhook_configuration(
        {
            "metadata": {"name": CONFIG.validating_webhook_name},
            "webhooks": [_webhook("vraycluster.kb.io"), _webhook("vraycluster-2.kb.io")],
        }
    )
    await admission.create_mutating_webhook_configuration(
        {"metadata": {"name": CONFIG.mutating_webhook_name}, "webhooks": [_webhook("mraycluster.kb.io")]}
    )


async def _injected_bundles(api: Any) -> list[str | None]:
    admission: Any = client.AdmissionregistrationV1Api(api)
    validating = await admission.read_validating_webhook_configuration(CONFIG.validating_webhook_name)
    mutating = await admission.read_mutating_webhook_configuration(CONFIG.mutating_webhook_name)
    return [w.client_config.ca_bundle for w in [*validating.webhooks, *mutating.webhooks]]


async def _secret_data(api: Any) -> dict[str, bytes]:
    secret = await client.CoreV1Api(api).read_namespaced_secret(CONFIG.secret_name, CONFIG.namespace)
    assert secret.type == "kubernetes.io/tls"
    return decode_data(secret.data)


@asynccontextmanager
async def _replica_client(kubeconfig_path: Path) -> AsyncIterator[Any]:
    """A separate ApiClient, as a second replica would have."""
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig_path), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        yield api


async def test_two_replicas_started_together_end_with_one_ca_trusted_by_both_configurations(
    api_client: Any, kubeconfig_path: Path
) -> None:
    await _prepare_cluster(api_client)
    logs = RecordingLogger()
    async with _replica_client(kubeconfig_path) as other_client:
        a = make_certificate_source(config=CONFIG, api_client=api_client, logger=logs)
        b = make_certificate_source(config=CONFIG, api_client=other_client, logger=logs)
        await asyncio.wait_for(asyncio.gather(a.ensure_ready(), b.ensure_ready()), 30)
    secrets = await client.CoreV1Api(api_client).list_namespaced_secret(CONFIG.namespace)
    assert [s.metadata.name for s in secrets.items] == [CONFIG.secret_name]
    data = await _secret_data(api_client)
    assert len(g.parse_certs(data["ca.crt"])) == 1
    assert a.current_ca_bundle() == b.current_ca_bundle() == data["ca.crt"]
    bundles = await _injected_bundles(api_client)
    assert bundles == [base64.b64encode(data["ca.crt"]).decode()] * 3
    leaf_serial = g.parse_certs(data[TLS_CERT])[0].serial_number
    for source in (a, b):
        async with https_server(source.ssl_context) as port:
            for bundle in set(bundles):
                served = await peer_certificate(
                    port, cafile_pem=base64.b64decode(bundle or ""), server_hostname=NAMES[2]
                )
                assert served.serial_number == leaf_serial


async def test_reset_ca_bundle_is_restored_on_the_next_check(api_client: Any) -> None:
    await _prepare_cluster(api_client)
    source = make_certificate_source(config=CONFIG, api_client=api_client, logger=RecordingLogger())
    await asyncio.wait_for(source.ensure_ready(), 30)
    wanted = await _injected_bundles(api_client)
    assert wanted[0]
    admission: Any = client.AdmissionregistrationV1Api(api_client)  # the stubs lack _content_type
    # What a re-applied manifest does: the caBundle is gone again.
    await admission.patch_validating_webhook_configuration(
        CONFIG.validating_webhook_name,
        [{"op": "remove", "path": "/webhooks/1/clientConfig/caBundle"}],
        _content_type="application/json-patch+json",
    )
    await admission.patch_mutating_webhook_configuration(
        CONFIG.mutating_webhook_name,
        [{"op": "replace", "path": "/webhooks/0/clientConfig/caBundle", "value": "Zm9v"}],
        _content_type="application/json-patch+json",
    )
    assert await _injected_bundles(api_client) != wanted
    task = asyncio.create_task(source.run())
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if await _injected_bundles(api_client) == wanted:
                break
        assert await _injected_bundles(api_client) == wanted
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


class _BeforeReplace:
    """CoreV1Api with a one-shot hook run just before ``replace_namespaced_secret`` goes out."""

    def __init__(self, core: Any, hook: Callable[[], Awaitable[None]]) -> None:
        self._core = core
        self._hook: Callable[[], Awaitable[None]] | None = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core, name)

    async def replace_namespaced_secret(self, name: str, namespace: str, body: Any, **kwargs: Any) -> Any:
        if self._hook is not None:
            hook, self._hook = self._hook, None
            await hook()
        return await self._core.replace_namespaced_secret(name, namespace, body, **kwargs)


async def test_stale_resource_version_gets_409_and_the_winner_is_adopted(api_client: Any) -> None:
    await _prepare_cluster(api_client)
    core = client.CoreV1Api(api_client)
    first = make_certificate_source(config=CONFIG, api_client=api_client, logger=RecordingLogger())
    await asyncio.wait_for(first.ensure_ready(), 30)
    data = await _secret_data(api_client)
    state = parse_state(data)
    assert state is not None
    winner_leaf = g.generate_serving(
        ca=state.signer, names=NAMES, now=datetime.now(UTC), validity=timedelta(days=30), algorithm="ecdsa-p256"
    )

    async def another_replica_writes() -> None:
        current = await core.read_namespaced_secret(CONFIG.secret_name, CONFIG.namespace)
        current.data = {
            **current.data,
            "tls.crt": base64.b64encode(winner_leaf.cert_pem).decode(),
            "tls.key": base64.b64encode(winner_leaf.key_pem).decode(),
        }
        await core.replace_namespaced_secret(CONFIG.secret_name, CONFIG.namespace, current)

    # Someone broke tls.crt, so the next check re-issues it; another replica writes first.
    broken = await core.read_namespaced_secret(CONFIG.secret_name, CONFIG.namespace)
    broken.data = {**broken.data, "tls.crt": base64.b64encode(b"garbage").decode()}
    await core.replace_namespaced_secret(CONFIG.secret_name, CONFIG.namespace, broken)
    logs = RecordingLogger()
    late = SelfSignedSource(
        config=CONFIG,
        secrets=_BeforeReplace(core, another_replica_writes),
        webhooks=cast(WebhookConfigsApi, client.AdmissionregistrationV1Api(api_client)),
        logger=logs,
        clock=lambda: datetime.now(UTC),
    )
    await late.sync_once()
    assert "certificate_secret_adopted" in logs.events("info")
    assert "certificate_secret_written" not in logs.events("info")
    assert (await _secret_data(api_client))[TLS_CERT] == winner_leaf.cert_pem  # not overwritten
    async with https_server(late.ssl_context) as port:
        served = await peer_certificate(port, cafile_pem=late.current_ca_bundle(), server_hostname=NAMES[3])
    assert served.serial_number == winner_leaf.cert.serial_number


async def test_rotation_written_by_one_replica_reaches_the_other_without_restart(
    api_client: Any, kubeconfig_path: Path
) -> None:
    await _prepare_cluster(api_client)
    later = datetime.now(UTC)

    def clock() -> datetime:
        return later

    async with _replica_client(kubeconfig_path) as other_client:
        a = make_certificate_source(config=CONFIG, api_client=api_client, logger=RecordingLogger(), clock=clock)
        b = make_certificate_source(config=CONFIG, api_client=other_client, logger=RecordingLogger(), clock=clock)
        assert isinstance(a, SelfSignedSource) and isinstance(b, SelfSignedSource)
        await asyncio.wait_for(asyncio.gather(a.ensure_ready(), b.ensure_ready()), 30)
        before = g.parse_certs((await _secret_data(api_client))[TLS_CERT])[0]
        async with https_server(b.ssl_context) as port:
            later = datetime.now(UTC) + timedelta(days=250)  # past two thirds of the 365-day leaf
            await a.sync_once()  # replaces the Secret (resourceVersion precondition) with a new leaf
            rotated = g.parse_certs((await _secret_data(api_client))[TLS_CERT])[0]
            assert rotated.serial_number != before.serial_number
            await b.sync_once()  # the other replica picks it up into its live context
            # Issued at the fake clock's time, so only the serial is compared (no verification).
            served = await peer_certificate(port, cafile_pem=None, server_hostname=NAMES[2])
            assert served.serial_number == rotated.serial_number
            assert a.current_ca_bundle() == b.current_ca_bundle()
