"""The operator process: one event loop, one root ``asyncio.TaskGroup``, a clean exit either way.

``ray-operator run`` builds ``Settings`` and calls ``run``, which composes the root tasks:

* **certificates** - the certificate source's loop (create/load, inject caBundle, rotate);
* **webhook** - waits for a first certificate, then serves HTTPS from the source's live SSLContext;
* **probes** - ``/healthz`` and ``/readyz`` (ready only once the webhook completes a verified handshake);
* **metrics** - ``/metrics`` with controller-runtime's metric names.

``--mode webhook`` is all there is today: no leader election, no reconciliation, no pod writes. The
reconciler is not built yet, so ``--mode all`` (the default) and ``--mode controller`` stop at once
with exit code 2 and say so rather than run a webhook and pretend to reconcile.

A root task that raises - or returns, which for a serve-forever task is also a failure - cancels
the others and the process exits 1 after one ``root_task_crashed`` log line naming the task.
SIGTERM and SIGINT stop every task gracefully and the process exits 0: first ``/readyz`` fails for
``shutdown_delay_seconds`` while the webhook still answers (so the Service drops the pod before its
port closes), then the servers finish in-flight requests and close.

The Kubernetes client is created inside the running loop and closed on the way out; every API call
that does not set its own timeout gets ``kube_request_timeout_seconds`` (kubernetes_asyncio has none).

A ``Settings`` is range-checked when it is built (``ray_operator.settings``), so no bad value reaches
here; ``certificate_config`` maps it onto the certificate package's own ``CertConfig``, the one place
the operator's setting names and the ``certs`` names meet.

Decided against: ``asyncio.gather`` (a crash leaves siblings running) and a process supervisor
thread (one loop is enough; the webhook handlers never block it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry

from ray_operator.kube.client import KubeconfigError, kube_api_client
from ray_operator.logging import configure_logging
from ray_operator.metrics import WebhookMetrics, build_metrics_app, new_registry
from ray_operator.probes import HandshakeOk, build_probe_app, webhook_ready_check
from ray_operator.settings import Settings, settings_from
from webhook.app import build_app
from webhook.rules import Rules
from webhook.server import HttpsServer

if TYPE_CHECKING:  # certs is imported when the operator starts, not when this module is
    from certs import CertConfig, CertificateSource

EXIT_OK = 0
EXIT_CRASHED = 1
EXIT_USAGE = 2

log = structlog.get_logger("ray_operator.runtime")


ApiClientFactory = Callable[[Settings], AbstractAsyncContextManager[Any]]
CertificateSourceFactory = Callable[..., "CertificateSource"]
"""``certs.make_certificate_source`` or a stand-in: called with ``config=``, ``api_client=`` and ``logger=``."""


def certificate_config(settings: Settings) -> CertConfig:
    """The operator's settings in the certificate package's terms: the one place the two vocabularies meet."""
    from certs.config import CertConfig

    return CertConfig(
        source=settings.cert_source,
        namespace=settings.namespace,
        service_name=settings.webhook_service_name,
        secret_name=settings.cert_secret_name,
        validating_webhook_name=settings.validating_webhook_name,
        mutating_webhook_name=settings.mutating_webhook_name,
        cert_dir=settings.cert_dir,
        key_algorithm=settings.cert_key_algorithm,
        ca_validity_days=settings.ca_validity_days,
        serving_cert_validity_days=settings.serving_cert_validity_days,
        check_interval_seconds=settings.cert_check_interval_seconds,
        rollover_grace_seconds=settings.cert_rollover_grace_seconds,
        file_poll_seconds=settings.cert_file_poll_seconds,
        request_timeout_seconds=settings.cert_request_timeout_seconds,
    )


def mode_error(mode: str) -> str | None:
    """The message for a mode this build cannot run, or ``None`` for ``webhook``."""
    if mode == "webhook":
        return None
    return (
        f"ray-operator: --mode {mode} needs the RayCluster reconciler, which is not built yet. "
        "Run with --mode webhook (env RAY_OPERATOR_MODE=webhook) for the admission webhooks, "
        "probes, metrics and certificates."
    )


def _default_certificate_source_factory() -> tuple[CertificateSourceFactory, HandshakeOk]:
    from certs import handshake_ok, make_certificate_source

    return make_certificate_source, handshake_ok


class _GracefulStop(Exception):
    """Raised inside the task group to stop every root task after SIGTERM/SIGINT or a stop request."""


class RootTaskExited(RuntimeError):
    def __init__(self, name: str) -> None:
        super().__init__(f"root task {name!r} returned; it must run until the process stops")


@dataclass
class RuntimeState:
    """What a caller (the sandbox dev stack, tests) can observe of a running operator."""

    registry: CollectorRegistry
    webhook_port: int | None = None
    probe_port: int | None = None
    metrics_port: int | None = None
    webhook_serving: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    draining: bool = False


async def _root(name: str, coro: Coroutine[Any, Any, Any]) -> None:
    try:
        await coro
    except (asyncio.CancelledError, _GracefulStop):
        raise
    except Exception as exc:
        log.error("root_task_crashed", task=name, error=f"{type(exc).__name__}: {exc}", exc_info=True)
        raise
    log.error("root_task_crashed", task=name, error="returned unexpectedly")
    raise RootTaskExited(name)


async def run(
    settings: Settings,
    *,
    api_client_factory: ApiClientFactory = kube_api_client,
    certificate_source_factory: CertificateSourceFactory | None = None,
    handshake_ok: HandshakeOk | None = None,
    rules: Rules | None = None,
    state: RuntimeState | None = None,
    handle_signals: bool = True,
) -> int:
    """Run the operator until stopped; returns the process exit code."""
    problem = mode_error(settings.mode)
    if problem is not None:
        log.error("mode_not_available", mode=settings.mode, message=problem)
        return EXIT_USAGE
    if certificate_source_factory is None or handshake_ok is None:
        default_factory, default_handshake = _default_certificate_source_factory()
        certificate_source_factory = certificate_source_factory or default_factory
        handshake_ok = handshake_ok or default_handshake
    st = state if state is not None else RuntimeState(registry=new_registry())
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, _request_stop, st, sig)
                installed.append(sig)
    log.info(
        "operator_starting", mode=settings.mode, leader_election="off (webhook mode)", namespace=settings.namespace
    )
    try:
        if rules is None:
            from webhook.rules import raycluster_rules

            rules = raycluster_rules()
        # ``files`` certificates (cert-manager) need no API access at all in webhook mode.
        client_cm = api_client_factory(settings) if settings.cert_source != "files" else contextlib.nullcontext()
        async with client_cm as api_client:
            certificates = certificate_source_factory(
                config=certificate_config(settings), api_client=api_client, logger=structlog.get_logger("certs")
            )
            return await _serve(settings, st, certificates, handshake_ok, rules)
    except KubeconfigError as exc:
        log.error("operator_start_failed", error=str(exc))
        return EXIT_USAGE
    except Exception as exc:  # start-up failed before any root task ran
        log.error("operator_start_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        return EXIT_CRASHED
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _request_stop(state: RuntimeState, sig: signal.Signals) -> None:
    log.info("shutdown_requested", signal=sig.name)
    state.stop.set()


async def _serve(
    settings: Settings,
    st: RuntimeState,
    certificates: CertificateSource,
    handshake_ok: HandshakeOk,
    rules: Rules,
) -> int:
    webhook_app = build_app(
        rules=rules,
        max_body_bytes=settings.webhook_max_body_bytes,
        logger=structlog.get_logger("webhook"),
        observer=WebhookMetrics(st.registry),
    )
    server_name = f"{settings.webhook_service_name}.{settings.namespace}.svc"

    async def not_draining() -> str | None:
        return "shutting down" if st.draining else None

    probe_app = build_probe_app(
        checks={
            "shutdown": not_draining,
            "webhook": webhook_ready_check(
                certificates=certificates,
                handshake_ok=handshake_ok,
                host=settings.webhook_host,
                port=lambda: st.webhook_port if st.webhook_serving.is_set() else None,
                server_hostname=server_name,
            ),
        }
    )
    timeout = settings.shutdown_timeout_seconds
    probes = HttpsServer(
        probe_app, host=settings.probe_host, port=settings.probe_port, ssl_context=None, shutdown_timeout=timeout
    )
    metrics = HttpsServer(
        build_metrics_app(st.registry),
        host=settings.metrics_host,
        port=settings.metrics_port,
        ssl_context=None,
        shutdown_timeout=timeout,
    )

    async def serve_probes() -> None:
        await probes.serve(on_started=lambda port: setattr(st, "probe_port", port))

    async def serve_metrics() -> None:
        await metrics.serve(on_started=lambda port: setattr(st, "metrics_port", port))

    async def serve_webhook() -> None:
        await certificates.ensure_ready()
        server = HttpsServer(
            webhook_app,
            host=settings.webhook_host,
            port=settings.webhook_port,
            ssl_context=certificates.ssl_context,
            shutdown_timeout=timeout,
        )

        def started(port: int) -> None:
            st.webhook_port = port
            st.webhook_serving.set()
            log.info("webhook_serving", host=settings.webhook_host, port=port, service=server_name)

        await server.serve(on_started=started)

    async def wait_for_stop() -> None:
        await st.stop.wait()
        if settings.shutdown_delay_seconds > 0:
            # Not ready any more, but still answering: the endpoints controller takes the pod out of
            # the webhook Service before the listener goes away, so no admission hits a closed port.
            st.draining = True
            log.info("shutdown_draining", seconds=settings.shutdown_delay_seconds)
            await asyncio.sleep(settings.shutdown_delay_seconds)
        raise _GracefulStop

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_root("stop", wait_for_stop()), name="stop")
            group.create_task(_root("probes", serve_probes()), name="probes")
            group.create_task(_root("metrics", serve_metrics()), name="metrics")
            group.create_task(_root("certificates", certificates.run()), name="certificates")
            group.create_task(_root("webhook", serve_webhook()), name="webhook")
    except BaseExceptionGroup as group_error:
        _, crashes = group_error.split(_GracefulStop)
        if crashes is not None:
            log.error("operator_stopped", reason="a root task crashed", exit_code=EXIT_CRASHED)
            return EXIT_CRASHED
    log.info("operator_stopped", reason="shutdown requested", exit_code=EXIT_OK)
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    """``ray-operator run``: settings from flags/env, logging, then the event loop."""
    try:
        settings = settings_from(args)
        configure_logging(level=settings.log_level, fmt=settings.log_format)
    except ValueError as exc:
        print(f"ray-operator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problem = mode_error(settings.mode)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(run(settings))
