"""GCS fault tolerance's Redis cleanup on deletion: the finalizer and its Job (reference §2.11, §7.7).

With Redis-backed GCS FT the cluster's metadata outlives its pods in Redis, under a storage namespace
that only this cluster uses; deleting the RayCluster must remove it, so the finalizer
``ray.io/gcs-ft-redis-cleanup-finalizer`` holds the deletion until a cleanup Job has run:

1. while the cluster lives, the finalizer is added (and the reconcile waits one short requeue, so the
   finalizer is surely stored before any pod exists);
2. once deletion starts, every pod is deleted — the head first, so no worker reconnects to it;
3. after ``ray.io/gcs-ft-deletion-timeout`` seconds (default 300) the finalizer is removed anyway with a
   ``ForceDeletedStuckCluster`` warning. Unlike KubeRay, this check comes *before* waiting for the head
   pod, so a head stuck Terminating (a lost node) cannot hold the RayCluster forever either;
4. when the head pods are gone: the cleanup Job is created (``CreatedRedisCleanupJob``), and once it has
   finished — succeeded or failed; a failed cleanup is reported, never retried forever — the finalizer is
   removed and garbage collection takes the rest.

Finalizer edits are merge patches that carry the resourceVersion they were computed from, so a finalizer
someone else added meanwhile is never dropped (409, retried from fresh state).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ray_operator.api import constants as c
from ray_operator.builders import gcsft, pods
from ray_operator.builders.names import owned_by
from ray_operator.controller.context import ClusterPass, StepFailed
from ray_operator.controller.kinds import JOBS, PODS, RAYCLUSTERS
from ray_operator.controller.podplan import is_terminating
from ray_operator.kube.client import ApiError

__all__ = ["reconcile_finalizer"]

FINALIZER = c.GCS_FT_REDIS_CLEANUP_FINALIZER
E = c.EventReason
A = c.EventAction


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _finalizers(raw: Mapping[str, Any]) -> list[str]:
    return [str(item) for item in _meta(raw).get("finalizers") or ()]


async def _set_finalizers(p: ClusterPass, finalizers: list[str]) -> None:
    patch = {"metadata": {"resourceVersion": _meta(p.raw).get("resourceVersion"), "finalizers": finalizers}}
    try:
        await p.deps.writer.merge_patch(RAYCLUSTERS, p.namespace, p.ref.name, patch)
    except ApiError as exc:
        raise StepFailed(f"failed to update the finalizers of RayCluster {p.key}: {exc}") from exc


def _deleting_for(p: ClusterPass) -> float:
    raw = str(_meta(p.raw).get("deletionTimestamp") or "")
    try:
        started = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (p.deps.now() - started).total_seconds()


async def reconcile_finalizer(p: ClusterPass) -> bool:
    """Add or honour the cleanup finalizer; True when the reconcile must stop here (deleting, or just added)."""
    deps = p.deps
    finalizers = _finalizers(p.raw)
    if not _meta(p.raw).get("deletionTimestamp"):
        needed = gcsft.needs_redis_cleanup_finalizer(cluster=p.cluster, config=deps.config.build)
        if needed and FINALIZER not in finalizers:
            await _set_finalizers(p, [*finalizers, FINALIZER])
            p.requeue(deps.config.short_requeue_seconds)
            return True
        return False
    if FINALIZER not in finalizers:
        return True  # nothing of ours holds the deletion: garbage collection removes the children
    timeout = gcsft.deletion_timeout_seconds(p.cluster)
    if _deleting_for(p) >= timeout:
        await _set_finalizers(p, [item for item in finalizers if item != FINALIZER])
        p.warning(
            E.FORCE_DELETED_STUCK_CLUSTER,
            A.CLEANUP,
            f"Removed finalizer {FINALIZER} from RayCluster {p.key} after {timeout}s without a finished Redis cleanup; "
            "the cluster's GCS data may remain in Redis",
        )
        return True
    mine = p.owned(deps.caches.pods)
    heads = [pod for pod in mine if (_meta(pod).get("labels") or {}).get(c.RAY_NODE_TYPE_LABEL) == c.NodeType.HEAD]
    workers = [pod for pod in mine if (_meta(pod).get("labels") or {}).get(c.RAY_NODE_TYPE_LABEL) == c.NodeType.WORKER]
    for pod in [*heads, *workers]:
        if not is_terminating(pod):
            meta = _meta(pod)
            await deps.writer.delete(PODS, p.namespace, str(meta.get("name")), uid=meta.get("uid"))
    if heads:
        p.requeue(deps.config.deletion_requeue_seconds)
        return True
    job_name = gcsft.redis_cleanup_job_name(p.cluster)
    job = deps.caches.jobs.get(p.namespace, job_name)
    if job is not None and owned_by(job, p.ref):
        if gcsft.redis_cleanup_job_finished(job):
            await _set_finalizers(p, [item for item in finalizers if item != FINALIZER])
        else:
            p.requeue(deps.config.short_requeue_seconds)
        return True
    head_pod = pods.build_head_pod(cluster=p.cluster, config=deps.config.build)
    body = gcsft.build_redis_cleanup_job(cluster=p.cluster, head_pod=head_pod, config=deps.config.build)
    try:
        await deps.writer.create(JOBS, p.namespace, body)
    except ApiError as exc:
        if exc.code != 409:
            p.warning(E.FAILED_TO_CREATE_REDIS_CLEANUP_JOB, A.CREATE, f"Failed to create Job {job_name}: {exc.message}")
            raise StepFailed(f"failed to create the Redis cleanup Job: {exc}") from exc
    else:
        p.normal(E.CREATED_REDIS_CLEANUP_JOB, A.CREATE, f"Created Redis cleanup Job {p.namespace}/{job_name}")
    p.requeue(deps.config.short_requeue_seconds)
    return True
