"""Liveness and readiness endpoints (``:8081/healthz``, ``/readyz``) of the operator process.

``/healthz`` answers as long as the event loop runs. ``/readyz`` runs named checks and fails (503,
naming each failing check and why) until all pass. For the webhook the check is the strongest one
available: a certificate is loaded *and* a TLS handshake to the webhook's own port, verified against
the current CA for the Service DNS name, succeeds - what the API server will do next. A pod is
therefore never put behind the webhook Service before it can actually answer an admission.

Decided against: controller-runtime's unverified self-dial (it passes with a certificate the API
server would refuse) and a readiness flag flipped at start-up (it would stay true if the listener died).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from certs import CertificateSource

Check = Callable[[], Awaitable[str | None]]
"""A readiness check: ``None`` when ready, else the reason it is not."""

HandshakeOk = Callable[[str, int, str | None, bytes | str | None], Awaitable[bool]]
"""``certs.handshake_ok(host, port, server_hostname, ca_pem)``; ``ca_pem`` ``None`` checks the handshake only."""


def build_probe_app(*, checks: Mapping[str, Check]) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        failures: list[str] = []
        for name, check in checks.items():
            try:
                reason = await check()
            except Exception as exc:  # a failing check must report, not break the probe endpoint
                reason = f"{type(exc).__name__}: {exc}"
            if reason is not None:
                failures.append(f"[-]{name} failed: {reason}")
        if failures:
            return web.Response(status=503, text="\n".join(failures) + "\nreadyz check failed\n")
        lines = [f"[+]{name} ok" for name in checks]
        return web.Response(text="\n".join([*lines, "readyz check passed"]) + "\n")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def webhook_ready_check(
    *,
    certificates: CertificateSource,
    handshake_ok: HandshakeOk,
    host: str,
    port: Callable[[], int | None],
    server_hostname: str,
) -> Check:
    """Ready when a certificate is loaded and the webhook port completes a verified TLS handshake."""

    async def check() -> str | None:
        if not certificates.ready:
            return "no serving certificate loaded yet"
        bound = port()
        if bound is None:
            return "the webhook server is not listening yet"
        dial = "127.0.0.1" if host in ("", "0.0.0.0") else ("::1" if host == "::" else host)
        if not await handshake_ok(dial, bound, server_hostname, certificates.current_ca_bundle()):
            return f"TLS handshake with {dial}:{bound} as {server_hostname} failed"
        return None

    return check
