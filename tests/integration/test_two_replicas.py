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
import ssl
from typing import Any

from cryptography import x509
from kubernetes_asyncio import client

from certs import generate as g
from ray_operator.devstack import admission_round_trip
from ray_operator.runtime import kube_api_client
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
    stacks: list[OperatorStack] = list(await asyncio.gather(start_operator(), start_operator()))
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
