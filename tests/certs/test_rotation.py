"""Rotation decisions with a fake clock: when the leaf is re-issued, and the CA rollover's three steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certs import generate as g
from certs.rotation import (
    CA_CERT,
    CA_KEY,
    TLS_CERT,
    TLS_KEY,
    Action,
    CertState,
    Policy,
    apply,
    decide,
    parse_state,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
NAMES = tuple(g.serving_names(service="svc", namespace="ns"))
POLICY = Policy(
    names=NAMES,
    algorithm="ecdsa-p256",
    ca_validity=timedelta(days=300),
    leaf_validity=timedelta(days=30),
    grace=timedelta(minutes=5),
)


def _state(data: dict[str, bytes]) -> CertState:
    state = parse_state(data)
    assert state is not None
    return state


def _step(data: dict[str, bytes] | None, now: datetime, *, injected: bool = True) -> tuple[Action, dict[str, bytes]]:
    state = parse_state(data) if data is not None else None
    decision = decide(state, now=now, policy=POLICY, bundle_injected=injected)
    if decision.action is Action.NONE:
        assert data is not None
        return decision.action, data
    return decision.action, apply(decision, data or {}, now=now, policy=POLICY)


def _fresh(now: datetime = T0) -> dict[str, bytes]:
    action, data = _step(None, now)
    assert action is Action.CREATE
    return data


def test_create_then_steady() -> None:
    data = _fresh()
    state = _state(data)
    assert len(state.bundle) == 1
    assert state.leaf is not None
    assert g.signed_by(state.leaf.cert, state.signer.cert)
    assert g.matches_names(state.leaf.cert, list(NAMES))
    assert _step(data, T0 + timedelta(days=1))[0] is Action.NONE


def test_leaf_reissued_at_two_thirds_of_its_life() -> None:
    data = _fresh()
    leaf = _state(data).leaf
    assert leaf is not None
    start, end = leaf.cert.not_valid_before_utc, leaf.cert.not_valid_after_utc
    due = start + (end - start) * 2 / 3
    assert _step(data, due - timedelta(seconds=1))[0] is Action.NONE
    action, after = _step(data, due)
    assert action is Action.ISSUE_LEAF
    new_state = _state(after)
    assert new_state.leaf is not None and new_state.leaf.cert.serial_number != leaf.cert.serial_number
    assert new_state.bundle_pem == _state(data).bundle_pem  # same CA
    assert new_state.leaf.cert.not_valid_before_utc == due - g.BACKDATE


@pytest.mark.parametrize(
    "damage",
    ["no-leaf", "garbage-leaf", "foreign-key", "foreign-ca", "wrong-names"],
)
def test_broken_leaf_is_replaced_at_once(damage: str) -> None:
    data = dict(_fresh())
    other = g.generate_ca(now=T0, validity=timedelta(days=10), algorithm="ecdsa-p256")
    if damage == "no-leaf":
        del data[TLS_CERT], data[TLS_KEY]
    elif damage == "garbage-leaf":
        data[TLS_CERT] = b"garbage"
    elif damage == "foreign-key":
        data[TLS_KEY] = other.key_pem
    elif damage == "foreign-ca":
        leaf = g.generate_serving(
            ca=other, names=list(NAMES), now=T0, validity=timedelta(days=5), algorithm="ecdsa-p256"
        )
        data[TLS_CERT], data[TLS_KEY] = leaf.cert_pem, leaf.key_pem
    else:
        leaf = g.generate_serving(
            ca=_state(data).signer, names=["other"], now=T0, validity=timedelta(days=5), algorithm="ecdsa-p256"
        )
        data[TLS_CERT], data[TLS_KEY] = leaf.cert_pem, leaf.key_pem
    action, after = _step(data, T0 + timedelta(hours=1))
    assert action is Action.ISSUE_LEAF
    fixed = _state(after)
    assert fixed.signer.cert == _state(data).signer.cert
    assert fixed.leaf is not None and g.signed_by(fixed.leaf.cert, fixed.signer.cert)
    assert _step(after, T0 + timedelta(hours=1))[0] is Action.NONE


def test_key_algorithm_change_reissues_the_leaf() -> None:
    data = _fresh()
    rsa_policy = Policy(**{**POLICY.__dict__, "algorithm": "rsa-2048"})
    state = _state(data)
    decision = decide(state, now=T0, policy=rsa_policy, bundle_injected=True)
    assert decision.action is Action.ISSUE_LEAF
    new = _state(apply(decision, data, now=T0, policy=rsa_policy))
    assert new.leaf is not None and g.key_algorithm_of(new.leaf.cert) == "rsa-2048"


@pytest.mark.parametrize("damage", ["garbage-ca-key", "ca-key-matches-no-ca", "empty"])
def test_unusable_ca_means_create(damage: str) -> None:
    data = dict(_fresh())
    if damage == "garbage-ca-key":
        data[CA_KEY] = b"junk"
    elif damage == "ca-key-matches-no-ca":
        data[CA_KEY] = g.generate_ca(now=T0, validity=timedelta(days=1), algorithm="ecdsa-p256").key_pem
    else:
        data = {}
    assert parse_state(data) is None
    action, after = _step(data, T0)
    assert action is Action.CREATE
    new = _state(after)
    old_ca = g.parse_certs(_fresh()[CA_CERT])[0]
    assert new.signer.cert != old_ca
    if damage != "empty":
        # The still-valid old CA stays trusted while replicas move to the new leaf, then is dropped.
        assert len(new.bundle) == 2
        assert _step(after, T0 + POLICY.grace - timedelta(seconds=1))[0] is Action.NONE
        action, dropped = _step(after, T0 + POLICY.grace)
        assert action is Action.DROP_OLD_CAS
        assert _state(dropped).bundle == (new.signer.cert,)


def test_expired_ca_is_replaced_without_overlap() -> None:
    data = _fresh()
    late = T0 + POLICY.ca_validity + timedelta(days=1)
    action, after = _step(data, late)
    assert action is Action.CREATE
    assert len(_state(after).bundle) == 1


def test_ca_rollover_stages_issues_then_drops() -> None:
    data = _fresh()
    ca1 = _state(data).signer.cert
    life = ca1.not_valid_after_utc - ca1.not_valid_before_utc
    ca_due = ca1.not_valid_before_utc + life * 2 / 3
    # Keep the leaf fresh up to the CA's due date so only the CA triggers.
    now = ca_due - timedelta(days=1)
    action, data = _step(data, now)
    assert action is Action.ISSUE_LEAF
    assert _step(data, ca_due - timedelta(seconds=1))[0] is Action.NONE

    # 1. stage: the new CA joins the bundle and signs nothing yet.
    action, staged = _step(data, ca_due)
    assert action is Action.STAGE_CA
    state = _state(staged)
    ca2 = state.signer.cert
    assert [g.fingerprint(c) for c in state.bundle] == [g.fingerprint(ca1), g.fingerprint(ca2)]
    assert state.leaf is not None and state.leaf.cert_pem == _state(data).leaf.cert_pem  # type: ignore[union-attr]

    # 2. issue: only after the grace period AND once the bundle has been injected.
    assert _step(staged, ca_due + POLICY.grace - timedelta(seconds=1))[0] is Action.NONE
    assert _step(staged, ca_due + POLICY.grace, injected=False)[0] is Action.NONE
    issue_at = ca_due + POLICY.grace
    action, issued = _step(staged, issue_at)
    assert action is Action.ISSUE_LEAF
    state = _state(issued)
    assert state.leaf is not None and g.signed_by(state.leaf.cert, ca2)
    assert len(state.bundle) == 2  # old CA still trusted: some replicas still serve its leaf

    # 3. drop: once the new leaf had a grace period to reach every replica.
    assert _step(issued, issue_at + POLICY.grace - timedelta(seconds=1))[0] is Action.NONE
    action, dropped = _step(issued, issue_at + POLICY.grace)
    assert action is Action.DROP_OLD_CAS
    assert _state(dropped).bundle == (ca2,)
    assert _step(dropped, issue_at + POLICY.grace)[0] is Action.NONE


@pytest.mark.parametrize("fraction", [0.001, 0.5, 0.999])
def test_a_sub_second_grace_never_lets_issue_and_drop_run_back_to_back(fraction: float) -> None:
    """X.509 keeps whole seconds. A certificate made at 12:00:00.9 must not look 0.9 s old at once: with a
    0.3 s grace that let one check issue the new leaf and drop the old CA before any replica served it."""
    policy = Policy(names=NAMES, algorithm="ecdsa-p256", ca_validity=timedelta(days=300),
                    leaf_validity=timedelta(days=30), grace=timedelta(seconds=0.3))  # fmt: skip
    data = _fresh()
    ca1 = _state(data).signer.cert
    life = ca1.not_valid_after_utc - ca1.not_valid_before_utc
    ca_due = ca1.not_valid_before_utc + life * 2 / 3 + timedelta(seconds=fraction)

    def step(data: dict[str, bytes], now: datetime) -> tuple[Action, dict[str, bytes]]:
        decision = decide(parse_state(data), now=now, policy=policy, bundle_injected=True)
        if decision.action is Action.NONE:
            return decision.action, data
        return decision.action, apply(decision, data, now=now, policy=policy)

    action, data = step(data, ca_due - timedelta(days=1))  # a fresh leaf, so only the CA is due
    assert action is Action.ISSUE_LEAF
    action, staged = step(data, ca_due)
    assert action is Action.STAGE_CA
    assert g.issued_at(_state(staged).signer.cert) >= ca_due
    assert step(staged, ca_due + timedelta(seconds=0.2))[0] is Action.NONE  # the grace is real time, not less
    issue_at = ca_due + timedelta(seconds=1.5)
    action, issued = step(staged, issue_at)
    assert action is Action.ISSUE_LEAF
    # The same check decides again right after writing: the new leaf has existed for no time at all.
    assert step(issued, issue_at)[0] is Action.NONE
    assert step(issued, issue_at + timedelta(seconds=0.29))[0] is Action.NONE
    assert step(issued, issue_at + timedelta(seconds=1.31))[0] is Action.DROP_OLD_CAS
