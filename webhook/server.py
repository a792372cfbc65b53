"""Serving the webhook application over HTTPS only, from a live ``SSLContext``.

The certificate module reloads certificates *into* the context it hands out, so the server takes the
context object once and never restarts its listener for a rotation: each new handshake uses the
current certificate and established keep-alive connections are not cut. The webhook has no plaintext
port; the same class serves the plain-HTTP probe and metrics endpoints when given no context.
The socket is bound here (not by aiohttp) so that port 0 works and the bound port is known, and
every connection is accepted through ``webhook.connections.ConnectionGate`` (connection cap, TLS with
a handshake deadline and a small buffer, idle and read timeouts), the one place those bounds live.

Decided against: ``TCPSite`` (the bound port of a port-0 site is only reachable through private
attributes) and restarting the site on rotation (it drops in-flight admissions).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web

from webhook.connections import FAST_ANSWER_KEY, ConnectionGate, ConnectionLimits
from webhook.errors import json_errors

DEFAULT_SHUTDOWN_TIMEOUT = 30.0
LISTEN_BACKLOG = 512


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
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    except BaseException:
        sock.close()
        raise
    return sock


class _GatedSite(web.SockSite):
    """aiohttp's socket site, with each accepted connection made by a ``ConnectionGate``."""

    __slots__ = ("_limits", "gate")

    def __init__(self, runner: web.AppRunner, sock: socket.socket, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(runner, sock, **kwargs)
        self._limits = limits
        self.gate: ConnectionGate | None = None

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site; SockSite.start would let asyncio do TLS
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        fast = self._runner.app.get(FAST_ANSWER_KEY) if isinstance(self._runner, web.AppRunner) else None
        self.gate = ConnectionGate(server, self._limits, ssl_context=self._ssl_context, loop=loop, fast=fast)
        self._server = await loop.create_server(self.gate, sock=self._sock, backlog=self._backlog)


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
        limits: ConnectionLimits | None = None,
    ) -> None:
        if not app.frozen and json_errors not in app.middlewares:  # every server answers errors as a Status
            app.middlewares.append(json_errors)
        self._app = app
        self._host = host
        self._port = port
        self._ssl = require_tls12(ssl_context) if ssl_context is not None else None
        self.limits = limits if limits is not None else ConnectionLimits()
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=shutdown_timeout, **self.limits.handler_kwargs()
        )
        self._site: _GatedSite | None = None
        self.port: int | None = None

    @property
    def gate(self) -> ConnectionGate | None:
        """The live connection counts, once started."""
        return self._site.gate if self._site is not None else None

    async def start(self) -> int:
        await self._runner.setup()
        sock = bind_socket(self._host, self._port)
        self.port = int(sock.getsockname()[1])
        self._site = _GatedSite(self._runner, sock, ssl_context=self._ssl, limits=self.limits, backlog=LISTEN_BACKLOG)
        await self._site.start()
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self._site is not None and self._site.gate is not None:
            self._site.gate.abort_all()

    async def serve(self, *, on_started: Callable[[int], None] | None = None) -> None:
        """Serve until cancelled, then shut down gracefully."""
        try:
            port = await self.start()
            if on_started is not None:
                on_started(port)
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.stop())
