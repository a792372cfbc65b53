"""Webhook serving certificates: a built-in CA bootstrap stored in a Secret, or files from cert-manager.

The interface is ``CertConfig`` (``certs.config``), ``make_certificate_source`` / ``CertificateSource``
(``certs.source``) and ``handshake_ok`` (``certs.tlsctx``); the other modules are its parts. This
package imports nothing of the operator: the runtime maps its settings onto a ``CertConfig``.

The names are loaded on first use (PEP 562), so that importing ``certs.config`` - which the
operator's settings do at ``ray-operator --help`` time, for the key-algorithm and source choices -
does not pull in the Kubernetes client and ``cryptography``. Decided against a flat package without
re-exports: ``from certs import make_certificate_source`` is the documented entry point.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certs.config import CertConfig
    from certs.source import CertificateSource, make_certificate_source
    from certs.tlsctx import handshake_ok

_EXPORTS = {
    "CertConfig": "certs.config",
    "CertificateSource": "certs.source",
    "make_certificate_source": "certs.source",
    "handshake_ok": "certs.tlsctx",
}

__all__ = ["CertConfig", "CertificateSource", "handshake_ok", "make_certificate_source"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'certs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
