"""The operator process: one event loop, one root ``asyncio.TaskGroup``, a clean exit either way.

``ray-operator run`` builds ``Settings`` and calls ``run``, which composes the root tasks:

* **certificates** - the certificate source's loop (create/load, inject caBundle, rotate);
* **webhook** - waits for a first certificate, then serves HTTPS from the source's live SSLContext;
* **probes** - ``/healthz`` and ``/readyz`` (ready only once the webhook completes a verified handshake);
* **metrics** - ``/metrics`` with controller-runtime's metric names.

* **watchdog** - a one-second tick; ``/healthz`` fails when it is older than ``event_loop_stall_seconds``;
* **leader** - in ``--mode all`` (the default) and ``--mode controller``: campaigns for the Lease
  (``ray_operator.kube.leaderelection``) and, only while this replica leads, builds and runs the
  RayCluster controller (``ray_operator.controller.manager``). A standby keeps no caches at all; once
  elected it lists, syncs and reconciles. Losing the lease (no renewal within the renew deadline, which
  ends before any standby may take over) cancels the controller at once, says so in the log and in
  ``/readyz``, and the replica campaigns again. On SIGTERM the controller takes no more keys, its
  in-flight reconciles finish, and then the lease is released, so a standby leads at its next retry.
  With ``--leader-elect=false`` the task is **controller** instead: the controller runs from the start.

``--mode webhook`` runs no controller and no election: no reflectors, no Lease, no pod writes.
``--mode controller`` runs no webhook and no certificate manager (the webhook replicas own the
certificates). ``/readyz`` says ``leader``, ``standby`` or ``lost-lease``; on the leader it also waits
for the controller's caches to sync.

A root task that raises - or returns, which for a serve-forever task is also a failure - cancels
the others and the process exits 1 after one ``root_task_crashed`` log line naming the task.
SIGTERM and SIGINT stop every task gracefully and the process exits 0: first ``/readyz`` fails for
``shutdown_delay_seconds`` while the webhook still answers (so the Service drops the pod before its
port closes), then the servers finish in-flight requests and close.

The Kubernetes client is created inside the running loop and closed on the way out; every API call
that does not set its own timeout gets ``kube_request_timeout_seconds`` (kubernetes_asyncio has none).
Its User-Agent is ``ray-operator/<version> (<identity>)``, the identity being the leader-election one
(``<hostname>_<uuid>``), so an audit log (or the sandbox's request log) tells the replicas apart.

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
import functools
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry

from ray_operator.kube.client import USER_AGENT, KubeconfigError, kube_api_client
from ray_operator.kube.leaderelection import LeaderElector, LeaseConfig, new_identity
from ray_operator.logging import configure_logging
from ray_operator.metrics import (
    ControllerMetrics,
    RayClustersByState,
    WebhookMetrics,
    build_metrics_app,
    new_registry,
)
from ray_operator.probes import Check, HandshakeOk, Passed, Watchdog, build_probe_app, webhook_ready_check
from ray_operator.settings import Settings, settings_from
from webhook.app import build_app
from webhook.connections import ConnectionLimits
from webhook.rules import Rules
from webhook.server import HttpsServer

if TYPE_CHECKING:  # certs and the controller are imported when the operator starts, not when this module is
    from certs import CertConfig, CertificateSource
    from ray_operator.controller.context import ReconcilerConfig
    from ray_operator.controller.manager import RayClusterController

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


def reconciler_config(settings: Settings) -> ReconcilerConfig:
    """The operator's settings in the controller's terms (the builders' switches among them)."""
    from ray_operator import __version__
    from ray_operator.builders.config import BuildConfig
    from ray_operator.controller.context import ReconcilerConfig

    build = BuildConfig(
        operator_version=__version__,
        cluster_domain=settings.cluster_domain,
        enable_init_container_injection=settings.enable_init_container_injection,
        enable_probes_injection=settings.enable_probes_injection,
        enable_login_shell=settings.enable_login_shell,
        enable_head_cluster_ip_service=settings.enable_head_cluster_ip_service,
        enable_deterministic_head_pod_name=settings.enable_deterministic_head_pod_name,
        enable_gcs_ft_redis_cleanup=settings.enable_gcs_ft_redis_cleanup,
        enable_random_pod_delete=settings.enable_random_pod_delete,
    )
    return ReconcilerConfig(
        build=build,
        resync_seconds=settings.resync_seconds,
        short_requeue_seconds=settings.requeue_seconds,
        create_concurrency=settings.pod_create_concurrency,
        status_write_interval_seconds=settings.status_write_interval_seconds,
    )


def watched_namespaces(settings: Settings) -> list[str] | None:
    """``--watch-namespace a,b`` as a list; ``None`` (all namespaces) when unset or empty."""
    names = [name.strip() for name in (settings.watch_namespace or "").split(",") if name.strip()]
    return names or None


def lease_config(settings: Settings, identity: str) -> LeaseConfig:
    """The leader-election settings in the elector's terms (the Lease lives in ``--namespace``)."""
    return LeaseConfig(
        namespace=settings.namespace,
        name=settings.lease_name,
        identity=identity,
        lease_duration_seconds=settings.lease_duration_seconds,
        renew_deadline_seconds=settings.renew_deadline_seconds,
        retry_period_seconds=settings.retry_period_seconds,
    )


def user_agent(identity: str) -> str:
    from ray_operator import __version__

    return f"{USER_AGENT}/{__version__} ({identity})"


def build_controller(
    settings: Settings, api_client: Any, *, identity: str | None = None, metrics: ControllerMetrics | None = None
) -> RayClusterController:
    from ray_operator.controller.manager import RayClusterController
    from ray_operator.kube.reflector import ReflectorConfig

    if metrics is not None:
        metrics.controller_started(concurrency=settings.reconcile_concurrency)
    return RayClusterController(
        api_client=api_client,
        config=reconciler_config(settings),
        identity=identity or socket.gethostname(),
        namespaces=watched_namespaces(settings),
        concurrency=settings.reconcile_concurrency,
        request_timeout_seconds=settings.kube_request_timeout_seconds,
        reflector_config=ReflectorConfig(
            page_size=settings.list_page_size,
            request_timeout_seconds=settings.kube_request_timeout_seconds,
            watch_timeout_seconds=settings.watch_timeout_seconds,
            inactivity_timeout_seconds=settings.watch_inactivity_timeout_seconds,
        ),
        expectations_timeout_seconds=settings.expectations_timeout_seconds,
        queue_observer=metrics,
        reconcile_observer=metrics,
        reflector_observer=metrics,
        write_observer=metrics,
        logger=structlog.get_logger("ray_operator.controller"),
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
    controller: RayClusterController | None = None
    """The running controller (``--mode all`` or ``controller``, on the leader only), for readiness and tests."""
    controller_created: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while ``controller`` is assigned (its caches sync later: ``controller.synced``)."""
    identity: str = field(default_factory=new_identity)
    """This replica's leader-election identity, ``<hostname>_<uuid>``; also in its User-Agent."""
    elector: LeaderElector | None = None
    """The leader elector (``--mode all``/``controller`` with ``--leader-elect``)."""
    watchdog: Watchdog | None = None
    controller_metrics: ControllerMetrics | None = None
    """The controller's series (``--mode all``/``controller``); they outlive each term as leader."""


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
    api_client_factory: ApiClientFactory | None = None,
    certificate_source_factory: CertificateSourceFactory | None = None,
    handshake_ok: HandshakeOk | None = None,
    rules: Rules | None = None,
    state: RuntimeState | None = None,
    handle_signals: bool = True,
) -> int:
    """Run the operator until stopped; returns the process exit code."""
    if certificate_source_factory is None or handshake_ok is None:
        default_factory, default_handshake = _default_certificate_source_factory()
        certificate_source_factory = certificate_source_factory or default_factory
        handshake_ok = handshake_ok or default_handshake
    st = state if state is not None else RuntimeState(registry=new_registry())
    if api_client_factory is None:
        from ray_operator.controller.manager import watch_count

        watches = watch_count(watched_namespaces(settings)) if settings.mode != "webhook" else 0
        api_client_factory = functools.partial(kube_api_client, user_agent=user_agent(st.identity), watches=watches)
    elect = settings.mode != "webhook" and settings.leader_elect
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, _request_stop, st, sig)
                installed.append(sig)
    log.info(
        "operator_starting",
        mode=settings.mode,
        leader_election=(
            f"lease {settings.namespace}/{settings.lease_name}"
            if elect
            else ("off (webhook mode)" if settings.mode == "webhook" else "off (--leader-elect=false)")
        ),
        identity=st.identity,
        namespace=settings.namespace,
        watch_namespaces=watched_namespaces(settings) or "all",
    )
    try:
        if rules is None:
            from webhook.rules import raycluster_rules

            rules = raycluster_rules()
        # ``files`` certificates (cert-manager) need no API access in webhook mode, unless /metrics is
        # secured (its TokenReview and SubjectAccessReview go to the API server).
        needs_api = settings.mode != "webhook" or settings.cert_source != "files" or settings.metrics_secure
        client_cm = api_client_factory(settings) if needs_api else contextlib.nullcontext()
        async with client_cm as api_client:
            certificates = None
            if settings.mode != "controller":
                certificates = certificate_source_factory(
                    config=certificate_config(settings), api_client=api_client, logger=structlog.get_logger("certs")
                )
            if settings.mode != "webhook":
                metrics = ControllerMetrics(st.registry, lease_name=settings.lease_name if elect else "")
                st.controller_metrics = metrics
                st.registry.register(RayClustersByState(lambda: _cached_clusters(st)))
            if elect:
                st.elector = LeaderElector(
                    api_client=api_client,
                    config=lease_config(settings, st.identity),
                    observer=st.controller_metrics,
                    logger=structlog.get_logger("ray_operator.leaderelection"),
                )
            elif settings.mode != "webhook":
                st.controller = build_controller(
                    settings, api_client, identity=st.identity, metrics=st.controller_metrics
                )
                st.controller_created.set()
            return await _serve(settings, st, certificates, handshake_ok, rules, api_client)
    except KubeconfigError as exc:
        log.error("operator_start_failed", error=str(exc))
        return EXIT_USAGE
    except Exception as exc:  # start-up failed before any root task ran
        log.error("operator_start_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        return EXIT_CRASHED
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _cached_clusters(state: RuntimeState) -> list[dict[str, Any]] | None:
    controller = state.controller
    return controller.caches.clusters.list() if controller is not None else None


def _request_stop(state: RuntimeState, sig: signal.Signals) -> None:
    log.info("shutdown_requested", signal=sig.name)
    state.stop.set()


def connection_limits(settings: Settings, *, max_connections: int) -> ConnectionLimits:
    """The per-connection bounds of one of the process's HTTP servers (``webhook.connections``)."""
    return ConnectionLimits(
        max_connections=max_connections,
        handshake_timeout=settings.http_handshake_timeout_seconds,
        read_timeout=settings.http_read_timeout_seconds,
        keepalive_timeout=settings.http_keepalive_timeout_seconds,
    )


async def _serve(
    settings: Settings,
    st: RuntimeState,
    certificates: CertificateSource | None,
    handshake_ok: HandshakeOk,
    rules: Rules,
    api_client: Any,
) -> int:
    webhook_app = build_app(
        rules=rules,
        max_body_bytes=settings.webhook_max_body_bytes,
        read_timeout=settings.http_read_timeout_seconds,
        logger=structlog.get_logger("webhook"),
        observer=WebhookMetrics(st.registry),
    )
    server_name = f"{settings.webhook_service_name}.{settings.namespace}.svc"

    async def not_draining() -> str | None:
        return "shutting down" if st.draining else None

    checks: dict[str, Check] = {"shutdown": not_draining}
    if certificates is not None:
        checks["webhook"] = webhook_ready_check(
            certificates=certificates,
            handshake_ok=handshake_ok,
            host=settings.webhook_host,
            port=lambda: st.webhook_port if st.webhook_serving.is_set() else None,
            server_hostname=server_name,
        )
    controller = st.controller
    elector = st.elector
    if elector is not None:

        async def leadership() -> str | Passed | None:
            if elector.state == "leader":
                led = st.controller
                if led is None or not led.synced.is_set():
                    return "leader: the controller's caches have not synced yet"
                return Passed("leader")
            if elector.state == "lost-lease":
                return Passed("lost-lease: not reconciling; campaigning to win the lease back")
            return Passed(f"standby (leader: {elector.holder or 'none yet'})")

        checks["leader"] = leadership
    elif controller is not None:

        async def caches_synced() -> str | None:
            return None if controller.synced.is_set() else "the controller's caches have not synced yet"

        checks["controller"] = caches_synced
    st.watchdog = watchdog = Watchdog(threshold_seconds=settings.event_loop_stall_seconds)
    probe_app = build_probe_app(checks=checks, watchdog=watchdog)
    timeout = settings.shutdown_timeout_seconds
    diagnostics_limits = connection_limits(settings, max_connections=settings.diagnostics_max_connections)
    probes = HttpsServer(
        probe_app,
        host=settings.probe_host,
        port=settings.probe_port,
        ssl_context=None,
        shutdown_timeout=timeout,
        limits=diagnostics_limits,
    )
    metrics_app = build_metrics_app(st.registry)
    metrics_tls = None
    if settings.metrics_secure:  # TokenReview + SubjectAccessReview in front of /metrics (metrics_auth)
        from ray_operator.metrics_auth import secure

        metrics_tls = secure(
            metrics_app,
            api_client=api_client,
            cache_seconds=settings.metrics_auth_cache_seconds,
            timeout_seconds=settings.kube_request_timeout_seconds,
        )
    metrics = HttpsServer(
        metrics_app,
        host=settings.metrics_host,
        port=settings.metrics_port,
        ssl_context=metrics_tls,
        shutdown_timeout=timeout,
        limits=diagnostics_limits,
    )

    async def serve_probes() -> None:
        await probes.serve(on_started=lambda port: setattr(st, "probe_port", port))

    async def serve_metrics() -> None:
        await metrics.serve(on_started=lambda port: setattr(st, "metrics_port", port))

    async def serve_webhook() -> None:
        assert certificates is not None
        await certificates.ensure_ready()
        server = HttpsServer(
            webhook_app,
            host=settings.webhook_host,
            port=settings.webhook_port,
            ssl_context=certificates.ssl_context,
            shutdown_timeout=timeout,
            limits=connection_limits(settings, max_connections=settings.webhook_max_connections),
        )

        def started(port: int) -> None:
            st.webhook_port = port
            st.webhook_serving.set()
            log.info("webhook_serving", host=settings.webhook_host, port=port, service=server_name)

        await server.serve(on_started=started)

    async def lead() -> None:
        """The leader's work: build the controller, run it until stopped (gracefully) or cancelled (lost lease)."""
        led = build_controller(settings, api_client, identity=st.identity, metrics=st.controller_metrics)
        st.controller = led
        st.controller_created.set()
        running = asyncio.create_task(led.run(), name="controller")
        stopping = asyncio.create_task(st.stop.wait())
        try:
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                running.result()
                raise RootTaskExited("controller")
            log.info("controller_stopping", in_flight=led.workers.in_flight)
            await led.stop()  # no more keys; in-flight reconciles finish
            await running
            log.info("controller_stopped")
        finally:
            stopping.cancel()
            if not running.done():  # cancelled: the lease is lost, stop every write now
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            st.controller = None
            st.controller_created.clear()
            if st.controller_metrics is not None:
                st.controller_metrics.controller_stopped()

    handed_over = asyncio.Event()
    if elector is None:
        handed_over.set()

    async def elect_and_lead() -> None:
        assert elector is not None
        await elector.run(lead, stop=st.stop)
        handed_over.set()
        await asyncio.Future()  # stopped and released: wait for the rest of the shutdown

    async def wait_for_stop() -> None:
        await st.stop.wait()
        if settings.shutdown_delay_seconds > 0:
            # Not ready any more, but still answering: the endpoints controller takes the pod out of
            # the webhook Service before the listener goes away, so no admission hits a closed port.
            st.draining = True
            log.info("shutdown_draining", seconds=settings.shutdown_delay_seconds)
            await asyncio.sleep(settings.shutdown_delay_seconds)
        await handed_over.wait()  # in-flight reconciles finished and the lease released (began at stop)
        raise _GracefulStop

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_root("stop", wait_for_stop()), name="stop")
            group.create_task(_root("probes", serve_probes()), name="probes")
            group.create_task(_root("metrics", serve_metrics()), name="metrics")
            group.create_task(_root("watchdog", watchdog.run()), name="watchdog")
            if certificates is not None:
                group.create_task(_root("certificates", certificates.run()), name="certificates")
                group.create_task(_root("webhook", serve_webhook()), name="webhook")
            if elector is not None:
                group.create_task(_root("leader", elect_and_lead()), name="leader")
            elif controller is not None:
                group.create_task(_root("controller", controller.run()), name="controller")
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
    return asyncio.run(run(settings))
