"""What the certificate sources need to know, as one small frozen value this package owns.

Why: ``certs`` is a library of its own (issuance, rotation, caBundle injection, files mode) and must
not import the operator. The runtime maps its ``Settings`` onto a ``CertConfig`` in one function
(``ray_operator.runtime.certificate_config``); tests build one by keyword. The names here are the
certificate domain's (``check_interval_seconds``), not the operator's flags (``--cert-check-interval-seconds``).

The values are trusted: the operator range-checks every setting when it parses flags and env vars
(``ray_operator.settings``), which is where a user gets an error naming the flag. Checking again here
would be a second implementation of the same rule with worse messages.

Decided against: passing ``Settings`` (it couples this package to every operator flag and to the
flag/env naming), a Protocol over settings (it hides which fields are read), and defaults here (every
default lives in ``ray_operator.settings``, documented once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KeyAlgorithm = Literal["ecdsa-p256", "rsa-2048"]
SourceKind = Literal["self-signed", "files"]


@dataclass(frozen=True, kw_only=True)
class CertConfig:
    source: SourceKind
    """``self-signed``: a CA and serving certificate kept in a Secret; ``files``: tls.crt/tls.key in ``cert_dir``."""

    namespace: str
    """Namespace of the webhook Service and of the certificate Secret."""

    service_name: str
    """The webhook Service; the serving certificate covers its DNS names."""

    secret_name: str
    """The Secret holding ca.crt, ca.key, tls.crt and tls.key (``self-signed``)."""

    validating_webhook_name: str
    """ValidatingWebhookConfiguration whose caBundle is kept equal to the Secret's ca.crt (empty: none)."""

    mutating_webhook_name: str
    """MutatingWebhookConfiguration whose caBundle is kept equal to the Secret's ca.crt (empty: none)."""

    cert_dir: str
    """Directory read in ``files`` mode."""

    key_algorithm: KeyAlgorithm
    """Key type of the CA and the serving certificate."""

    ca_validity_days: int
    """Lifetime of a new CA."""

    serving_cert_validity_days: int
    """Lifetime of a new serving certificate (never beyond its CA's)."""

    check_interval_seconds: float
    """How often the Secret, the certificates and the caBundles are checked."""

    rollover_grace_seconds: float
    """How long each CA-rollover step waits; raised to twice ``check_interval_seconds`` if lower."""

    file_poll_seconds: float
    """How often ``files`` mode re-reads the files."""

    request_timeout_seconds: float
    """Client timeout of each API call."""
