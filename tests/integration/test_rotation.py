"""Certificate rotation under continuous admission traffic: not one failed handshake or admission.

The certificate source gets a clock that starts 300 days in the past, so the first serving
certificate (365 days) is issued already two thirds through its life yet valid in real time; moving
the clock to the present makes the next check rotate it. Meanwhile the API server (the emulator)
keeps sending dry-run creates through both webhooks and a second client keeps opening fresh TLS
connections verified against the caBundle of the webhook configuration, exactly as kube-apiserver does.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certs import handshake_ok, make_certificate_source
from ray_operator.devstack import operator_settings, probe_raycluster
from ray_operator.kube.client import kube_api_client
from tests.integration.conftest import StackFactory


async def served_chain(port: int, server_name: str, ca_pem: bytes) -> tuple[int, str]:
    """Serial and issuer of the certificate the webhook serves now."""
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=server_name)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der)
        return cert.serial_number, cert.issuer.rfc4514_string()
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("start_days_ago", "ca_validity_days", "ca_rotates"),
    [
        pytest.param(300, 3650, False, id="serving-certificate"),
        # A 450-day CA issued 310 days ago is due too: new CA into the caBundle, then a leaf from it.
        pytest.param(310, 450, True, id="ca-rollover"),
    ],
)
async def test_rotation_under_traffic_fails_nothing(
    start_operator: StackFactory, kubeconfig_path: Path, start_days_ago: int, ca_validity_days: int, ca_rotates: bool
) -> None:
    offset = [timedelta(days=-start_days_ago)]

    def clock() -> datetime:
        return datetime.now(UTC) + offset[0]

    settings = dataclasses.replace(
        operator_settings(kubeconfig=kubeconfig_path),
        cert_check_interval_seconds=0.2,
        # Sub-second on purpose: X.509 times have whole seconds, and a grace measured from a rounded-down
        # notBefore once let one check issue the new leaf and drop the old CA back to back.
        cert_rollover_grace_seconds=0.3,
        ca_validity_days=ca_validity_days,
    )
    stack = await start_operator(
        settings=settings,
        certificate_source_factory=lambda **kw: make_certificate_source(clock=clock, **kw),
        handshake_ok=handshake_ok,
    )
    server_name = f"{settings.webhook_service_name}.{settings.namespace}.svc"
    port = stack.state.webhook_port
    assert port is not None

    async with kube_api_client(settings) as api_client:
        from kubernetes_asyncio import client

        admission = client.AdmissionregistrationV1Api(api_client)
        custom = client.CustomObjectsApi(api_client)

        async def ca_bundle() -> bytes:
            config = await admission.read_validating_webhook_configuration(settings.validating_webhook_name)
            return base64.b64decode(config.webhooks[0].client_config.ca_bundle)

        first = await served_chain(port, server_name, await ca_bundle())
        failures: list[str] = []
        counts = {"admissions": 0, "handshakes": 0}
        stop = asyncio.Event()

        async def admit_loop(worker: int) -> None:
            while not stop.is_set():
                body: dict[str, Any] = probe_raycluster(f"rotation-{worker}")
                try:
                    await custom.create_namespaced_custom_object(
                        "ray.io", "v1", "default", "rayclusters", body, dry_run="All", _request_timeout=10
                    )
                    counts["admissions"] += 1
                except Exception as exc:
                    failures.append(f"admission: {exc}")
                    stop.set()  # one failure decides the test; do not pile up thousands

        async def handshake_loop() -> None:
            while not stop.is_set():
                if await handshake_ok("127.0.0.1", port, server_name, await ca_bundle()):
                    counts["handshakes"] += 1
                else:
                    failures.append("handshake failed")
                    stop.set()

        tasks = [asyncio.create_task(admit_loop(i)) for i in range(3)] + [asyncio.create_task(handshake_loop())]
        await asyncio.sleep(0.5)
        offset[0] = timedelta(0)  # now the serving certificate is due for rotation
        rotated = first

        bundle_size = 0

        def done() -> bool:
            # A CA rollover is over once the old CA has left the bundle again (its last, riskiest step).
            return rotated[0] != first[0] and (not ca_rotates or (rotated[1] != first[1] and bundle_size == 1))

        async with asyncio.timeout(30):
            while not done() and not failures:
                await asyncio.sleep(0.1)
                bundle = await ca_bundle()
                bundle_size = bundle.count(b"-----BEGIN CERTIFICATE-----")
                rotated = await served_chain(port, server_name, bundle)
        await asyncio.sleep(1.0)  # keep the traffic going on the new certificate
        stop.set()
        await asyncio.gather(*tasks)

    assert failures == []
    assert rotated[0] != first[0]
    assert (rotated[1] != first[1]) == ca_rotates  # issued by a new CA only in the CA rollover
    assert counts["admissions"] > 10 and counts["handshakes"] > 10
    admissions = [c for c in stack.sandbox.admission_log if c["name"].startswith("rotation-")]
    assert admissions and all(c["error"] is None and c["allowed"] for c in admissions)
