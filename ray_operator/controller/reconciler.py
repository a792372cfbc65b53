"""``reconcile(namespace/name)``: one level-based pass over one RayCluster (reference §2.1).

The pipeline, in KubeRay's order:

1. read the RayCluster **from the cache**; gone → forget its expectations, done;
2. ``spec.managedBy`` names another controller → leave it alone;
3. **validate** with the same rules as the admission webhook (``ray_operator.api.validation``): webhooks
   may be off, or the object may predate a rule. An invalid spec or metadata gets a Warning event and
   **no change at all** — running pods are never deleted because of a typo — and waits for the next
   edit; an invalid status (Suspending and Suspended both True) is retried shortly;
4. the GCS FT **finalizer** (and, while deleting, the whole deletion path);
5. the **children** (autoscaler RBAC, Ingress, auth Secret, Services), then the **pods**; the first
   failure stops the chain and becomes the ``ReplicaFailure`` condition when it carries a marker;
6. the **status**, computed by ``builders.status`` from the cache and written through ``/status`` only
   when ``status_changed`` says a field that matters moved: a steady cluster costs zero writes; a
   change that only moves progress (``status_can_wait``) waits until ``status_write_interval_seconds``
   after the previous write and is folded into it, so pods turning Ready one by one cost about three
   writes per cluster, not one per pod;
7. the requeue: soon after a status write or while a flow is under way, else the periodic resync.

A failed step is raised after the status is written, so the work queue retries the key with its
per-key exponential backoff; a 409 on any write is handled the same way: retried from fresh state,
never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.defaulting import apply_defaults
from ray_operator.api.models import RayCluster
from ray_operator.api.validation import FieldError, validate
from ray_operator.builders.names import cluster_ref, head_service_name
from ray_operator.builders.status import ReconcileError, compute_status, status_can_wait, status_changed
from ray_operator.controller.children import reconcile_children
from ray_operator.controller.context import ClusterPass, Deps, StepFailed
from ray_operator.controller.finalizer import reconcile_finalizer
from ray_operator.controller.podsync import reconcile_pods
from ray_operator.controller.workers import Result, RetryableError
from ray_operator.kube.client import ApiError

__all__ = ["RayClusterReconciler", "ReconcileFailed"]

E = c.EventReason
A = c.EventAction
MAX_ERRORS_IN_EVENT = 5


class ReconcileFailed(RetryableError):
    """A step failed this pass (or a write met a conflict); retried with backoff, the status says why."""


def _managed_elsewhere(raw: Mapping[str, Any]) -> bool:
    spec = raw.get("spec")
    managed_by = spec.get("managedBy") if isinstance(spec, Mapping) else None
    return managed_by is not None and managed_by != c.MANAGED_BY_KUBERAY


def _summary(errors: list[FieldError]) -> str:
    shown = "; ".join(error.text for error in errors[:MAX_ERRORS_IN_EVENT])
    more = len(errors) - MAX_ERRORS_IN_EVENT
    return shown + (f"; and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class _WrittenStatus:
    status: Mapping[str, Any]
    based_on: str | None
    """The resourceVersion the write was sent against (what a stale cache still shows)."""
    resource_version: str | None
    """The resourceVersion the write produced."""


class RayClusterReconciler:
    """Reconciles RayClusters from the caches in ``deps``; ``reconcile`` is the work queue's callback."""

    def __init__(self, *, deps: Deps) -> None:
        self._deps = deps
        self.passes = 0
        """Reconciles run so far (every key, every outcome)."""
        self._written: dict[str, _WrittenStatus] = {}
        """The last status written per cluster, until the cache shows it (dropped then: bounded memory)."""
        self._written_at: dict[str, float] = {}
        """When each cluster's status was last written, for ``status_write_interval_seconds``."""

    async def reconcile(self, key: str) -> Result:
        deps = self._deps
        self.passes += 1
        namespace, _, name = key.partition("/")
        raw = deps.caches.clusters.get(namespace, name)
        if raw is None:
            deps.expectations.forget_cluster(key)
            deps.backoff.forget_cluster(key)
            self._written.pop(key, None)
            self._written_at.pop(key, None)
            return Result()
        if _managed_elsewhere(raw):
            return Result()
        refused = self._refuse_invalid(key, raw)
        if refused is not None:
            return refused
        cluster = RayCluster.model_validate(apply_defaults(raw))
        p = ClusterPass(key=key, raw=raw, cluster=cluster, ref=cluster_ref(cluster), deps=deps)
        if await reconcile_finalizer(p):
            return Result(requeue_after=p.requeue_after)

        failure: ReconcileError | None = None
        head_service: Mapping[str, Any] | None = deps.caches.services.get(namespace, head_service_name(cluster))
        try:
            head_service = await reconcile_children(p) or head_service
            await reconcile_pods(p)
        except StepFailed as exc:
            failure = ReconcileError(message=str(exc), reason=exc.reason)
        except ApiError as exc:
            failure = ReconcileError(message=str(exc))
        try:
            await self._write_status(p, head_service, failure)
        except ApiError as exc:
            if exc.code != 409:
                raise
            raise ReconcileFailed(f"status not written, retrying from fresh state: {exc.message}") from exc
        if failure is not None:
            raise ReconcileFailed(failure.message)
        resync = deps.config.resync_seconds
        return Result(requeue_after=resync if p.requeue_after is None else min(p.requeue_after, resync))

    def _refuse_invalid(self, key: str, raw: Mapping[str, Any]) -> Result | None:
        verdict = validate(raw)
        if verdict.ok:
            return None
        status_errors = [error for error in verdict.errors if error.path.startswith("status")]
        other = [error for error in verdict.errors if not error.path.startswith("status")]
        regarding = {**raw, "apiVersion": c.API_VERSION, "kind": c.KIND}
        if other:
            reason = (
                E.INVALID_RAYCLUSTER_METADATA
                if all(error.path.startswith("metadata") for error in other)
                else E.INVALID_RAYCLUSTER_SPEC
            )
            note = f"RayCluster {key} is invalid and is not reconciled (running pods are left alone): {_summary(other)}"
            self._deps.recorder.warning(regarding, reason=reason, action=A.VALIDATE, note=note)
            self._deps.log.warning("raycluster_invalid", raycluster=key, errors=[e.text for e in other])
            return Result()  # an edit of the spec brings it back
        note = f"RayCluster {key} has an inconsistent status: {_summary(status_errors)}"
        self._deps.recorder.warning(regarding, reason=E.INVALID_RAYCLUSTER_STATUS, action=A.VALIDATE, note=note)
        return Result(requeue_after=self._deps.config.short_requeue_seconds)

    async def _write_status(
        self, p: ClusterPass, head_service: Mapping[str, Any] | None, failure: ReconcileError | None
    ) -> None:
        deps = self._deps
        new = compute_status(
            cluster=p.cluster,
            pods=p.owned(deps.caches.pods),
            head_service=head_service,
            now=deps.now(),
            reconcile_error=failure,
        )
        old = p.raw.get("status")
        cached = old if isinstance(old, Mapping) else None
        if not status_changed(cached, new):
            return
        seen_rv = p.raw.get("metadata", {}).get("resourceVersion")
        written = self._written.get(p.key)
        if written is not None and seen_rv != written.based_on:
            # The cache moved past the version our write replaced: it shows our write (or newer), so the
            # cached status is the one to compare with, and the copy is no longer needed.
            del self._written[p.key]
            written = None
        if written is not None and not status_changed(written.status, new):
            return  # written by the previous pass; the cache has not caught up yet
        previous = written.status if written is not None else cached
        last_write = self._written_at.get(p.key)
        if previous is not None and last_write is not None and status_can_wait(previous, new):
            wait = last_write + deps.config.status_write_interval_seconds - deps.monotonic()
            if wait > 0:
                p.requeue(wait)  # pods coming up one by one: fold their progress into one write
                return
        base = p.raw
        if written is not None and seen_rv == written.based_on:
            # The cache still shows the object as it was before our own last write: writing against
            # that resourceVersion could only earn a 409. The write's answer is the newer version.
            base = {**p.raw, "metadata": {**p.raw["metadata"], "resourceVersion": written.resource_version}}
        updated = await deps.writer.replace_status(base, new)
        self._written_at[p.key] = deps.monotonic()
        self._written[p.key] = _WrittenStatus(
            status=new,
            based_on=base.get("metadata", {}).get("resourceVersion"),
            resource_version=(updated.get("metadata") or {}).get("resourceVersion"),
        )
        # A status write can move the suspend flow forward; look again soon (KubeRay's 2 s).
        p.requeue(deps.config.short_requeue_seconds)
