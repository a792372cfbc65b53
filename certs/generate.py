"""Pure X.509 generation and inspection for the webhook's CA and serving certificate.

Why: the operator must serve its admission webhooks over TLS on a bare cluster, so it issues its own
CA and serving certificate. Everything here is a pure function of its arguments (time is passed in as
``now``; only key generation and serial numbers draw randomness), so rotation decisions are tested
with a fake clock and no I/O.

Decisions:
- ECDSA P-256 by default (a CA plus a leaf in milliseconds), RSA-2048 as an option for old clients.
  Private keys are PEM PKCS#8, certificates PEM.
- Random 159-bit serials; ``notBefore`` is backdated by ``BACKDATE`` (1 h) to tolerate clock skew
  between replicas and the API server. X.509 times have whole seconds, so the issue time is first
  rounded *up*: ``issued_at`` is then never earlier than the real issue time and an age measured from
  it never overstates how long a certificate has existed. (Rounded down, a certificate looked up to a
  second old the moment it was made, and a sub-second rollover grace let one check issue a leaf and
  drop the old CA back to back, before any replica served the new leaf.)
- Each CA gets a distinct subject (``ray-operator-webhook-ca@<unix seconds>-<serial bits>``) so that during a CA
  rollover the bundle's two CAs never share a subject and chain building cannot pick the wrong one.
- The serving certificate never outlives its CA: its ``notAfter`` is clamped to the CA's.
- Extensions follow what Go's crypto/x509 (kube-apiserver's webhook client) and OpenSSL's strict
  mode want: SANs only (no CN fallback), serverAuth EKU, SKI on both, AKI on the leaf and the CA.
- Rotation is due at ``ROTATE_FRACTION`` (two thirds) of a certificate's life, measured from its
  real (backdated) ``notBefore``; decided against cert-controller's fixed 90-day look-ahead, which
  makes short lifetimes (used in tests and by cautious users) rotate constantly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.config import KeyAlgorithm

BACKDATE = timedelta(hours=1)
"""How far ``notBefore`` is set in the past, for clock skew."""


def not_before_for(now: datetime) -> datetime:
    """``notBefore`` of a certificate made at ``now``: ``now`` rounded up to a whole second, minus ``BACKDATE``."""
    whole = now.replace(microsecond=0)
    return (whole if whole == now else whole + timedelta(seconds=1)) - BACKDATE


ROTATE_FRACTION = 2 / 3
"""Share of a certificate's lifetime after which it is replaced."""

CA_NAME_PREFIX = "ray-operator-webhook-ca"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def key(self) -> PrivateKey:
        return parse_key(self.key_pem)


def serving_names(*, service: str, namespace: str) -> list[str]:
    """The DNS names the API server may use to reach the webhook Service, most specific last."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def new_private_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"cert_key_algorithm: unknown key algorithm {algorithm!r}; use 'ecdsa-p256' or 'rsa-2048'")


def key_algorithm_of(cert: x509.Certificate) -> KeyAlgorithm | None:
    """Which of our algorithms a certificate's key uses, ``None`` for anything else."""
    public = cert.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1):
        return "ecdsa-p256"
    if isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048:
        return "rsa-2048"
    return None


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def generate_ca(*, now: datetime, validity: timedelta, algorithm: KeyAlgorithm) -> Issued:
    """A self-signed CA that can sign serving certificates (and nothing below them)."""
    key = new_private_key(algorithm)
    serial = x509.random_serial_number()
    common_name = f"{CA_NAME_PREFIX}@{int(now.timestamp())}-{serial % 16**8:08x}"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before_for(now))
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


def generate_serving(
    *, ca: Issued, names: list[str], now: datetime, validity: timedelta, algorithm: KeyAlgorithm
) -> Issued:
    """A serverAuth certificate for ``names`` signed by ``ca``; ``notAfter`` never beyond the CA's."""
    if not names:
        raise ValueError("serving certificate needs at least one DNS name")
    ca_cert, ca_key = ca.cert, ca.key
    key = new_private_key(algorithm)
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    try:
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    except x509.ExtensionNotFound:  # a CA someone else made without SKI: derive the id from its key
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before_for(now))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert_pem=_cert_pem(cert), key_pem=_key_pem(key))


# --- parsing ---------------------------------------------------------------------------------


def parse_certs(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in order. Raises ``ValueError`` if there is none or one is malformed."""
    certs = x509.load_pem_x509_certificates(pem)
    if not certs:
        raise ValueError("no certificate in PEM data")
    return certs


def parse_key(pem: bytes) -> PrivateKey:
    """A PEM private key (PKCS#8, PKCS#1 or SEC1). Raises ``ValueError`` for anything we cannot serve with."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}; use ECDSA or RSA")
    return key


def bundle_pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(_cert_pem(c) for c in certs)


# --- inspection ------------------------------------------------------------------------------


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER encoding, hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _public_der(public: object) -> bytes:
    assert isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches_cert(key: PrivateKey, cert: x509.Certificate) -> bool:
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return False
    return _public_der(key.public_key()) == _public_der(public)


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DNSName)


def matches_names(cert: x509.Certificate, names: list[str]) -> bool:
    """Whether every name is among the certificate's DNS SANs (exact, case-insensitive)."""
    have = {n.lower() for n in dns_names(cert)}
    return all(n.lower() in have for n in names)


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether ``ca`` issued ``cert``: issuer name matches and the signature verifies with the CA's key."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now < cert.not_valid_after_utc


def rotation_due(cert: x509.Certificate, now: datetime, *, fraction: float = ROTATE_FRACTION) -> bool:
    """True once ``fraction`` of the lifetime has passed, or when ``now`` lies outside the validity window."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not valid_at(cert, now):
        return True
    return now >= start + (end - start) * fraction


def issued_at(cert: x509.Certificate) -> datetime:
    """When a certificate of ours was made, rounded up to the second: its ``notBefore`` plus the backdating."""
    return cert.not_valid_before_utc + BACKDATE
