"""The RayCluster controller as one runnable: reflectors, work queue, workers and the event recorder.

``RayClusterController.run()`` starts a reflector per watched kind (``kinds``), routes cache changes
to work-queue keys, waits until every cache has synced, then runs the reconcile workers until
cancelled or ``stop()``-ped. Stopping finishes in-flight reconciles first (so no pod create is cut in
half), then the reflectors and the recorder (which flushes pending events briefly).

Routing, controller-runtime style:

* a RayCluster is queued when it is added or deleted, or when its generation, labels, annotations,
  finalizers or deletionTimestamp change — not on status-only updates, so the operator's own status
  writes do not wake it again (KubeRay's GenerationChanged | LabelChanged | AnnotationChanged);
* a child (pod, Service, …) queues the RayCluster that controls it, on every change: pod status moves
  the cluster status.

Decided against: a separate controller object per kind (one queue keyed by RayCluster is what every
change ultimately affects) and starting workers before the caches are complete (a partial cache looks
like missing pods, which would be created twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from ray_operator.controller.context import Caches, Deps, ReconcilerConfig
from ray_operator.controller.expectations import ScaleExpectations
from ray_operator.controller.kinds import CHILD_KINDS, RAYCLUSTERS, compact, owner_cluster_key
from ray_operator.controller.queue import QueueObserver, WorkQueue
from ray_operator.controller.reconciler import RayClusterReconciler
from ray_operator.controller.workers import ReconcileObserver, Workers
from ray_operator.controller.writes import WriteObserver, Writer
from ray_operator.kube.cache import Cache, CacheEvent
from ray_operator.kube.events import EventRecorder, EventRecorderConfig
from ray_operator.kube.reflector import Reflector, ReflectorConfig, ReflectorObserver

__all__ = ["RayClusterController"]

_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
_WATCHED_METADATA = ("generation", "labels", "annotations", "finalizers", "deletionTimestamp")


def _random_suffix() -> str:
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if obj is not None else None
    return meta if isinstance(meta, Mapping) else {}


def spec_or_metadata_changed(event: CacheEvent) -> bool:
    """Whether a RayCluster change is one the controller must act on (not a status-only update)."""
    if event.type != "MODIFIED":
        return True
    old, new = _meta(event.old), _meta(event.new)
    return any(old.get(key) != new.get(key) for key in _WATCHED_METADATA)


def watch_count(namespaces: Sequence[str] | None) -> int:
    """The watches a controller keeps open: one per watched kind per namespace (one for all namespaces)."""
    return (1 + len(CHILD_KINDS)) * (len(namespaces) if namespaces else 1)


class RayClusterController:
    """Everything that reconciles RayClusters; run it only where this replica may write (the leader)."""

    def __init__(
        self,
        *,
        api_client: Any,
        config: ReconcilerConfig,
        identity: str,
        namespaces: Sequence[str] | None = None,
        concurrency: int = 1,
        request_timeout_seconds: float = 30.0,
        reflector_config: ReflectorConfig | None = None,
        recorder_config: EventRecorderConfig | None = None,
        expectations_timeout_seconds: float = 30.0,
        queue_observer: QueueObserver | None = None,
        reconcile_observer: ReconcileObserver | None = None,
        reflector_observer: ReflectorObserver | None = None,
        write_observer: WriteObserver | None = None,
        logger: Any = None,
    ) -> None:
        self._log = logger if logger is not None else structlog.get_logger("ray_operator.controller")
        self.queue = WorkQueue(observer=queue_observer)
        self.recorder = EventRecorder(api_client=api_client, reporting_instance=identity, config=recorder_config)
        self.caches = Caches(
            clusters=Cache(),
            pods=Cache(),
            services=Cache(),
            secrets=Cache(),
            service_accounts=Cache(),
            roles=Cache(),
            role_bindings=Cache(),
            ingresses=Cache(),
            jobs=Cache(),
        )
        child_caches = {
            "pods": self.caches.pods,
            "services": self.caches.services,
            "secrets": self.caches.secrets,
            "serviceaccounts": self.caches.service_accounts,
            "roles": self.caches.roles,
            "rolebindings": self.caches.role_bindings,
            "ingresses": self.caches.ingresses,
            "jobs": self.caches.jobs,
        }
        common: dict[str, Any] = {
            "api_client": api_client,
            "namespaces": namespaces,
            "config": reflector_config,
            "observer": reflector_observer,
        }
        self.reflectors = [Reflector(resource=RAYCLUSTERS, cache=self.caches.clusters, transform=compact, **common)]
        for kind in CHILD_KINDS:
            self.reflectors.append(
                Reflector(
                    resource=kind.resource,
                    cache=child_caches[kind.name],
                    label_selector=kind.label_selector,
                    keep=kind.keep,
                    transform=kind.transform,
                    **common,
                )
            )
        self.expectations = ScaleExpectations(timeout=expectations_timeout_seconds)
        self.deps = Deps(
            caches=self.caches,
            writer=Writer(api_client=api_client, timeout=request_timeout_seconds, observer=write_observer),
            recorder=self.recorder,
            expectations=self.expectations,
            config=config,
            now=lambda: datetime.now(UTC),
            random_bytes=os.urandom,
            random_suffix=_random_suffix,
            log=self._log,
        )
        self.reconciler = RayClusterReconciler(deps=self.deps)
        self.workers = Workers(
            queue=self.queue, reconcile=self.reconciler.reconcile, concurrency=concurrency, observer=reconcile_observer
        )
        self.caches.clusters.add_listener(self._on_cluster)
        for cache in child_caches.values():
            cache.add_listener(self._on_child)
        self.synced = asyncio.Event()
        """Set once every reflector has listed: from then on the workers run."""

    def _on_cluster(self, event: CacheEvent) -> None:
        if spec_or_metadata_changed(event):
            self.queue.add(event.key)

    def _on_child(self, event: CacheEvent) -> None:
        for obj in (event.old, event.new):
            if obj is not None and (key := owner_cluster_key(obj)) is not None:
                self.queue.add(key)

    async def run(self) -> None:
        """Reflect, sync, reconcile; until cancelled (which stops gracefully, in-flight reconciles first)."""
        async with asyncio.TaskGroup() as group:
            background = [group.create_task(self.recorder.run(), name="event-recorder")]
            background += [group.create_task(r.run(), name=f"reflector-{r.resource}") for r in self.reflectors]
            try:
                await asyncio.gather(*(r.synced.wait() for r in self.reflectors))
                self.synced.set()
                self._log.info("controller_synced", clusters=len(self.caches.clusters), pods=len(self.caches.pods))
                await self.workers.run()
            finally:
                await self.workers.stop()
                with contextlib.suppress(Exception):
                    await self.recorder.flush(timeout=2.0)
                for task in background:
                    task.cancel()

    async def stop(self) -> None:
        """Finish in-flight reconciles and take no more keys; ``run()`` then returns."""
        await self.workers.stop()
