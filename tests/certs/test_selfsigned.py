"""The self-signed source against an in-memory API: replicas converge on one CA, caBundles are kept, 409s adopt."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from certs import generate as g
from certs.files import FileSource
from certs.rotation import TLS_CERT, parse_state
from certs.secretstore import SECRET_TYPE, decode_data
from certs.selfsigned import SelfSignedSource, policy_from
from certs.source import CertificateSource, make_certificate_source
from tests.certs.configs import cert_config
from tests.certs.fakeapi import FakeApi, RecordingLogger
from tests.certs.tlshelpers import https_server, peer_certificate

CONFIG = cert_config(
    namespace="ray-system",
    service_name="webhook-svc",
    secret_name="certs",
    validating_webhook_name="vwc",
    mutating_webhook_name="mwc",
    check_interval_seconds=0.05,
    rollover_grace_seconds=300,
)
NAMES = g.serving_names(service="webhook-svc", namespace="ray-system")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _source(
    api: FakeApi, *, clock: Callable[[], datetime] | None = None, log: RecordingLogger | None = None
) -> SelfSignedSource:
    return SelfSignedSource(
        config=CONFIG,
        secrets=api,
        webhooks=api,
        logger=log or RecordingLogger(),
        clock=clock or (lambda: datetime.now(UTC)),
    )


def _api_with_configs() -> FakeApi:
    api = FakeApi()
    api.add_config("validating", "vwc", ["vraycluster.kb.io", "second.kb.io"])
    api.add_config("mutating", "mwc", ["mraycluster.kb.io"])
    return api


def _secret_data(api: FakeApi) -> dict[str, bytes]:
    return decode_data(api.secrets[("ray-system", "certs")].data)


async def test_replicas_starting_together_converge_on_one_ca_and_serve_verifiable_certs() -> None:
    api = _api_with_configs()
    logs = RecordingLogger()
    a, b = _source(api, log=logs), _source(api, log=logs)
    await asyncio.gather(a.ensure_ready(), b.ensure_ready())
    assert a.ready and b.ready
    assert [m for m, _ in api.calls].count("create_namespaced_secret") == 2  # both tried ...
    assert len(api.secrets) == 1  # ... one won
    assert "certificate_secret_adopted" in logs.events("info")
    secret = api.secrets[("ray-system", "certs")]
    assert secret.type == SECRET_TYPE
    data = _secret_data(api)
    assert set(data) == {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    assert a.current_ca_bundle() == b.current_ca_bundle() == data["ca.crt"]
    assert len(g.parse_certs(data["ca.crt"])) == 1
    injected = base64.b64encode(data["ca.crt"]).decode()
    assert api.bundles("validating", "vwc") == [injected, injected]
    assert api.bundles("mutating", "mwc") == [injected]
    leaf = g.parse_certs(data[TLS_CERT])[0]
    for source in (a, b):
        async with https_server(source.ssl_context) as port:
            bundle = base64.b64decode(api.bundles("validating", "vwc")[0] or "")
            served = await peer_certificate(port, cafile_pem=bundle, server_hostname=NAMES[2])
            assert served.serial_number == leaf.serial_number
    assert all(kw.get("_request_timeout") == CONFIG.request_timeout_seconds for _, kw in api.calls)


async def test_reset_ca_bundle_is_restored_by_the_running_loop() -> None:
    api = _api_with_configs()
    source = _source(api)
    await source.ensure_ready()
    wanted = api.bundles("validating", "vwc")
    api.configs[("validating", "vwc")]["webhooks"][1]["clientConfig"].pop("caBundle")
    api.configs[("mutating", "mwc")]["webhooks"][0]["clientConfig"]["caBundle"] = "Zm9v"
    task = asyncio.create_task(source.run())
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if api.bundles("validating", "vwc") == wanted and api.bundles("mutating", "mwc") == wanted[:1]:
                break
        assert api.bundles("validating", "vwc") == wanted
        assert api.bundles("mutating", "mwc") == wanted[:1]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_missing_configurations_are_not_fatal_and_get_injected_once_created() -> None:
    api = FakeApi()
    logs = RecordingLogger()
    source = _source(api, log=logs)
    await source.ensure_ready()
    assert source.ready
    await source.sync_once()
    warnings = [e for e in logs.events("warning") if e == "webhook_configuration_missing"]
    assert len(warnings) == 2  # once per configuration, not on every check
    api.add_config("validating", "vwc", ["v"])
    await source.sync_once()
    assert api.bundles("validating", "vwc") == [base64.b64encode(source.current_ca_bundle() or b"").decode()]
    assert [fields["kind"] for _, event, fields in logs.records if event == "webhook_configuration_found"] == [
        "validating"
    ]


async def test_stale_resource_version_conflict_adopts_the_winner() -> None:
    api = _api_with_configs()
    a = _source(api)
    await a.ensure_ready()
    stored = api.secrets[("ray-system", "certs")]
    # Someone broke the serving certificate: replica A will want to re-issue it ...
    stored.data = {**stored.data, "tls.crt": base64.b64encode(b"garbage").decode()}
    stored.metadata.resource_version = "100"
    state = parse_state(decode_data(stored.data))
    assert state is not None
    winner_leaf = g.generate_serving(
        ca=state.signer, names=NAMES, now=datetime.now(UTC), validity=timedelta(days=30), algorithm="ecdsa-p256"
    )

    def other_replica_writes_first() -> None:
        # ... but another replica re-issues it between A's read and A's replace.
        current = api.secrets[("ray-system", "certs")]
        current.data = {
            **current.data,
            "tls.crt": base64.b64encode(winner_leaf.cert_pem).decode(),
            "tls.key": base64.b64encode(winner_leaf.key_pem).decode(),
        }
        current.metadata.resource_version = "101"

    api.before["replace_namespaced_secret"] = other_replica_writes_first
    logs = RecordingLogger()
    a._log = logs  # observe this check only
    await a.sync_once()
    assert _secret_data(api)[TLS_CERT] == winner_leaf.cert_pem  # not overwritten
    assert "certificate_secret_adopted" in logs.events("info")
    async with https_server(a.ssl_context) as port:
        served = await peer_certificate(port, cafile_pem=a.current_ca_bundle(), server_hostname=NAMES[3])
    assert served.serial_number == winner_leaf.cert.serial_number
    # One conflict, then the decision made on the winner's data needs no write.
    assert [m for m, _ in api.calls].count("replace_namespaced_secret") == 1


async def test_deleted_secret_is_recreated_and_api_errors_are_retried() -> None:
    api = _api_with_configs()
    logs = RecordingLogger()
    source = _source(api, log=logs)
    api.fail_next["read_namespaced_secret"] = ApiException(status=500, reason="Internal Server Error")
    await source.ensure_ready()
    assert source.ready
    assert "certificate_setup_failed" in logs.events("warning")
    old_bundle = source.current_ca_bundle()
    api.secrets.clear()
    await source.sync_once()
    assert ("ray-system", "certs") in api.secrets
    assert source.current_ca_bundle() != old_bundle
    assert api.bundles("mutating", "mwc") == [base64.b64encode(source.current_ca_bundle() or b"").decode()]


async def test_ca_rollover_keeps_old_and_new_leaves_verifiable_against_the_bundle() -> None:
    """Real TLS with a fake clock: certificates are made so that they are valid at the real time of the test."""
    config = cert_config(
        namespace="ray-system",
        service_name="webhook-svc",
        secret_name="certs",
        validating_webhook_name="vwc",
        mutating_webhook_name="mwc",
        ca_validity_days=3,
        serving_cert_validity_days=1,
        check_interval_seconds=1,
        rollover_grace_seconds=60,
    )
    real_now = datetime.now(UTC)
    clock = Clock(real_now - timedelta(hours=49))
    api = _api_with_configs()
    source = SelfSignedSource(config=config, secrets=api, webhooks=api, logger=RecordingLogger(), clock=clock)
    await source.ensure_ready()
    ca1 = g.parse_certs(source.current_ca_bundle() or b"")[0]

    def bundle_in_configs() -> bytes:
        values = {*api.bundles("validating", "vwc"), *api.bundles("mutating", "mwc")}
        assert len(values) == 1
        return base64.b64decode(values.pop() or "")

    async with https_server(source.ssl_context) as port:

        async def serial() -> int:
            cert = await peer_certificate(port, cafile_pem=bundle_in_configs(), server_hostname=NAMES[2])
            return cert.serial_number

        # At real time the first leaf has expired and the CA is past two thirds: leaf first, then the CA is staged.
        clock.now = real_now
        await source.sync_once()
        await source.sync_once()
        cas = g.parse_certs(bundle_in_configs())
        assert len(cas) == 2 and cas[0].serial_number == ca1.serial_number
        ca2 = cas[1]
        old_leaf = g.parse_certs(_secret_data(api)[TLS_CERT])[0]
        assert g.signed_by(old_leaf, ca1)
        assert await serial() == old_leaf.serial_number  # old-CA leaf verifies against the two-CA bundle

        clock.now = real_now + timedelta(seconds=30)  # within the grace period: nothing moves
        await source.sync_once()
        assert await serial() == old_leaf.serial_number

        clock.now = real_now + timedelta(seconds=61)
        await source.sync_once()
        new_leaf = g.parse_certs(_secret_data(api)[TLS_CERT])[0]
        assert g.signed_by(new_leaf, ca2)
        assert len(g.parse_certs(bundle_in_configs())) == 2
        assert await serial() == new_leaf.serial_number  # new-CA leaf verifies against the same bundle

        clock.now = real_now + timedelta(seconds=122)
        await source.sync_once()
        assert g.parse_certs(bundle_in_configs()) == [ca2]
        assert await serial() == new_leaf.serial_number
        with pytest.raises(ssl.SSLCertVerificationError):
            await peer_certificate(port, cafile_pem=g.bundle_pem([ca1]), server_hostname=NAMES[2])


def test_factory_picks_the_source() -> None:
    log = RecordingLogger()
    files = make_certificate_source(config=cert_config(source="files"), api_client=None, logger=log)
    assert isinstance(files, FileSource)
    assert isinstance(files, CertificateSource)
    with pytest.raises(ValueError, match="source 'self-signed' needs a Kubernetes API client"):
        make_certificate_source(config=cert_config(), api_client=None, logger=log)


async def test_permission_errors_say_which_rbac_rules_are_missing() -> None:
    api = _api_with_configs()
    logs = RecordingLogger()
    source = _source(api, log=logs)
    forbidden = ApiException(status=403, reason="Forbidden")
    forbidden.body = b'{"kind":"Status","message":"secrets \\"certs\\" is forbidden: User cannot get resource"}'
    api.fail_next["read_namespaced_secret"] = forbidden
    await asyncio.wait_for(source.ensure_ready(), 10)
    errors = [fields["error"] for level, _, fields in logs.records if level == "warning" and "error" in fields]
    assert any(
        '403 Forbidden: secrets "certs" is forbidden' in e
        and "get, create and update on secrets in namespace ray-system" in e
        for e in errors
    )


async def test_a_replica_that_may_not_inject_waits_for_the_bundle_before_issuing_from_a_new_ca() -> None:
    config = cert_config(
        namespace="ray-system",
        service_name="webhook-svc",
        secret_name="certs",
        validating_webhook_name="vwc",
        mutating_webhook_name="mwc",
        ca_validity_days=3,
        serving_cert_validity_days=1,
        check_interval_seconds=1,
        rollover_grace_seconds=60,
    )
    real_now = datetime.now(UTC)
    clock = Clock(real_now - timedelta(hours=49))
    api = _api_with_configs()

    def replica(inject: bool, replica_clock: Callable[[], datetime] = clock) -> SelfSignedSource:
        return SelfSignedSource(
            config=config, secrets=api, webhooks=api, inject=inject, logger=RecordingLogger(), clock=replica_clock
        )

    reader = replica(False)
    await reader.ensure_ready()
    assert api.bundles("validating", "vwc") == [None, None]  # it never writes the configurations

    def leaf_issuer() -> str:
        return g.parse_certs(_secret_data(api)[TLS_CERT])[0].issuer.rfc4514_string()

    clock.now = real_now  # leaf expired, CA past two thirds: leaf re-issued, new CA staged
    await reader.sync_once()
    cas = g.parse_certs(_secret_data(api)["ca.crt"])
    assert len(cas) == 2
    old_issuer = cas[0].subject.rfc4514_string()
    assert leaf_issuer() == old_issuer

    clock.now = real_now + timedelta(seconds=61)  # grace passed, but the two-CA bundle is nowhere yet
    await reader.sync_once()
    await reader.sync_once()
    assert leaf_issuer() == old_issuer
    assert not reader.ca_bundle_injected

    injector = replica(True, lambda: real_now)  # its clock is still inside the grace period: it cannot promote
    await injector.sync_once()  # a replica allowed to write injects the bundle
    bundle = base64.b64encode(_secret_data(api)["ca.crt"]).decode()
    assert api.bundles("mutating", "mwc") == [bundle] and leaf_issuer() == old_issuer
    # Someone re-applies the manifests: the reader, checking before it decides, does not promote.
    api.configs[("mutating", "mwc")]["webhooks"][0]["clientConfig"].pop("caBundle")
    await reader.sync_once()
    assert leaf_issuer() == old_issuer and not reader.ca_bundle_injected
    await injector.sync_once()  # restored
    await reader.sync_once()  # sees the bundle in place, so issues from the new CA
    assert reader.ca_bundle_injected
    assert leaf_issuer() == cas[1].subject.rfc4514_string()


@pytest.mark.parametrize(
    ("grace", "interval", "floored"),
    [(1.0, 60.0, 120.0), (119.0, 60.0, 120.0), (120.0, 60.0, 120.0), (300.0, 60.0, 300.0), (0.3, 0.05, 0.3)],
)
def test_the_rollover_grace_is_never_less_than_two_check_intervals(
    grace: float, interval: float, floored: float
) -> None:
    """The rollover is only safe if every replica re-reads the Secret (once per interval) within the grace."""
    config = cert_config(rollover_grace_seconds=grace, check_interval_seconds=interval)
    assert policy_from(config).grace == timedelta(seconds=floored)
    source = SelfSignedSource(
        config=config, secrets=FakeApi(), webhooks=None, logger=RecordingLogger(), clock=lambda: datetime.now(UTC)
    )
    assert source.policy.grace == timedelta(seconds=floored)
