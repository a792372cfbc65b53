"""Loopback TLS helpers shared by the certificate tests: a real HTTPS server and a client that reports what it saw."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from cryptography import x509

from certs.tlsctx import client_context


@asynccontextmanager
async def https_server(context: ssl.SSLContext) -> AsyncIterator[int]:
    """An aiohttp HTTPS server on 127.0.0.1 built once with ``context``; yields its port."""

    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    try:
        yield int(port)
    finally:
        await runner.cleanup()


async def peer_certificate(port: int, *, cafile_pem: bytes | None, server_hostname: str) -> x509.Certificate:
    """Handshake with 127.0.0.1:port (verifying against ``cafile_pem`` when given) and return the served leaf.

    Raises ``ssl.SSLError`` when verification fails.
    """
    context = client_context(cafile_pem)
    if cafile_pem is not None:
        context.verify_flags |= ssl.VERIFY_X509_STRICT  # what stricter verifiers (Python 3.13's default) demand
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=server_hostname)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(10):
            response = await reader.read()
        assert response.startswith(b"HTTP/1.1 200"), response[:100]
        return x509.load_der_x509_certificate(der)
    finally:
        writer.close()
