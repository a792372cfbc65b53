"""Pure rotation decisions for the self-signed source: given the Secret's contents and ``now``, what to write next.

Why: every replica runs the same loop against one Secret; the only safe way to let them all act is to
make each step a deterministic function of the Secret plus the clock, applied with optimistic
concurrency (the store). Whoever writes first wins, the others re-read and re-decide.

The Secret's four keys carry the whole state — no annotations, nothing in memory:

- ``ca.crt``  every CA the webhook clients must trust (the caBundle), oldest first;
- ``ca.key``  the key of the *signing* CA, i.e. the bundle CA it matches (always the newest);
- ``tls.crt`` / ``tls.key`` the serving certificate all replicas load.

CA rollover, without a moment where a replica serves a certificate the API server does not trust:

1. **stage** — the signing CA reaches two thirds of its life: a new CA is made, appended to ``ca.crt``
   and its key becomes ``ca.key``. ``tls.crt`` stays the old CA's leaf. Every replica injects the
   two-CA bundle into the webhook configurations on its next check.
2. **issue** — once the new CA is ``grace`` old (its ``notBefore`` + backdate tells when it was staged)
   *and* the deciding replica has seen the bundle injected, a leaf is issued from the new CA. Replicas
   re-read the Secret every check interval, so during the next ``grace`` some still serve the old leaf
   and some the new one — both verify against the two-CA bundle.
3. **drop** — once the new leaf is ``grace`` old, the old CAs leave ``ca.crt``; by then every replica
   that can reach the API server has re-read the Secret and serves the new leaf.

``grace`` is at least twice the check interval, so "every replica re-read the Secret" holds for every
replica that is up and reaching the API server. Ages are measured from ``generate.issued_at``, which
rounds the issue time *up* to X.509's whole seconds, so no step comes earlier than ``grace`` in real
time, however short the grace (one check never issues a leaf and drops the old CA back to back).
A replica that cannot reach the API server cannot refresh anything,
and its certificate stays valid until it expires anyway.

Decided against: cert-controller's outright CA replacement (the bundle and the served leaf disagree for
the kubelet's 30-100 s), storing rollover phases in annotations (a second source of truth that can
disagree with the certificates), and rolling the CA when only the key algorithm setting changed (the
next natural rollover picks it up; the leaf follows the setting at once).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from certs import generate as g
from certs.config import KeyAlgorithm

CA_CERT, CA_KEY, TLS_CERT, TLS_KEY = "ca.crt", "ca.key", "tls.crt", "tls.key"
KEYS = (CA_CERT, CA_KEY, TLS_CERT, TLS_KEY)


@dataclass(frozen=True)
class CertState:
    """The parsed Secret. ``leaf`` is ``None`` when tls.crt/tls.key are missing, malformed or mismatched."""

    bundle: tuple[x509.Certificate, ...]
    signer: g.Issued
    leaf: g.Issued | None

    @property
    def bundle_pem(self) -> bytes:
        return g.bundle_pem(list(self.bundle))


def parse_state(data: Mapping[str, bytes]) -> CertState | None:
    """``None`` when there is no usable signing CA (absent, malformed, or ca.key matching no CA in ca.crt)."""
    try:
        bundle = tuple(c for c in g.parse_certs(data.get(CA_CERT, b"")) if g.is_ca(c))
        ca_key = g.parse_key(data.get(CA_KEY, b""))
    except (ValueError, TypeError):
        return None
    signers = [c for c in bundle if g.key_matches_cert(ca_key, c)]
    if not signers:
        return None
    signer = g.Issued(cert_pem=g.bundle_pem([signers[-1]]), key_pem=data[CA_KEY])
    leaf: g.Issued | None = None
    try:
        leaf_cert = g.parse_certs(data.get(TLS_CERT, b""))[0]
        if g.key_matches_cert(g.parse_key(data.get(TLS_KEY, b"")), leaf_cert):
            leaf = g.Issued(cert_pem=g.bundle_pem([leaf_cert]), key_pem=data[TLS_KEY])
    except (ValueError, TypeError):
        leaf = None
    return CertState(bundle=bundle, signer=signer, leaf=leaf)


class Action(enum.Enum):
    NONE = "none"
    CREATE = "create"
    """New CA and new leaf; still-valid CAs stay in the bundle so replicas serving old leaves stay trusted."""
    STAGE_CA = "stage-ca"
    ISSUE_LEAF = "issue-leaf"
    DROP_OLD_CAS = "drop-old-cas"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


@dataclass(frozen=True)
class Policy:
    names: tuple[str, ...]
    algorithm: KeyAlgorithm
    ca_validity: timedelta
    leaf_validity: timedelta
    grace: timedelta


def _leaf_problem(state: CertState, policy: Policy, now: datetime) -> str | None:
    """Why the leaf cannot be served at all (then it is replaced at once), or ``None``."""
    leaf = state.leaf
    if leaf is None:
        return "serving certificate missing, malformed or not matching its key"
    cert = leaf.cert
    if not g.valid_at(cert, now):
        return "serving certificate not valid now"
    if not g.matches_names(cert, list(policy.names)):
        return "serving certificate does not cover the webhook service names"
    if not any(g.signed_by(cert, ca) and g.valid_at(ca, now) for ca in state.bundle):
        return "serving certificate not signed by a valid CA of the bundle"
    return None


def decide(state: CertState | None, *, now: datetime, policy: Policy, bundle_injected: bool) -> Decision:
    """The next step for the Secret. Pure; ``bundle_injected`` says this replica saw ``ca.crt`` in every
    existing webhook configuration."""
    if state is None:
        return Decision(Action.CREATE, "no usable CA in the Secret")
    signer = state.signer.cert
    if not g.valid_at(signer, now):
        return Decision(Action.CREATE, "signing CA not valid now")
    problem = _leaf_problem(state, policy, now)
    if problem is not None:
        return Decision(Action.ISSUE_LEAF, problem)
    assert state.leaf is not None
    leaf = state.leaf.cert
    if not g.signed_by(leaf, signer):
        staged_for = now - g.issued_at(signer)
        if staged_for < policy.grace:
            return Decision(Action.NONE, f"CA rollover: new CA in the bundle for {staged_for}, waiting {policy.grace}")
        if not bundle_injected:
            return Decision(Action.NONE, "CA rollover: waiting until the two-CA bundle is injected")
        return Decision(Action.ISSUE_LEAF, "CA rollover: issuing the serving certificate from the new CA")
    others = [ca for ca in state.bundle if g.fingerprint(ca) != g.fingerprint(signer)]
    if g.rotation_due(leaf, now):
        return Decision(Action.ISSUE_LEAF, "serving certificate past two thirds of its life")
    if g.key_algorithm_of(leaf) != policy.algorithm:
        return Decision(Action.ISSUE_LEAF, f"serving certificate key is not {policy.algorithm}")
    if others:
        if any(not g.valid_at(ca, now) for ca in others):
            return Decision(Action.DROP_OLD_CAS, "expired CA in the bundle")
        if now - g.issued_at(leaf) >= policy.grace:
            return Decision(Action.DROP_OLD_CAS, "CA rollover: every replica had time to load the new certificate")
        return Decision(Action.NONE, "CA rollover: old CA kept while replicas pick up the new certificate")
    if g.rotation_due(signer, now):
        return Decision(Action.STAGE_CA, "CA past two thirds of its life")
    return Decision(Action.NONE, "certificates are current")


def secret_data(*, bundle: list[x509.Certificate], signer: g.Issued, leaf: g.Issued) -> dict[str, bytes]:
    return {CA_CERT: g.bundle_pem(bundle), CA_KEY: signer.key_pem, TLS_CERT: leaf.cert_pem, TLS_KEY: leaf.key_pem}


def _valid_cas(pem: bytes, now: datetime) -> list[x509.Certificate]:
    try:
        return [c for c in g.parse_certs(pem) if g.is_ca(c) and g.valid_at(c, now)]
    except ValueError:
        return []


def apply(decision: Decision, data: Mapping[str, bytes], *, now: datetime, policy: Policy) -> dict[str, bytes]:
    """The Secret data (replacing ``data``) that carries out ``decision``, generating keys where needed."""
    action = decision.action
    state = parse_state(data)

    def new_leaf(signer: g.Issued) -> g.Issued:
        return g.generate_serving(
            ca=signer, names=list(policy.names), now=now, validity=policy.leaf_validity, algorithm=policy.algorithm
        )

    if action is Action.CREATE or state is None:
        ca = g.generate_ca(now=now, validity=policy.ca_validity, algorithm=policy.algorithm)
        kept = _valid_cas(data.get(CA_CERT, b""), now)
        return secret_data(bundle=[*kept, ca.cert], signer=ca, leaf=new_leaf(ca))
    if action is Action.NONE:
        raise ValueError("nothing to apply")
    bundle = list(state.bundle)
    if action is Action.ISSUE_LEAF:
        return secret_data(bundle=bundle, signer=state.signer, leaf=new_leaf(state.signer))
    assert state.leaf is not None, "decide() only stages or drops with a servable leaf"
    if action is Action.STAGE_CA:
        ca = g.generate_ca(now=now, validity=policy.ca_validity, algorithm=policy.algorithm)
        return secret_data(bundle=[*bundle, ca.cert], signer=ca, leaf=state.leaf)
    return secret_data(bundle=[state.signer.cert], signer=state.signer, leaf=state.leaf)
