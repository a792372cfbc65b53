"""The rollover protocol's safety claim, checked over random replica schedules with the pure decision functions.

Claim: as long as every replica checks at least once per check interval and ``grace`` is at least two
intervals, no replica ever serves a certificate that the injected caBundle does not trust — across leaf
rotations and CA rollovers alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import accumulate

from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import generate as g
from certs.rotation import Action, Policy, apply, decide, parse_state

T0 = datetime(2031, 6, 1, tzinfo=UTC)
INTERVAL_MINUTES = 5
POLICY = Policy(
    names=tuple(g.serving_names(service="svc", namespace="ns")),
    algorithm="ecdsa-p256",
    ca_validity=timedelta(hours=3),
    leaf_validity=timedelta(hours=1),
    grace=timedelta(minutes=2 * INTERVAL_MINUTES),
)

schedules = st.lists(
    st.tuples(
        st.booleans(),  # may this replica write the webhook configurations?
        st.lists(st.integers(min_value=2, max_value=INTERVAL_MINUTES), min_size=80, max_size=80),
    ),
    min_size=2,
    max_size=3,
).filter(lambda replicas: any(writer for writer, _ in replicas))


@settings(max_examples=25, deadline=None)
@given(schedules)
def test_no_replica_ever_serves_a_certificate_the_bundle_does_not_trust(replicas: list[tuple[bool, list[int]]]) -> None:
    """Mirrors ``SelfSignedSource.sync_once``: inject (or check) the Secret's bundle, decide and write, inject
    again if the bundle changed, load the leaf. Checked from the first injection on (before it, nothing is
    trusted at all)."""
    alive_until = min(sum(steps) for _, steps in replicas)  # past that, some replica has stopped checking
    events = sorted(
        (minute, r) for r, (_, steps) in enumerate(replicas) for minute in accumulate(steps) if minute <= alive_until
    )
    secret: dict[str, bytes] = {}
    configs: bytes | None = None
    loaded: list[x509.Certificate | None] = [None] * len(replicas)
    injected: list[bytes | None] = [None] * len(replicas)
    cas_seen: set[str] = set()

    def inject(replica: int, bundle: bytes) -> None:
        nonlocal configs
        if replicas[replica][0]:
            configs = bundle
        injected[replica] = bundle if configs == bundle else None

    for minute, replica in events:
        now = T0 + timedelta(minutes=minute)
        before = parse_state(secret)
        if before is not None:
            inject(replica, before.bundle_pem)
        for _ in range(4):
            state = parse_state(secret)
            decision = decide(
                state,
                now=now,
                policy=POLICY,
                bundle_injected=state is not None and injected[replica] == state.bundle_pem,
            )
            if decision.action is Action.NONE:
                break
            secret = apply(decision, secret, now=now, policy=POLICY)
        state = parse_state(secret)
        assert state is not None and state.leaf is not None
        if before is None or before.bundle_pem != state.bundle_pem:
            inject(replica, state.bundle_pem)
        loaded[replica] = state.leaf.cert
        cas_seen.update(g.fingerprint(ca) for ca in state.bundle)
        if configs is None:
            continue
        trusted = g.parse_certs(configs)
        for leaf in loaded:
            if leaf is None:
                continue
            assert g.valid_at(leaf, now), f"minute {minute}: a replica serves an expired certificate"
            assert any(g.signed_by(leaf, ca) and g.valid_at(ca, now) for ca in trusted), (
                f"minute {minute}: a replica serves a certificate the injected caBundle does not trust"
            )
    assert len(cas_seen) >= 2, "the schedule should span at least one CA rollover"
