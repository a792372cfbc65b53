"""The live server ``ssl.SSLContext`` and the TLS self-dial used by ``/readyz``.

Why: the webhook server is built once with one ``SSLContext``; a rotated or reloaded certificate must
reach new handshakes without restarting the listener. Calling ``load_cert_chain`` again on the same
context does exactly that (connections already open keep their old session).

Decisions:
- ``load_cert_chain`` only reads files, so the PEMs are written to a file in a fresh private
  directory (0700, file 0600), loaded and deleted at once. Decided against an ``sni_callback`` that
  swaps contexts: it only fires when the client sends SNI, and IP-addressed clients do not.
- The key is checked against the certificate *before* loading: OpenSSL installs the certificate
  first, so a mismatched pair would leave the context half-replaced.
- TLS 1.2 is the minimum, as kube-apiserver's webhook client expects; HTTP/2 is not offered.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import tempfile

from certs.generate import key_matches_cert, parse_certs, parse_key


def new_server_context() -> ssl.SSLContext:
    """A server-side context with no certificate yet."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


def check_pair(*, cert_pem: bytes, key_pem: bytes) -> None:
    """Raise ``ValueError`` naming the problem unless ``cert_pem`` starts with a certificate matching ``key_pem``."""
    try:
        certs = parse_certs(cert_pem)
    except ValueError as exc:
        raise ValueError(f"tls.crt: not a PEM certificate ({exc})") from exc
    try:
        key = parse_key(key_pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"tls.key: not a usable PEM private key ({exc})") from exc
    if not key_matches_cert(key, certs[0]):
        raise ValueError("tls.key does not match the first certificate in tls.crt")


def load_into(context: ssl.SSLContext, *, cert_pem: bytes, key_pem: bytes) -> None:
    """Install a certificate chain and key on a live context; later handshakes use them.

    Raises ``ValueError`` (and leaves the context untouched) when the pair is malformed or mismatched.
    """
    check_pair(cert_pem=cert_pem, key_pem=key_pem)
    with tempfile.TemporaryDirectory(prefix="ray-operator-tls-") as directory:
        path = os.path.join(directory, "tls.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
        try:
            context.load_cert_chain(certfile=path)
        except ssl.SSLError as exc:
            raise ValueError(f"TLS library refused the certificate: {exc}") from exc


def client_context(cafile_pem: bytes | str | None) -> ssl.SSLContext:
    """A client context trusting exactly ``cafile_pem``; with ``None`` it checks nothing (a liveness dial)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cafile_pem is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cadata=cafile_pem.decode() if isinstance(cafile_pem, bytes) else cafile_pem)
    return context


async def handshake_ok(
    host: str, port: int, server_hostname: str | None, cafile_pem: bytes | str | None, *, within_seconds: float = 5.0
) -> bool:
    """Whether a TLS handshake with ``host:port`` completes within ``within_seconds``.

    With ``cafile_pem`` the served chain must verify against it for ``server_hostname``; with ``None``
    only the handshake itself counts (controller-runtime's StartedChecker does the same).
    """
    try:
        context = client_context(cafile_pem)
    except (ssl.SSLError, ValueError):
        return False
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(within_seconds):
            _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=server_hostname)
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    finally:
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (OSError, TimeoutError, ssl.SSLError):
                pass
    return True
