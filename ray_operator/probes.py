"""Liveness and readiness endpoints (``:8081/healthz``, ``/readyz``) of the operator process.

``/healthz`` fails (500) when the event loop's ``Watchdog`` last ticked longer ago than the stall
threshold: a loop starved by something that blocks it answers eventually, but late, and a liveness
probe that only checked "an answer came" would keep a wedged process alive. ``/readyz`` runs named
checks and fails (503, naming each failing check and why) until all pass; a passing check may add a
detail (``Passed("standby")``), so ``/readyz`` also tells which replica leads. For the webhook the
check is the strongest one available: a certificate is loaded *and* a TLS handshake to the webhook's
own port, verified against the current CA for the Service DNS name, succeeds - what the API server
will do next. A pod is therefore never put behind the webhook Service before it can actually answer
an admission.

Decided against: controller-runtime's unverified self-dial (it passes with a certificate the API
server would refuse) and a readiness flag flipped at start-up (it would stay true if the listener died).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from ray_operator.kube.clock import Clock, MonotonicClock

if TYPE_CHECKING:
    from certs import CertificateSource


@dataclass(frozen=True)
class Passed:
    """A passing check with something worth showing (``[+]leader ok: standby``)."""

    detail: str


Check = Callable[[], Awaitable["str | Passed | None"]]
"""A readiness check: ``None`` or ``Passed`` when ready, else the reason it is not."""


class Watchdog:
    """A tick the event loop must keep running; ``stalled()`` says how late it is once past ``threshold``."""

    def __init__(self, *, threshold_seconds: float, interval_seconds: float = 1.0, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or MonotonicClock()
        self.threshold_seconds = threshold_seconds
        self.interval_seconds = min(interval_seconds, threshold_seconds / 2)
        self.last_tick = self._clock.now()

    async def run(self) -> None:
        """Tick forever (a root task)."""
        while True:
            self.last_tick = self._clock.now()
            await self._clock.sleep(self.interval_seconds)

    def stalled(self) -> str | None:
        age = self._clock.now() - self.last_tick
        if age > self.threshold_seconds:
            return f"the event loop watchdog last ticked {age:.1f}s ago (threshold {self.threshold_seconds:g}s)"
        return None


HandshakeOk = Callable[[str, int, str | None, bytes | str | None], Awaitable[bool]]
"""``certs.handshake_ok(host, port, server_hostname, ca_pem)``; ``ca_pem`` ``None`` checks the handshake only."""


def build_probe_app(*, checks: Mapping[str, Check], watchdog: Watchdog | None = None) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        stalled = watchdog.stalled() if watchdog is not None else None
        if stalled is not None:
            return web.Response(status=500, text=f"[-]eventloop failed: {stalled}\nhealthz check failed\n")
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        failures: list[str] = []
        passed: list[str] = []
        for name, check in checks.items():
            try:
                reason = await check()
            except Exception as exc:  # a failing check must report, not break the probe endpoint
                reason = f"{type(exc).__name__}: {exc}"
            if isinstance(reason, Passed):
                passed.append(f"[+]{name} ok: {reason.detail}")
            elif reason is not None:
                failures.append(f"[-]{name} failed: {reason}")
            else:
                passed.append(f"[+]{name} ok")
        if failures:
            return web.Response(status=503, text="\n".join([*passed, *failures]) + "\nreadyz check failed\n")
        return web.Response(text="\n".join([*passed, "readyz check passed"]) + "\n")

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
