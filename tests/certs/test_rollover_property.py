"""The rollover protocol's safety claim, checked over random replica schedules with the real sync loop.

Claim: as long as every replica checks at least once per check interval and ``grace`` is at least two
intervals, no replica ever serves a certificate that the injected caBundle does not trust — across leaf
rotations and CA rollovers alike.

Each replica is a real ``SelfSignedSource`` running ``sync_once`` against one in-memory API server (the
Secret and both webhook configurations, with kube-apiserver's conflict semantics) on a shared fake
clock; what a replica serves is read back from its live ``SSLContext`` by a TLS handshake in memory,
and what the API server trusts is the caBundle of every webhook entry. Nothing of the loop is copied
here, so a change to ``sync_once`` that breaks the claim fails this test.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import generate as g
from certs.selfsigned import SelfSignedSource
from tests.certs.configs import cert_config
from tests.certs.fakeapi import FakeApi, RecordingLogger

T0 = datetime(2031, 6, 1, tzinfo=UTC)
TICK = timedelta(days=1) / 60
"""The schedule's unit: the serving certificate lives 60 ticks (1 day), the CA 180 (3 days)."""
INTERVAL_TICKS = 5
CONFIG = cert_config(
    namespace="ns",
    service_name="svc",
    secret_name="certs",
    validating_webhook_name="vwc",
    mutating_webhook_name="mwc",
    ca_validity_days=3,
    serving_cert_validity_days=1,
    check_interval_seconds=(INTERVAL_TICKS * TICK).total_seconds(),
    rollover_grace_seconds=(2 * INTERVAL_TICKS * TICK).total_seconds(),
)

schedules = st.lists(
    st.tuples(
        st.booleans(),  # may this replica write the webhook configurations?
        st.lists(st.integers(min_value=2, max_value=INTERVAL_TICKS), min_size=80, max_size=80),
    ),
    min_size=2,
    max_size=3,
).filter(lambda replicas: any(writer for writer, _ in replicas))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _unverified_client() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only reads what is served; trust is checked against the fake clock below
    return context


CLIENT = _unverified_client()


def served_leaf(context: ssl.SSLContext) -> x509.Certificate | None:
    """The certificate ``context`` presents, from a TLS handshake through memory buffers (no socket, no clock)."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_out, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = CLIENT.wrap_bio(to_client, client_out)
    server = context.wrap_bio(to_server, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    return None  # nothing to serve yet
        to_server.write(client_out.read())
        to_client.write(server_out.read())
        if all(done.values()):
            der = client.getpeercert(binary_form=True)
            return x509.load_der_x509_certificate(der) if der else None
    raise AssertionError("the in-memory handshake did not finish")


def trusted_bundles(api: FakeApi) -> list[list[x509.Certificate]] | None:
    """The CAs each webhook entry's caBundle trusts; ``None`` until every entry has one."""
    raw = [bundle for kind, name in (("validating", "vwc"), ("mutating", "mwc")) for bundle in api.bundles(kind, name)]
    if any(bundle is None for bundle in raw):
        return None
    return [g.parse_certs(base64.b64decode(bundle or "")) for bundle in raw]


async def _run(replicas: list[tuple[bool, list[int]]]) -> None:
    api = FakeApi()
    api.add_config("validating", "vwc", ["vraycluster.kb.io"])
    api.add_config("mutating", "mwc", ["mraycluster.kb.io"])
    clock = Clock()
    sources = [
        SelfSignedSource(config=CONFIG, secrets=api, webhooks=api, inject=writer, logger=RecordingLogger(), clock=clock)
        for writer, _ in replicas
    ]
    alive_until = min(sum(steps) for _, steps in replicas)  # past that, some replica has stopped checking
    events = sorted(
        (tick, r) for r, (_, steps) in enumerate(replicas) for tick in accumulate(steps) if tick <= alive_until
    )
    serving: list[x509.Certificate | None] = [None] * len(replicas)
    cas_seen: set[str] = set()
    signatures: dict[tuple[bytes, bytes], bool] = {}

    def signed_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:  # pure, and the test's hot spot
        key = (leaf.fingerprint(SHA256()), ca.fingerprint(SHA256()))
        if key not in signatures:
            signatures[key] = g.signed_by(leaf, ca)
        return signatures[key]

    for tick, replica in events:
        clock.now = now = T0 + tick * TICK
        await sources[replica].sync_once()
        assert sources[replica].ready, f"tick {tick}: replica {replica} has no certificate after a check"
        serving[replica] = served_leaf(sources[replica].ssl_context)
        bundles = trusted_bundles(api)
        if bundles is None:  # before the first injection nothing is trusted at all
            continue
        cas_seen.update(g.fingerprint(ca) for trusted in bundles for ca in trusted)
        for leaf in serving:
            if leaf is None:
                continue
            assert g.valid_at(leaf, now), f"tick {tick}: a replica serves an expired certificate"
            for trusted in bundles:
                assert any(signed_by(leaf, ca) and g.valid_at(ca, now) for ca in trusted), (
                    f"tick {tick}: a replica serves a certificate the injected caBundle does not trust"
                )
    assert len(cas_seen) >= 2, "the schedule should span at least one CA rollover (two CAs injected)"


@settings(max_examples=25, deadline=None)
@given(schedules)
def test_no_replica_ever_serves_a_certificate_the_bundle_does_not_trust(replicas: list[tuple[bool, list[int]]]) -> None:
    asyncio.run(_run(replicas))
