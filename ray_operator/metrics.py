"""Prometheus metrics of the operator process, under controller-runtime's metric names.

Dashboards and alerts written for kubebuilder operators (``controller_runtime_webhook_*``,
``controller_runtime_reconcile_*``, ``workqueue_*``, ``leader_election_master_status``) work on ours
unchanged; ``ControllerMetrics`` is the controller side (see its docstring), ``RayClustersByState``
counts clusters by state at scrape time. The webhook counters are labelled ``webhook`` (the path)
and ``code`` (the HTTP status), the latency histogram uses Prometheus' default buckets like
controller-runtime. Every metric lives in a registry created per process and passed explicitly, so tests can run several
operators in one interpreter and read exact values.

Decided against: the global ``prometheus_client.REGISTRY`` (shared mutable state between tests) and
per-request labels beyond path and code (unbounded cardinality).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)
from prometheus_client.core import GaugeMetricFamily


def new_registry(*, process_metrics: bool = True) -> CollectorRegistry:
    """A fresh registry, with the process/platform/gc collectors the default registry would have."""
    registry = CollectorRegistry(auto_describe=True)
    if process_metrics:
        process_collector.ProcessCollector(registry=registry)
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
    return registry


class WebhookMetrics:
    """controller-runtime's webhook metrics; implements ``webhook.app.RequestObserver``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests_total = Counter(
            "controller_runtime_webhook_requests_total",
            "Total number of admission requests by HTTP status code.",
            ["webhook", "code"],
            registry=registry,
        )
        self.latency_seconds = Histogram(
            "controller_runtime_webhook_latency_seconds",
            "Histogram of the latency of processing admission requests",
            ["webhook"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "controller_runtime_webhook_requests_in_flight",
            "Current number of admission requests being served.",
            ["webhook"],
            registry=registry,
        )
        self._by_path: dict[str, tuple[Any, Any]] = {}
        self._by_code: dict[tuple[str, int], Any] = {}

    def _children(self, webhook: str) -> tuple[Any, Any]:
        # Labelled children are looked up once per path: ``labels()`` takes a lock on every call.
        children = self._by_path.get(webhook)
        if children is None:
            children = self._by_path[webhook] = (self.in_flight.labels(webhook), self.latency_seconds.labels(webhook))
        return children

    def started(self, webhook: str) -> None:
        self._children(webhook)[0].inc()

    def finished(self, webhook: str, code: int | None, seconds: float) -> None:
        in_flight, latency = self._children(webhook)
        in_flight.dec()
        if code is None:  # abandoned by the client: nothing was answered
            return
        latency.observe(seconds)
        counter = self._by_code.get((webhook, code))
        if counter is None:
            counter = self._by_code[(webhook, code)] = self.requests_total.labels(webhook, str(code))
        counter.inc()


def build_metrics_app(registry: CollectorRegistry) -> web.Application:
    """``GET /metrics`` in the Prometheus text format."""

    async def metrics(_: web.Request) -> web.Response:
        resp = web.Response(body=generate_latest(registry))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


RECONCILE_TIME_BUCKETS = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    *(1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0, 25.0, 30.0),
    *(40.0, 50.0, 60.0),
)
"""controller-runtime's ``controller_runtime_reconcile_time_seconds`` buckets (5 ms to 60 s)."""

WORKQUEUE_BUCKETS = tuple(10.0**exponent for exponent in range(-8, 4))
"""client-go's workqueue histograms: ``ExponentialBuckets(10e-9, 10, 12)``, 10 ns to 1000 s."""


class ControllerMetrics:
    """The controller's series; one object is every observer the controller, its queue, reflectors,
    writer and the leader elector take (``QueueObserver``, ``ReconcileObserver``, ``ReflectorObserver``,
    ``WriteObserver``, ``LeaderObserver``), so ``controller/`` and ``kube/`` never import prometheus.

    It outlives each controller: a replica that loses and wins the lease again keeps counting in the
    same series. controller-runtime's names and labels where they exist (``controller``,
    ``result``; ``name`` and ``controller`` on the workqueue series; ``name`` = the Lease on
    ``leader_election_master_status``); ours are prefixed ``ray_operator_``. The per-RayCluster pod
    counters are labelled by namespace and name: one series per cluster, which is what lets a dashboard
    show churn per cluster; their number grows with the clusters a replica has reconciled.
    """

    def __init__(self, registry: CollectorRegistry, *, controller: str = "raycluster", lease_name: str = "") -> None:
        self.controller = controller
        self.lease_name = lease_name
        self.reconcile_total = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=registry,
        )
        self.reconcile_errors_total = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            ["controller"],
            registry=registry,
        )
        self.reconcile_time_seconds = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            buckets=RECONCILE_TIME_BUCKETS,
            registry=registry,
        )
        self.max_concurrent_reconciles = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            ["controller"],
            registry=registry,
        )
        queue_labels = ["name", "controller"]
        self.depth = Gauge("workqueue_depth", "Current depth of workqueue", queue_labels, registry=registry)
        self.adds_total = Counter(
            "workqueue_adds_total", "Total number of adds handled by workqueue", queue_labels, registry=registry
        )
        self.retries_total = Counter(
            "workqueue_retries_total", "Total number of retries handled by workqueue", queue_labels, registry=registry
        )
        self.queue_duration_seconds = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            queue_labels,
            buckets=WORKQUEUE_BUCKETS,
            registry=registry,
        )
        self.work_duration_seconds = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            queue_labels,
            buckets=WORKQUEUE_BUCKETS,
            registry=registry,
        )
        self.master_status = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.",
            ["name"],
            registry=registry,
        )
        self.pods_created_total = Counter(
            "ray_operator_pods_created_total",
            "Pods the operator created, per RayCluster.",
            ["namespace", "raycluster"],
            registry=registry,
        )
        self.pods_deleted_total = Counter(
            "ray_operator_pods_deleted_total",
            "Pods the operator deleted, per RayCluster.",
            ["namespace", "raycluster"],
            registry=registry,
        )
        self.status_writes_total = Counter(
            "ray_operator_status_writes_total",
            "RayCluster status writes, by result (success, or error when the server refused it, e.g. a 409).",
            ["result"],
            registry=registry,
        )
        self.api_writes_total = Counter(
            "ray_operator_api_writes_total",
            "Every API write of the controller, by verb, resource and result.",
            ["verb", "resource", "result"],
            registry=registry,
        )
        self.reflector_lists_total = Counter(
            "ray_operator_reflector_lists_total",
            "Complete lists by reflectors (the first of each namespace included).",
            ["resource"],
            registry=registry,
        )
        self.reflector_relists_total = Counter(
            "ray_operator_reflector_relists_total",
            "Lists after a namespace's first one: after 410 Gone or errors while listing.",
            ["resource"],
            registry=registry,
        )
        self.reflector_watch_restarts_total = Counter(
            "ray_operator_reflector_watch_restarts_total",
            "Watches that ended and were followed by another attempt, by reason (closed, expired, inactivity, error).",
            ["resource", "reason"],
            registry=registry,
        )
        # client-go names the queue after the controller: name="raycluster", controller="raycluster".
        self._queue = (controller, controller)
        self._depth = self.depth.labels(*self._queue)
        self._adds = self.adds_total.labels(*self._queue)
        self._retries = self.retries_total.labels(*self._queue)
        self._queue_latency = self.queue_duration_seconds.labels(*self._queue)
        self._work = self.work_duration_seconds.labels(*self._queue)
        self._reconcile_time = self.reconcile_time_seconds.labels(controller)
        self._errors = self.reconcile_errors_total.labels(controller)
        self.reconcile_errors_total.labels(controller)  # the series exists (at 0) before the first error
        for result in ("success", "error", "requeue_after"):
            self.reconcile_total.labels(controller, result)
        if lease_name:
            self.master_status.labels(lease_name).set(0)

    # QueueObserver
    def on_depth(self, depth: int) -> None:
        self._depth.set(depth)

    def on_add(self) -> None:
        self._adds.inc()

    def on_retry(self) -> None:
        self._retries.inc()

    def on_queue_latency(self, seconds: float) -> None:
        self._queue_latency.observe(seconds)

    def on_work_duration(self, seconds: float) -> None:
        self._work.observe(seconds)

    # ReconcileObserver
    def on_reconcile(self, *, result: str, seconds: float) -> None:
        self.reconcile_total.labels(self.controller, result).inc()
        self._reconcile_time.observe(seconds)
        if result == "error":
            self._errors.inc()

    # ReflectorObserver
    def on_list(self, *, resource: str, namespace: str | None, relist: bool, objects: int, seconds: float) -> None:
        self.reflector_lists_total.labels(resource).inc()
        if relist:
            self.reflector_relists_total.labels(resource).inc()

    def on_watch_restart(self, *, resource: str, namespace: str | None, reason: str) -> None:
        self.reflector_watch_restarts_total.labels(resource, reason).inc()

    # WriteObserver
    def on_write(self, *, verb: str, resource: str, namespace: str, ok: bool, cluster: str | None) -> None:
        result = "success" if ok else "error"
        self.api_writes_total.labels(verb, resource, result).inc()
        if verb == "update_status":
            self.status_writes_total.labels(result).inc()
        elif resource == "pods" and ok and cluster is not None and verb in ("create", "delete"):
            cluster_ns, _, name = cluster.partition("/")
            counter = self.pods_created_total if verb == "create" else self.pods_deleted_total
            counter.labels(cluster_ns or namespace, name).inc()

    # LeaderObserver
    def on_leading(self, leading: bool) -> None:
        self.master_status.labels(self.lease_name).set(1 if leading else 0)

    def controller_started(self, *, concurrency: int) -> None:
        self.max_concurrent_reconciles.labels(self.controller).set(concurrency)

    def controller_stopped(self) -> None:
        self._depth.set(0)


class RayClustersByState:
    """``ray_operator_rayclusters{state}``: the RayClusters in the leader's cache, by ``status.state``, at scrape
    time (``none`` before a first status). A standby has no cache and reports no series."""

    def __init__(self, clusters: Callable[[], Iterable[Mapping[str, Any]] | None]) -> None:
        self._clusters = clusters

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "ray_operator_rayclusters", "RayClusters this replica reconciles, by status.state.", labels=["state"]
        )
        clusters = self._clusters()
        if clusters is not None:
            counts: dict[str, int] = {}
            for cluster in clusters:
                status = cluster.get("status")
                state = status.get("state") if isinstance(status, Mapping) else None
                key = str(state) if state else "none"
                counts[key] = counts.get(key, 0) + 1
            for state, count in sorted(counts.items()):
                family.add_metric([state], count)
        yield family

    def describe(self) -> list[GaugeMetricFamily]:
        return []
