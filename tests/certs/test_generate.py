"""Generation properties the API server relies on: names, key types, validity, backdating, a chain that verifies."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs import generate as g
from certs.config import KeyAlgorithm
from certs.tlsctx import load_into, new_server_context
from tests.certs.tlshelpers import https_server, peer_certificate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMES = g.serving_names(service="webhook-svc", namespace="ray-system")


def _pair(algorithm: KeyAlgorithm = "ecdsa-p256", now: datetime = NOW) -> tuple[g.Issued, g.Issued]:
    ca = g.generate_ca(now=now, validity=timedelta(days=3650), algorithm=algorithm)
    leaf = g.generate_serving(ca=ca, names=NAMES, now=now, validity=timedelta(days=365), algorithm=algorithm)
    return ca, leaf


def test_serving_names_cover_every_service_dns_form() -> None:
    assert NAMES == [
        "webhook-svc",
        "webhook-svc.ray-system",
        "webhook-svc.ray-system.svc",
        "webhook-svc.ray-system.svc.cluster.local",
    ]


@pytest.mark.parametrize(
    ("algorithm", "key_type", "size"),
    [("ecdsa-p256", ec.EllipticCurvePublicKey, 256), ("rsa-2048", rsa.RSAPublicKey, 2048)],
)
def test_key_algorithms(algorithm: KeyAlgorithm, key_type: type, size: int) -> None:
    ca, leaf = _pair(algorithm)
    for issued in (ca, leaf):
        public = issued.cert.public_key()
        assert isinstance(public, key_type)
        assert public.key_size == size  # type: ignore[union-attr]
        assert g.key_algorithm_of(issued.cert) == algorithm
        assert g.key_matches_cert(issued.key, issued.cert)


def test_unknown_algorithm_names_the_setting() -> None:
    with pytest.raises(ValueError, match="cert_key_algorithm"):
        g.new_private_key("dsa-1024")  # type: ignore[arg-type]


def test_ca_extensions_and_validity() -> None:
    ca, _ = _pair()
    cert = ca.cert
    assert g.is_ca(cert)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign
    assert cert.not_valid_before_utc == NOW - timedelta(hours=1)
    assert cert.not_valid_after_utc == NOW + timedelta(days=3650)
    assert cert.subject == cert.issuer
    assert g.signed_by(cert, cert)
    assert g.issued_at(cert) == NOW


def test_leaf_extensions_names_and_validity() -> None:
    ca, leaf = _pair()
    cert = leaf.cert
    assert not g.is_ca(cert)
    assert g.dns_names(cert) == NAMES
    assert g.matches_names(cert, NAMES)
    assert not g.matches_names(cert, [*NAMES, "other.ray-system.svc"])
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.not_valid_before_utc == NOW - timedelta(hours=1)
    assert cert.not_valid_after_utc == NOW + timedelta(days=365)
    assert g.signed_by(cert, ca.cert)
    other_ca, _ = _pair()
    assert not g.signed_by(cert, other_ca.cert)


def test_serials_are_random() -> None:
    serials = {_pair()[1].cert.serial_number for _ in range(5)}
    assert len(serials) == 5
    assert all(s > 2**64 for s in serials)


def test_leaf_never_outlives_its_ca() -> None:
    ca = g.generate_ca(now=NOW, validity=timedelta(days=10), algorithm="ecdsa-p256")
    leaf = g.generate_serving(ca=ca, names=NAMES, now=NOW, validity=timedelta(days=365), algorithm="ecdsa-p256")
    assert leaf.cert.not_valid_after_utc == ca.cert.not_valid_after_utc


def test_successive_cas_have_distinct_subjects() -> None:
    first, _ = _pair(now=NOW)
    second, _ = _pair(now=NOW + timedelta(seconds=1))
    assert first.cert.subject != second.cert.subject


def test_rotation_due_at_two_thirds_of_life() -> None:
    _, leaf = _pair()
    cert = leaf.cert
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    two_thirds = cert.not_valid_before_utc + life * 2 / 3
    assert not g.rotation_due(cert, NOW)
    assert not g.rotation_due(cert, two_thirds - timedelta(seconds=1))
    assert g.rotation_due(cert, two_thirds)
    assert g.rotation_due(cert, cert.not_valid_after_utc + timedelta(days=1))
    assert g.rotation_due(cert, cert.not_valid_before_utc - timedelta(seconds=1))  # clock went backwards


def test_parse_bundle_and_malformed_input() -> None:
    ca1, _ = _pair()
    ca2, _ = _pair()
    bundle = g.bundle_pem([ca1.cert, ca2.cert])
    assert [g.fingerprint(c) for c in g.parse_certs(bundle)] == [g.fingerprint(ca1.cert), g.fingerprint(ca2.cert)]
    for junk in (b"", b"not a pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(ValueError):
            g.parse_certs(junk)
    with pytest.raises(ValueError):
        g.parse_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "rsa-2048"])
async def test_chain_verifies_with_ssl_for_every_name(algorithm: KeyAlgorithm) -> None:
    now = datetime.now(UTC)
    ca, leaf = _pair(algorithm, now=now)
    context = new_server_context()
    load_into(context, cert_pem=leaf.cert_pem, key_pem=leaf.key_pem)
    async with https_server(context) as port:
        for name in NAMES:
            served = await peer_certificate(port, cafile_pem=ca.cert_pem, server_hostname=name)
            assert served.serial_number == leaf.cert.serial_number
        with pytest.raises(ssl.SSLCertVerificationError):
            await peer_certificate(port, cafile_pem=ca.cert_pem, server_hostname="elsewhere.example")
        stranger, _ = _pair(algorithm, now=now)
        with pytest.raises(ssl.SSLCertVerificationError):
            await peer_certificate(port, cafile_pem=stranger.cert_pem, server_hostname=NAMES[-1])


def test_leaf_from_a_foreign_ca_without_subject_key_identifier() -> None:
    """A CA someone else put in the Secret may lack SKI; issuing from it must still work and chain."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone-elses-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca = g.Issued(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    leaf = g.generate_serving(ca=ca, names=NAMES, now=NOW, validity=timedelta(days=5), algorithm="ecdsa-p256")
    assert g.signed_by(leaf.cert, cert)
    aki = leaf.cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
