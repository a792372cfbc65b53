"""Reaching a webhook: its endpoint, the TLS context for its caBundle, the POST, and Go's error texts.

Why it exists: the operator's webhooks are only trustworthy if something calls them the way the real
API server does, over verified TLS for ``<service>.<namespace>.svc``. Service endpoints come from an
injected resolver ``(namespace, name, port) → (host, port)``; the handshake still verifies the
certificate for ``<name>.<namespace>.svc`` against ``caBundle``. Go's transport error texts are
rebuilt from Python's (``x509: certificate is valid for …, not …``, ``dial tcp …: connect: connection
refused``, ``context deadline exceeded``); the stable part is the ``failed calling webhook "<name>":
failed to call webhook: Post "<url>"`` prefix.

Decided against per-call ClientSessions: the chain keeps one session for its life, pooled per SSL
context and server name (which aiohttp keys connections by), so admitted writes reuse a kept-alive
connection instead of paying a TLS handshake each. A rotated caBundle gets a new SSL context, hence
new connections; only the 32 most recently used contexts are kept (``SslContexts``), so rotations do
not pile up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import errno
import ipaddress
import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from cryptography import x509
from yarl import URL

from ray_operator.sandbox.admission.attributes import as_str
from ray_operator.sandbox.admission.review import CallFailure

MAX_ERROR_BODY = 2048
"""client-go keeps at most this much of an unexpected (non-Status) response body."""


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    url: str
    """What upstream prints in ``Post "<url>"`` (without the timeout query)."""
    connect_host: str
    connect_port: int
    server_hostname: str
    host_header: str
    """``Host`` as Go sends it: the URL's host and port as written (``<svc>.<ns>.svc:443`` for services)."""
    path_qs: str
    """Path and query sent on the wire (the timeout added later)."""
    unresolved: str | None = None
    """Why the service has no address (the dial error upstream would report), or ``None``."""


class ConfigError(ValueError):
    """The clientConfig cannot produce a REST client (``could not get REST client: …``)."""


def resolve_endpoint(
    client_config: Any, *, resolve_service: Callable[[str, str, int], tuple[str, int] | None]
) -> Endpoint:
    """Where to connect for a webhook's ``clientConfig``; raises ``ConfigError`` if it names no endpoint."""
    if not isinstance(client_config, Mapping):
        raise ConfigError("webhook has no clientConfig")
    service = client_config.get("service")
    url = client_config.get("url")
    if isinstance(service, Mapping):
        name, namespace = as_str(service.get("name")), as_str(service.get("namespace"))
        if not name or not namespace:
            raise ConfigError("service name and namespace are required")
        port = service.get("port")
        port = port if isinstance(port, int) and not isinstance(port, bool) else 443
        path = as_str(service.get("path")) or "/"
        host = f"{name}.{namespace}.svc"
        display = f"https://{host}:{port}{path}"
        resolved = resolve_service(namespace, name, port)
        return Endpoint(
            url=display,
            connect_host=resolved[0] if resolved else "",
            connect_port=resolved[1] if resolved else 0,
            unresolved=None if resolved else f'service "{name}" not found',
            server_hostname=host,
            host_header=f"{host}:{port}",
            path_qs=path,
        )
    if isinstance(url, str) and url:
        try:
            parsed = URL(url)
        except ValueError as exc:
            raise ConfigError(f"invalid url {url!r}: {exc}") from None
        if parsed.scheme != "https" or not parsed.host:
            raise ConfigError(f'unsupported scheme in url "{url}": only https is allowed')
        path_qs = parsed.raw_path_qs or "/"
        return Endpoint(
            url=url,
            connect_host=parsed.host,
            connect_port=parsed.port or 443,
            server_hostname=parsed.host,
            host_header=parsed.raw_authority,
            path_qs=path_qs,
        )
    raise ConfigError("exactly one of url or service is required in clientConfig")


class SslContexts:
    """The client SSL context per caBundle, the few most recently used kept (LRU).

    Building a context parses the bundle, and aiohttp pools connections per context object, so reusing
    one keeps connections alive; bounding the cache keeps a caBundle rotated every few minutes (as
    cert-manager-style rotation does) from growing it for the life of the process.
    """

    def __init__(self, *, max_size: int = 32) -> None:
        self._max_size = max(1, max_size)
        self._cache: collections.OrderedDict[bytes, ssl.SSLContext] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._cache)

    def for_bundle(self, ca_bundle: Any) -> ssl.SSLContext:
        """The context trusting ``ca_bundle`` (base64 PEM; empty or absent means the system roots)."""
        pem = b""
        if isinstance(ca_bundle, str) and ca_bundle:
            try:
                pem = base64.b64decode(ca_bundle, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError("caBundle is not valid base64") from None
        cached = self._cache.get(pem)
        if cached is not None:
            self._cache.move_to_end(pem)
            return cached
        try:
            ctx = ssl.create_default_context(cadata=pem.decode("ascii")) if pem else ssl.create_default_context()
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"unable to load root certificates: {exc}") from None
        ctx.hostname_checks_common_name = False
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cache[pem] = ctx
        while len(self._cache) > self._max_size:
            self._cache.popitem(last=False)
        return ctx


def _go_x509_text(exc: ssl.SSLCertVerificationError, peer_cert: x509.Certificate | None, host: str) -> str:
    code = getattr(exc, "verify_code", None)
    if code in (62, 64) and peer_cert is not None:  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        return _hostname_error(peer_cert, host)
    if code in (9, 10):  # not yet valid / expired
        text = "x509: certificate has expired or is not yet valid"
        if peer_cert is None:
            return text
        now = datetime.now(UTC).replace(microsecond=0)
        if code == 10:
            limit = peer_cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
            return f"{text}: current time {now.strftime('%Y-%m-%dT%H:%M:%SZ')} is after {limit}"
        limit = peer_cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{text}: current time {now.strftime('%Y-%m-%dT%H:%M:%SZ')} is before {limit}"
    if code in (2, 18, 19, 20, 21):
        return "x509: certificate signed by unknown authority"
    return f"x509: {getattr(exc, 'verify_message', None) or exc}"


def _hostname_error(cert: x509.Certificate, host: str) -> str:
    """Go's ``x509.HostnameError`` text."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is None:
        common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if common and str(common[0].value).lower() == host.lower():
            return "x509: certificate relies on legacy Common Name field, use SANs instead"
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    try:
        ipaddress.ip_address(host)
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        if not ips:
            return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        valid = ", ".join(ips)
    except ValueError:
        valid = ", ".join(san.get_values_for_type(x509.DNSName))
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"


async def _peer_certificate(host: str, port: int, server_hostname: str, seconds: float) -> x509.Certificate | None:
    """The server's leaf certificate, fetched without verification, only to word an error message."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(seconds):
            _, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_hostname)
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        return x509.load_der_x509_certificate(der) if der else None
    except (OSError, TimeoutError, ValueError, ssl.SSLError):
        return None
    finally:
        if writer is not None:
            writer.close()


def _go_dial_text(exc: OSError | None, host: str, port: int) -> str:
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc is None:
        return f"dial tcp {addr}: connect: connection refused"
    number = exc.errno
    if number == errno.ECONNREFUSED:
        return f"dial tcp {addr}: connect: connection refused"
    if number in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"dial tcp {addr}: connect: no route to host"
    if isinstance(exc, OSError) and exc.strerror and "Name or service not known" in exc.strerror:
        return f"dial tcp: lookup {host}: no such host"
    return f"dial tcp {addr}: {exc.strerror or exc}"


def _generic_response_text(code: int, body: bytes, content_type: str) -> str:
    """client-go's text for a non-2xx webhook answer (``NewGenericServerResponse``)."""
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, Mapping) and decoded.get("kind") == "Status" and as_str(decoded.get("message")):
        return as_str(decoded.get("message"))
    server_message = (
        body[:MAX_ERROR_BODY].decode("utf-8", "replace").strip() if content_type.startswith("text/") else ""
    )
    fixed = {
        400: "the server rejected our request for an unknown reason",
        401: "the server has asked for the client to provide credentials",
        403: server_message,
        404: "the server could not find the requested resource",
        405: "the server does not allow this method on the requested resource",
        422: "the server rejected our request due to an error in our request",
        429: "the server has received too many requests and has asked us to try again later",
        503: "the server is currently unable to handle the request",
        504: "the server was unable to return a response in the time allotted, but may still be processing the request",
    }
    if code in fixed:
        return fixed[code]
    if code >= 500:
        return f'an error on the server ("{server_message}") has prevented the request from succeeding'
    return f"the server responded with the status code {code} but did not return more information"


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def display_url(endpoint: Endpoint, timeout: int) -> str:
    """The URL as upstream prints it in ``Post "<url>"``: with the ``timeout`` query it sends."""
    return f"{endpoint.url}{'&' if '?' in endpoint.url else '?'}timeout={timeout}s"


async def post_review(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    *,
    ssl_context: ssl.SSLContext,
    body: bytes,
    timeout_seconds: int,
) -> bytes:
    """POST an AdmissionReview body, verifying ``endpoint.server_hostname``; the 2xx answer's body.

    Every failure is a ``CallFailure`` worded as Go's transport and client-go word it, so the failure
    policy decides what the client sees.
    """
    sep = "&" if "?" in endpoint.path_qs else "?"
    display = display_url(endpoint, timeout_seconds)
    target = f"https://{_host_port(endpoint.connect_host, endpoint.connect_port)}{endpoint.path_qs}"
    target += f"{sep}timeout={timeout_seconds}s"
    try:
        async with asyncio.timeout(timeout_seconds):
            async with session.post(
                target,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json, */*",
                    "Host": endpoint.host_header,
                    "User-Agent": "kube-apiserver-admission",
                },
                ssl=ssl_context,
                server_hostname=endpoint.server_hostname,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status_code = response.status
                content_type = response.headers.get("Content-Type", "")
    except TimeoutError:
        raise CallFailure(f'failed to call webhook: Post "{display}": context deadline exceeded') from None
    except aiohttp.ClientConnectorCertificateError as exc:
        cert_error = exc.certificate_error
        peer = None
        if isinstance(cert_error, ssl.SSLCertVerificationError) and getattr(cert_error, "verify_code", 0) in (
            9,
            10,
            62,
            64,
        ):
            peer = await _peer_certificate(
                endpoint.connect_host, endpoint.connect_port, endpoint.server_hostname, timeout_seconds
            )
        text = (
            _go_x509_text(cert_error, peer, endpoint.server_hostname)
            if isinstance(cert_error, ssl.SSLCertVerificationError)
            else str(cert_error)
        )
        raise CallFailure(
            f'failed to call webhook: Post "{display}": tls: failed to verify certificate: {text}'
        ) from None
    except aiohttp.ClientSSLError as exc:
        raise CallFailure(f'failed to call webhook: Post "{display}": remote error: tls: {exc}') from None
    except aiohttp.ClientConnectorError as exc:
        text = _go_dial_text(exc.os_error, endpoint.connect_host, endpoint.connect_port)
        raise CallFailure(f'failed to call webhook: Post "{display}": {text}') from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise CallFailure(f'failed to call webhook: Post "{display}": EOF ({exc})') from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise CallFailure(f'failed to call webhook: Post "{display}": {exc}') from None
    if not 200 <= status_code < 300:
        raise CallFailure(f"failed to call webhook: {_generic_response_text(status_code, raw, content_type)}")
    return raw
