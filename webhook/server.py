"""Serving the webhook application over HTTPS only, from a live ``SSLContext``.

The certificate module reloads certificates *into* the context it hands out, so the server takes the
context object once and never restarts its listener for a rotation: each new handshake uses the
current certificate and established keep-alive connections are not cut. The webhook has no plaintext
port; the same class serves the plain-HTTP probe and metrics endpoints when given no context.
The socket is bound here (not by aiohttp) so that port 0 works and the bound port is known.

Decided against: ``TCPSite`` (the bound port of a port-0 site is only reachable through private
attributes) and restarting the site on rotation (it drops in-flight admissions).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable

from aiohttp import web

DEFAULT_SHUTDOWN_TIMEOUT = 30.0


def require_tls12(context: ssl.SSLContext) -> ssl.SSLContext:
    """Raise the floor of ``context`` to TLS 1.2 if it is lower; returns the same object."""
    if context.minimum_version < ssl.TLSVersion.TLSv1_2:  # MINIMUM_SUPPORTED is negative
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    except BaseException:
        sock.close()
        raise
    return sock


class HttpsServer:
    """One aiohttp application on one HTTPS socket. ``start`` binds and serves; ``stop`` drains and closes."""

    def __init__(
        self,
        app: web.Application,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._ssl = require_tls12(ssl_context) if ssl_context is not None else None
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
        self.port: int | None = None

    async def start(self) -> int:
        await self._runner.setup()
        sock = bind_socket(self._host, self._port)
        self.port = int(sock.getsockname()[1])
        site = web.SockSite(self._runner, sock, ssl_context=self._ssl)
        await site.start()
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def serve(self, *, on_started: Callable[[int], None] | None = None) -> None:
        """Serve until cancelled, then shut down gracefully."""
        try:
            port = await self.start()
            if on_started is not None:
                on_started(port)
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.stop())
