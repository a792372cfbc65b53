"""Webhook serving certificates: a built-in CA bootstrap stored in a Secret, or files from cert-manager.

The interface is ``make_certificate_source`` / ``CertificateSource`` (``certs.source``) and
``handshake_ok`` (``certs.tlsctx``); the other modules are its parts.
"""

from certs.source import CertificateSource, make_certificate_source
from certs.tlsctx import handshake_ok

__all__ = ["CertificateSource", "handshake_ok", "make_certificate_source"]
