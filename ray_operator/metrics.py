"""Prometheus metrics of the operator process, under controller-runtime's metric names.

Dashboards and alerts written for kubebuilder operators (``controller_runtime_webhook_*``) work on
ours unchanged: the webhook counters are labelled ``webhook`` (the path) and ``code`` (the HTTP
status), the latency histogram uses Prometheus' default buckets like controller-runtime. Every
metric lives in a registry created per process and passed explicitly, so tests can run several
operators in one interpreter and read exact values.

Decided against: the global ``prometheus_client.REGISTRY`` (shared mutable state between tests) and
per-request labels beyond path and code (unbounded cardinality).
"""

from __future__ import annotations

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
