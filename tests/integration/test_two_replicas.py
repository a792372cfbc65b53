"""Two complete webhook-mode operators started at the same moment against one emulator.

What a two-replica Deployment does on a fresh cluster: both race to create the certificate Secret.
They must end with one Secret holding one CA, that CA injected into every webhook entry, and both
*running servers* (not just their certificate sources) serving a certificate that verifies against
the injected caBundle for the Service DNS name, as kube-apiserver checks it; admissions must pass
through either one.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from kubernetes_asyncio import client

from certs import generate as g
from certs import handshake_ok, make_certificate_source
from ray_operator.devstack import admission_round_trip, operator_settings
from ray_operator.kube.client import kube_api_client
from tests.integration.conftest import OperatorStack, StackFactory


async def served_leaf(port: int, *, ca_pem: bytes, server_name: str) -> x509.Certificate:
    """The certificate a verified (strict X.509) handshake with 127.0.0.1:port sees; raises if it does not verify."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    async with asyncio.timeout(10):
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=server_name)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der)
    finally:
        writer.close()


async def test_two_servers_started_together_share_one_secret_and_one_trusted_ca(start_operator: StackFactory) -> None:
    # Both serve webhooks; only one leads the controller, so neither start waits for leadership.
    stacks: list[OperatorStack] = list(
        await asyncio.gather(start_operator(leading=False), start_operator(leading=False))
    )
    settings = stacks[0].settings
    ports = [s.state.webhook_port for s in stacks]
    assert None not in ports and ports[0] != ports[1]

    async with kube_api_client(settings) as api:
        secrets = await client.CoreV1Api(api).list_namespaced_secret(settings.namespace)
        assert [s.metadata.name for s in secrets.items] == [settings.cert_secret_name]
        data = {k: base64.b64decode(v) for k, v in secrets.items[0].data.items()}
        cas = g.parse_certs(data["ca.crt"])
        assert len(cas) == 1, "both replicas must converge on one CA"
        leaf = g.parse_certs(data["tls.crt"])[0]

        admission: Any = client.AdmissionregistrationV1Api(api)
        validating = await admission.read_validating_webhook_configuration(settings.validating_webhook_name)
        mutating = await admission.read_mutating_webhook_configuration(settings.mutating_webhook_name)
        bundles = {base64.b64decode(w.client_config.ca_bundle) for w in [*validating.webhooks, *mutating.webhooks]}
        assert bundles == {data["ca.crt"]}

        for name in g.serving_names(service=settings.webhook_service_name, namespace=settings.namespace):
            for port in ports:
                assert port is not None
                served = await served_leaf(port, ca_pem=data["ca.crt"], server_name=name)
                assert served.serial_number == leaf.serial_number

        # Each server alone behind the Service answers the API server's admissions.
        for stack in stacks:
            assert stack.state.webhook_port is not None
            stack.sandbox.register_service_endpoint(
                settings.namespace, settings.webhook_service_name, 443, "127.0.0.1", stack.state.webhook_port
            )
            before = len(stack.sandbox.admission_log)
            await admission_round_trip(api, deadline_seconds=10)
            calls = stack.sandbox.admission_log[before:]
            assert calls and all(c["allowed"] and c["error"] is None for c in calls)


async def test_a_ca_rollover_across_two_running_servers_never_serves_an_untrusted_certificate(
    start_operator: StackFactory, kubeconfig_path: Path
) -> None:
    """Both replicas roll over to a new CA while fresh handshakes to each, verified against the caBundle
    of the moment, run without pause: the old CA may leave the bundle only once both serve the new leaf."""
    offset = [timedelta(days=-310)]  # a 450-day CA issued 310 days ago is due at once when the clock moves

    def clock() -> datetime:
        return datetime.now(UTC) + offset[0]

    settings = dataclasses.replace(
        operator_settings(kubeconfig=kubeconfig_path),
        cert_check_interval_seconds=0.2,
        cert_rollover_grace_seconds=1.0,  # five checks: margin for a loaded machine delaying one replica's check
        ca_validity_days=450,
    )

    def start() -> Any:
        return start_operator(
            settings=settings,
            leading=False,  # one of the two leads the controller; these tests are about the webhooks
            certificate_source_factory=lambda **kw: make_certificate_source(clock=clock, **kw),
            handshake_ok=handshake_ok,
        )

    stacks: list[OperatorStack] = list(await asyncio.gather(start(), start()))
    ports = [s.state.webhook_port for s in stacks if s.state.webhook_port is not None]
    assert len(ports) == 2
    server_name = f"{settings.webhook_service_name}.{settings.namespace}.svc"
    async with kube_api_client(settings) as api:
        admission: Any = client.AdmissionregistrationV1Api(api)

        async def bundle() -> bytes:
            config = await admission.read_validating_webhook_configuration(settings.validating_webhook_name)
            return base64.b64decode(config.webhooks[0].client_config.ca_bundle)

        first = await bundle()
        issuers = {port: (await served_leaf(port, ca_pem=first, server_name=server_name)).issuer for port in ports}
        assert len(set(issuers.values())) == 1
        old_issuer = next(iter(issuers.values()))
        failures: list[str] = []
        handshakes = [0]
        stop = asyncio.Event()

        async def handshake_loop(port: int) -> None:
            while not stop.is_set():
                try:
                    issuers[port] = (await served_leaf(port, ca_pem=await bundle(), server_name=server_name)).issuer
                    handshakes[0] += 1
                except (ssl.SSLError, OSError) as exc:
                    failures.append(f"port {port}: {exc}")
                    stop.set()

        loops = [asyncio.create_task(handshake_loop(port)) for port in ports]
        offset[0] = timedelta(0)
        try:
            async with asyncio.timeout(30):
                while not failures:
                    current = await bundle()
                    rolled = all(issuer != old_issuer for issuer in issuers.values())
                    if rolled and current.count(b"-----BEGIN CERTIFICATE-----") == 1:
                        break
                    await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.gather(*loops)
    assert failures == []
    assert handshakes[0] > 10
