"""What one reconcile of one RayCluster works with: its dependencies and the cluster as read this pass.

The sub-reconcilers (children, pods, finalizer) are plain async functions of a ``ClusterPass``, so
each can be read alone and none keeps state between passes: everything it decides comes from the
cache, the spec and the expectations, which is what lets an operator restarted mid-way pick up
where its predecessor stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.builders.config import BuildConfig
from ray_operator.builders.names import ClusterRef
from ray_operator.controller.backoff import ReplacementBackoff
from ray_operator.controller.expectations import ScaleExpectations
from ray_operator.controller.writes import Writer
from ray_operator.kube.cache import Cache
from ray_operator.kube.events import EventRecorder, ObjectReference

__all__ = ["Caches", "ClusterPass", "Deps", "ReconcilerConfig", "StepFailed"]


@dataclass(frozen=True, kw_only=True)
class ReconcilerConfig:
    build: BuildConfig
    """How children are built (the operator switches of reference §2.23)."""
    resync_seconds: float = 300.0
    """A cluster with nothing to do is reconciled again after this long (KubeRay's 300 s default)."""
    short_requeue_seconds: float = 2.0
    """Requeue delay after a status change or while a multi-step flow (suspend, deletion) is under way.
    KubeRay's ``DefaultRequeueDuration``."""
    deletion_requeue_seconds: float = 10.0
    """While GCS FT deletion waits for head pods to go. KubeRay's 10 s."""
    create_concurrency: int = 16
    """How many pod creates of one pass are in flight at once (KubeRay creates one at a time)."""
    status_write_interval_seconds: float = 0.5
    """Minimum spacing of status writes that only move counts (``builders.status.status_can_wait``)."""


@dataclass(frozen=True, kw_only=True)
class Caches:
    """The reflector caches the controller reads (see ``kinds``)."""

    clusters: Cache
    pods: Cache
    services: Cache
    secrets: Cache
    service_accounts: Cache
    roles: Cache
    role_bindings: Cache
    ingresses: Cache
    jobs: Cache


@dataclass(frozen=True, kw_only=True)
class Deps:
    caches: Caches
    writer: Writer
    recorder: EventRecorder
    expectations: ScaleExpectations
    config: ReconcilerConfig
    now: Callable[[], datetime]
    random_bytes: Callable[[int], bytes]
    """Source of the auth token (``os.urandom`` in production)."""
    random_suffix: Callable[[], str]
    """Five lowercase characters for multi-host replica names."""
    monotonic: Callable[[], float] = time.monotonic
    """Seconds for spacing writes (never the wall clock, which can jump)."""
    log: Any
    backoff: ReplacementBackoff = field(default_factory=ReplacementBackoff)
    """Failures in a row per group, which slow the replacement of pods that keep dying."""


class StepFailed(Exception):
    """A sub-reconciler could not do its part; ``reason`` is the ReplicaFailure marker when there is one."""

    def __init__(self, message: str, *, reason: c.ConditionReason | None = None) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(kw_only=True)
class ClusterPass:
    """One RayCluster during one reconcile."""

    key: str
    raw: Mapping[str, Any]
    """The cached object (never mutated)."""
    cluster: RayCluster
    """The defaulted, validated model the builders take."""
    ref: ClusterRef
    deps: Deps
    requeue_after: float | None = None
    """The soonest requeue any step asked for (the pipeline adds the periodic resync)."""
    notes: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.ref.namespace

    @property
    def reference(self) -> ObjectReference:
        """The RayCluster as the ``regarding`` of its events (no resourceVersion: repeats aggregate)."""
        return ObjectReference(
            api_version=c.API_VERSION, kind=c.KIND, name=self.ref.name, namespace=self.ref.namespace, uid=self.ref.uid
        )

    def requeue(self, seconds: float) -> None:
        self.requeue_after = seconds if self.requeue_after is None else min(self.requeue_after, seconds)

    def normal(self, reason: str, action: str, note: str) -> None:
        self.deps.recorder.normal(self.reference, reason=reason, action=action, note=note)

    def warning(self, reason: str, action: str, note: str) -> None:
        self.deps.recorder.warning(self.reference, reason=reason, action=action, note=note)

    def owned(self, cache: Cache) -> list[dict[str, Any]]:
        """The objects of ``cache`` this RayCluster controls."""
        return cache.controlled_by(self.ref.uid)
