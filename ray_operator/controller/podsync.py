"""The pods of one RayCluster: suspension, Recreate upgrades, the head, each worker group (reference §2.12-2.15).

``podplan`` decides from the cached pods; this module carries the decisions out and keeps the books
that make the cache trustworthy: every create and delete is recorded in the scale expectations, and a
group (or the head) whose last writes the cache has not shown yet is skipped this pass — the fix for
KubeRay issue #105, a second head created while the cache still missed the first.

Order and rules:

1. Pods this RayCluster controls whose operator labels (``ray.io/cluster``, ``ray.io/node-type``,
   ``ray.io/group``, ``ray.io/identifier``, ``ray.io/is-ray-node``) were edited by hand get them back;
   a pod the controller cannot place (its labels gone and its generated name matching no group) is
   deleted rather than left running uncounted.
2. **Suspend** is atomic: once ``RayClusterSuspending`` is True every pod goes, even if ``suspend`` is
   flipped back meanwhile; while ``spec.suspend`` is true nothing is created. Unlike KubeRay, the pass
   that first sees ``suspend: true`` already creates nothing.
3. **Recreate**: when the head's ``ray.io/upgrade-strategy-recreate-hash`` differs from the spec's, every
   pod is deleted and the expectations reset; a head stamped by another operator version only gets its
   annotations refreshed (an operator upgrade is not a spec change).
4. **RollingUpdate** of the head (``controller.rollout`` for the workers): when the head pod's
   ``ray.io/template-revision`` is not the spec's, with GCS fault tolerance on the head alone is deleted
   (and recreated by step 5) once no worker group has old-revision pods left — head last, workers keep
   running and reconnect (§7.6); without GCS FT a head change restarts the whole cluster anyway, so every
   pod is deleted at once, as Recreate does, with a ``RestartingCluster`` event (admission warned).
5. The **head**, then each **worker group** in spec order, then pods of groups no longer in the spec
   (deleted: KubeRay leaves them running forever). Under RollingUpdate a group with old-revision pods is
   planned by ``controller.rollout``; a stalled one gets a ``RolloutStalled`` Warning naming the pod.
   A group (or head) whose pods keep failing has its creates held back by ``controller.backoff``, with
   a ``ReplacementBackOff`` Warning.

Creates of one pass run concurrently (bounded by ``create_concurrency``); KubeRay creates one by one,
which makes scaling a group to 100 take 100 round trips in a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import WorkerGroupSpec
from ray_operator.builders import autoscaler, gcsft, pods, revisions, upgrades
from ray_operator.builders.names import head_pod_name_prefix, worker_pod_name_prefix
from ray_operator.builders.replicas import desired_worker_count, effective_num_of_hosts, is_group_suspended
from ray_operator.controller.context import ClusterPass, StepFailed
from ray_operator.controller.kinds import PODS
from ray_operator.controller.podplan import (
    CreateWorker,
    DeletePod,
    RolloutInputs,
    is_terminating,
    plan_head,
    plan_worker_group,
)
from ray_operator.controller.rollout import RolloutDecision
from ray_operator.kube.client import ApiError

__all__ = ["reconcile_pods", "suspending"]

E = c.EventReason
A = c.EventAction
R = c.ConditionReason
HEAD_GROUP = ""
"""The expectations key of the head (worker groups use their names)."""
UNPLACED_GROUP = "(unplaced)"
"""The expectations key of pods that belong to no group (deleted, never planned)."""
_OPERATOR_LABELS = (
    c.RAY_IS_RAY_NODE_LABEL,
    c.RAY_CLUSTER_LABEL,
    c.RAY_NODE_TYPE_LABEL,
    c.RAY_GROUP_LABEL,
    c.RAY_IDENTIFIER_LABEL,
)

Pod = Mapping[str, Any]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = _meta(obj).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _condition_true(raw: Mapping[str, Any], kind: str) -> bool:
    status = raw.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    return any(
        isinstance(cond, Mapping) and cond.get("type") == kind and cond.get("status") == "True"
        for cond in conditions or ()
    )


def suspending(raw: Mapping[str, Any]) -> bool:
    """Whether a suspension is under way (it completes even if ``spec.suspend`` is flipped back)."""
    return _condition_true(raw, c.ConditionType.RAY_CLUSTER_SUSPENDING)


async def _bounded(calls: Sequence[Callable[[], Awaitable[None]]], limit: int) -> list[BaseException]:
    """Run ``calls`` with at most ``limit`` in flight; the exceptions they raised, in order."""
    gate = asyncio.Semaphore(max(1, limit))

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await call()

    results = await asyncio.gather(*(one(call) for call in calls), return_exceptions=True)
    return [result for result in results if isinstance(result, BaseException)]


def _first_failure(failures: list[BaseException]) -> None:
    for failure in failures:
        if not isinstance(failure, StepFailed | ApiError):
            raise failure  # a bug, not an API answer: let it surface
    if failures:
        raise failures[0]


# --- which pod is which -------------------------------------------------------------------------------


def _role(p: ClusterPass, pod: Pod) -> tuple[str, str] | None:
    """(node type, group label value) of a pod this cluster controls; from labels, else its generated name."""
    labels = _labels(pod)
    node_type, group = labels.get(c.RAY_NODE_TYPE_LABEL), labels.get(c.RAY_GROUP_LABEL)
    if node_type == c.NodeType.HEAD:
        return (str(c.NodeType.HEAD), c.HEAD_GROUP_LABEL_VALUE)
    if node_type == c.NodeType.WORKER and isinstance(group, str):
        return (str(c.NodeType.WORKER), group)
    meta = _meta(pod)
    generated = str(meta.get("generateName") or meta.get("name") or "")
    deterministic = p.deps.config.build.enable_deterministic_head_pod_name
    if generated == head_pod_name_prefix(p.ref.name, deterministic=deterministic):
        return (str(c.NodeType.HEAD), c.HEAD_GROUP_LABEL_VALUE)
    for spec in p.cluster.spec.worker_group_specs or ():
        if generated == worker_pod_name_prefix(p.ref.name, spec.group_name):
            return (str(c.NodeType.WORKER), spec.group_name)
    return None


def _wanted_labels(p: ClusterPass, role: tuple[str, str]) -> dict[str, str]:
    node_type, group = role
    if node_type == c.NodeType.HEAD:
        labels = pods.head_pod_labels(p.cluster)
    else:
        spec = next((g for g in p.cluster.spec.worker_group_specs or () if g.group_name == group), None)
        if spec is None:
            return {}
        labels = pods.worker_pod_labels(p.cluster, spec)
    return {key: labels[key] for key in _OPERATOR_LABELS if key in labels}


async def _repair_labels(p: ClusterPass, pod: Pod, role: tuple[str, str]) -> None:
    present = _labels(pod)
    missing = {key: value for key, value in _wanted_labels(p, role).items() if present.get(key) != value}
    if not missing:
        return
    name = str(_meta(pod).get("name"))
    try:
        await p.deps.writer.merge_patch(PODS, p.namespace, name, {"metadata": {"labels": missing}})
    except ApiError as exc:
        raise StepFailed(f"failed to restore the labels of Pod {p.namespace}/{name}: {exc}") from exc
    restored = ", ".join(f"{key}={value}" for key, value in sorted(missing.items()))
    p.normal(E.UPDATED_POD_LABELS, A.UPDATE, f"Restored the labels of Pod {p.namespace}/{name}: {restored}")


# --- writes ---------------------------------------------------------------------------------------------


async def _delete(p: ClusterPass, delete: DeletePod, *, group: str, head: bool, reason: E | None = None) -> None:
    try:
        gone = await p.deps.writer.delete(PODS, p.namespace, delete.name, uid=delete.uid or None)
    except ApiError as exc:
        failed = E.FAILED_TO_DELETE_HEAD_POD if head else E.FAILED_TO_DELETE_WORKER_POD
        marker = R.FAILED_DELETE_HEAD_POD if head else R.FAILED_DELETE_WORKER_POD
        p.warning(failed, A.DELETE, f"Failed to delete Pod {p.namespace}/{delete.name}: {exc.message or exc}")
        raise StepFailed(f"failed to delete Pod {p.namespace}/{delete.name}: {exc}", reason=marker) from exc
    p.deps.expectations.expect_delete(p.key, group, delete.name)
    if gone:
        done = reason or (E.DELETED_HEAD_POD if head else E.DELETED_WORKER_POD)
        kind = "head" if head else "worker"
        p.normal(done, A.DELETE, f"Deleted {kind} Pod {p.namespace}/{delete.name}: {delete.why}")


async def _create(p: ClusterPass, body: Mapping[str, Any], *, group: str, head: bool) -> None:
    kind = "head" if head else "worker"
    try:
        created = await p.deps.writer.create(PODS, p.namespace, body)
    except ApiError as exc:
        if head and exc.code == 409:
            p.requeue(p.deps.config.short_requeue_seconds)  # a deterministic name still held by the old head
            return
        failed = E.FAILED_TO_CREATE_HEAD_POD if head else E.FAILED_TO_CREATE_WORKER_POD
        marker = R.FAILED_CREATE_HEAD_POD if head else R.FAILED_CREATE_WORKER_POD
        p.warning(failed, A.CREATE, f"Failed to create {kind} Pod for RayCluster {p.key}: {exc.message or exc}")
        raise StepFailed(f"failed to create a {kind} Pod: {exc}", reason=marker) from exc
    name = str(_meta(created).get("name"))
    p.deps.expectations.expect_create(p.key, group, name)
    p.normal(E.CREATED_HEAD_POD if head else E.CREATED_WORKER_POD, A.CREATE, f"Created {kind} Pod {p.namespace}/{name}")


def _pod_deleter(p: ClusterPass, delete: DeletePod, **kw: Any) -> Callable[[], Awaitable[None]]:
    return lambda: _delete(p, delete, **kw)


def _pod_creator(p: ClusterPass, body: Mapping[str, Any], **kw: Any) -> Callable[[], Awaitable[None]]:
    return lambda: _create(p, body, **kw)


def _as_delete(pod: Pod, why: str) -> DeletePod:
    meta = _meta(pod)
    return DeletePod(name=str(meta.get("name")), uid=str(meta.get("uid") or ""), why=why)


async def _delete_pods(p: ClusterPass, victims: Sequence[tuple[Pod, str]], *, why: str, reason: E) -> None:
    """Delete several pods of any group (suspension, Recreate), each recorded under its own group."""
    calls = []
    for pod, group in victims:
        head = group == HEAD_GROUP
        calls.append(_pod_deleter(p, _as_delete(pod, why), group=group, head=head, reason=reason))
    _first_failure(await _bounded(calls, p.deps.config.create_concurrency))


# --- the steps ---------------------------------------------------------------------------------------------


async def _recreate_if_changed(p: ClusterPass, heads: Sequence[Pod], everyone: Sequence[tuple[Pod, str]]) -> bool:
    strategy = p.cluster.spec.upgrade_strategy
    if strategy is None or strategy.type != "Recreate" or not heads:
        return False
    wanted = revisions.cluster_revision(p.cluster)
    head = heads[0]
    annotations = _meta(head).get("annotations") or {}
    if annotations.get(c.RAY_UPGRADE_STRATEGY_RECREATE_HASH_ANNOTATION) == wanted:
        return False
    version = p.deps.config.build.operator_version
    if annotations.get(c.RAY_KUBERAY_VERSION_ANNOTATION) != version:
        # Stamped by another operator version: its hash is not comparable; adopt the pod as it is.
        patch = {
            "metadata": {
                "annotations": {
                    c.RAY_UPGRADE_STRATEGY_RECREATE_HASH_ANNOTATION: wanted,
                    c.RAY_KUBERAY_VERSION_ANNOTATION: version,
                }
            }
        }
        await p.deps.writer.merge_patch(PODS, p.namespace, str(_meta(head).get("name")), patch)
        return False
    await _delete_pods(p, everyone, why="upgradeStrategy Recreate: the pod spec changed", reason=E.DELETED_POD)
    p.deps.expectations.forget_cluster(p.key)
    p.requeue(p.deps.config.short_requeue_seconds)
    return True


async def _reconcile_head(p: ClusterPass, heads: Sequence[Pod]) -> None:
    deps = p.deps
    if not deps.expectations.satisfied(p.key, HEAD_GROUP, lambda name: deps.caches.pods.get(p.namespace, name)):
        p.requeue(deps.config.short_requeue_seconds)
        return
    annotations = p.cluster.metadata.get("annotations") or {}
    plan = plan_head(
        heads=heads,
        provisioned=_condition_true(p.raw, c.ConditionType.RAY_CLUSTER_PROVISIONED),
        restart_disabled=annotations.get(c.RAY_DISABLE_PROVISIONED_HEAD_RESTART_ANNOTATION) == "true",
    )
    for delete in plan.deletes:
        await _delete(p, delete, group=HEAD_GROUP, head=True)
    if plan.deletes:
        p.requeue(deps.config.short_requeue_seconds)
    if plan.repaired:
        _failed(p, HEAD_GROUP, "The head pod")
    if plan.create and not _backing_off(p, HEAD_GROUP):
        await _create(p, pods.build_head_pod(cluster=p.cluster, config=deps.config.build), group=HEAD_GROUP, head=True)
    elif not plan.deletes and len(heads) == 1 and upgrades.is_ready(heads[0]):
        deps.backoff.healthy(p.key, HEAD_GROUP)


def _failed(p: ClusterPass, group: str, what: str) -> None:
    """This pass replaced broken pods of ``group``: count the failure, and say when the next one waits."""
    deps = p.deps
    count = deps.backoff.failed(p.key, group, deps.monotonic())
    wait = deps.backoff.delay(count)
    if wait > 0:
        p.warning(
            E.REPLACEMENT_BACK_OFF,
            A.CREATE,
            f"{what} of RayCluster {p.key} failed {count} times in a row; its replacement waits {wait:g}s",
        )


def _backing_off(p: ClusterPass, group: str) -> bool:
    """Whether ``group``'s creates wait this pass (``controller.backoff``); requeues for when they may run."""
    remaining = p.deps.backoff.remaining(p.key, group, p.deps.monotonic())
    if remaining <= 0:
        return False
    p.requeue(remaining)
    return True


def _warn_if_clamped(p: ClusterPass, group: WorkerGroupSpec) -> None:
    replicas = group.replicas
    low = group.min_replicas if group.min_replicas is not None else 0
    high = group.max_replicas if group.max_replicas is not None else c.MAX_INT32
    # replicas 0 is the default and means "minReplicas"; anything else outside the range is a surprise.
    if replicas is None or replicas == 0 or low <= replicas <= high:
        return
    used = low if replicas < low else high
    p.warning(
        E.REPLICAS_CLAMPED,
        A.RECONCILE,
        f"worker group {group.group_name}: replicas {replicas} is outside [minReplicas {low}, maxReplicas {high}]; "
        f"running {used}",
    )


async def _reconcile_group(p: ClusterPass, group: WorkerGroupSpec, members: Sequence[Pod]) -> None:
    deps, name = p.deps, group.group_name
    if not deps.expectations.satisfied(p.key, name, lambda pod: deps.caches.pods.get(p.namespace, pod)):
        p.requeue(deps.config.short_requeue_seconds)
        return
    _warn_if_clamped(p, group)
    scale_down = not autoscaler.autoscaling_enabled(p.cluster) or deps.config.build.enable_random_pod_delete
    workers_to_delete = group.scale_strategy.workers_to_delete if group.scale_strategy is not None else None
    plan = plan_worker_group(
        pods=members,
        desired_pods=desired_worker_count(group),
        num_of_hosts=effective_num_of_hosts(group),
        suspended=is_group_suspended(group),
        workers_to_delete=workers_to_delete or (),
        may_scale_down=scale_down,
        new_replica_name=lambda: f"{name}-{deps.random_suffix()}",
        rollout=_rollout_inputs(p, group),
    )
    _report_rollout(p, group, members, plan.rollout)
    if plan.ignored_workers_to_delete:
        deps.log.info(
            "workers_to_delete_ignored",
            group=name,
            pods=plan.ignored_workers_to_delete,
            why="not live pods of this group (already gone, or another cluster's)",
        )
    limit = deps.config.create_concurrency
    deleters = [_pod_deleter(p, delete, group=name, head=False) for delete in plan.deletes]
    _first_failure(await _bounded(deleters, limit))
    if plan.repaired:
        p.requeue(deps.config.short_requeue_seconds)
        _failed(p, name, f"Worker group {name}")
    if plan.creates and _backing_off(p, name):
        return
    creators = [_pod_creator(p, _worker_body(p, name, create), group=name, head=False) for create in plan.creates]
    _first_failure(await _bounded(creators, limit))
    if not plan.deletes and not plan.creates and _whole_and_ready(members, desired_worker_count(group)):
        deps.backoff.healthy(p.key, name)


def _whole_and_ready(members: Sequence[Pod], desired: int) -> bool:
    live = [pod for pod in members if not is_terminating(pod)]
    return len(live) >= desired and all(upgrades.is_ready(pod) for pod in live)


def _rollout_inputs(p: ClusterPass, group: WorkerGroupSpec) -> RolloutInputs | None:
    if not upgrades.rolling_update(p.cluster):
        return None
    strategy = p.cluster.spec.upgrade_strategy
    cluster_options = strategy.rolling_update if strategy is not None else None
    return RolloutInputs(
        target_revision=revisions.worker_pod_revision(p.cluster, group.group_name),
        cluster_options=cluster_options.to_dict() if cluster_options is not None else None,
        group_options=group.rolling_update.to_dict() if group.rolling_update is not None else None,
        autoscaling=autoscaler.autoscaling_enabled(p.cluster),
        now=p.deps.now(),
        deadline_seconds=upgrades.progress_deadline_seconds(p.cluster),
    )


def _report_rollout(
    p: ClusterPass, group: WorkerGroupSpec, members: Sequence[Pod], decision: RolloutDecision | None
) -> None:
    """A Warning naming the stalled pods, or a requeue for when a waiting pod would become stalled."""
    if decision is None:
        return
    deadline = upgrades.progress_deadline_seconds(p.cluster)
    if decision.stalled:
        names = ", ".join(f"{p.namespace}/{key}" for key in decision.stalled)
        p.warning(
            E.ROLLOUT_STALLED,
            A.UPDATE,
            f"Rolling update of worker group {group.group_name} stopped: Pod {names} did not become Ready within "
            f"{deadline}s; no further pod is deleted until it is Ready (fix the template or apply the previous one)",
        )
        return
    now = p.deps.now()
    target = revisions.worker_pod_revision(p.cluster, group.group_name)
    ages = [
        upgrades.seconds_since_created(pod, now) or 0.0
        for pod in members
        if not is_terminating(pod) and upgrades.pod_revision(pod) == target and not upgrades.is_ready(pod)
    ]
    if ages:
        p.requeue(max(deadline - max(ages), 0.0) + 1.0)  # look again when the oldest waiting pod would stall


def _outdated_workers(p: ClusterPass, by_group: Mapping[str, Sequence[Pod]]) -> bool:
    for spec in p.cluster.spec.worker_group_specs or ():
        target = revisions.worker_pod_revision(p.cluster, spec.group_name)
        if any(upgrades.pod_revision(pod) != target for pod in by_group.get(spec.group_name, ())):
            return True
    return False


async def _roll_head(
    p: ClusterPass, heads: Sequence[Pod], everyone: Sequence[tuple[Pod, str]], by_group: Mapping[str, Sequence[Pod]]
) -> bool:
    """RollingUpdate of the head (module docstring, step 4); True when this pass did it (nothing else runs)."""
    deps = p.deps
    if len(heads) != 1 or upgrades.pod_revision(heads[0]) == revisions.head_pod_revision(p.cluster):
        return False
    if not deps.expectations.satisfied(p.key, HEAD_GROUP, lambda name: deps.caches.pods.get(p.namespace, name)):
        return False  # the head step waits for the cache and requeues
    if not gcsft.ft_enabled(p.cluster):
        p.warning(
            E.RESTARTING_CLUSTER,
            A.DELETE,
            f"The head of RayCluster {p.key} changed and GCS fault tolerance is off: every pod is recreated "
            "(enable gcsFaultToleranceOptions to keep workers running through head changes)",
        )
        why = "upgradeStrategy RollingUpdate: the head changed without GCS fault tolerance"
        await _delete_pods(p, everyone, why=why, reason=E.DELETED_POD)
        deps.expectations.forget_cluster(p.key)
        p.requeue(deps.config.short_requeue_seconds)
        return True
    if _outdated_workers(p, by_group):
        return False  # head last: the workers roll first
    why = (
        f"rolling update to template revision {revisions.head_pod_revision(p.cluster)}; "
        "GCS fault tolerance keeps the workers running"
    )
    await _delete(p, _as_delete(heads[0], why), group=HEAD_GROUP, head=True)
    p.requeue(deps.config.short_requeue_seconds)
    return True


def _worker_body(p: ClusterPass, group: str, create: CreateWorker) -> dict[str, Any]:
    return pods.build_worker_pod(
        cluster=p.cluster,
        group_name=group,
        config=p.deps.config.build,
        replica_index=create.replica_index,
        replica_name=create.replica_name,
        host_index=create.host_index,
    )


async def reconcile_pods(p: ClusterPass) -> None:
    """Bring the cluster's pods to the spec (see the module docstring for the order)."""
    deps = p.deps
    live: list[tuple[Pod, tuple[str, str] | None]] = [
        (pod, _role(p, pod)) for pod in p.owned(deps.caches.pods) if not is_terminating(pod)
    ]
    strays = [(pod, UNPLACED_GROUP) for pod, role in live if role is None]
    if strays:
        await _delete_pods(p, strays, why="its labels and name match no group of this RayCluster", reason=E.DELETED_POD)
    placed = [(pod, role) for pod, role in live if role is not None]
    for pod, role in placed:
        await _repair_labels(p, pod, role)
    everyone = [(pod, HEAD_GROUP if role[0] == c.NodeType.HEAD else role[1]) for pod, role in placed]

    if suspending(p.raw):
        if everyone:
            await _delete_pods(p, everyone, why="the RayCluster is being suspended", reason=E.DELETED_POD)
        p.requeue(deps.config.short_requeue_seconds)
        return
    if p.cluster.spec.suspend is True:
        if not _condition_true(p.raw, c.ConditionType.RAY_CLUSTER_SUSPENDED):
            p.requeue(deps.config.short_requeue_seconds)  # the status pass marks it Suspending
        return

    heads = [pod for pod, group in everyone if group == HEAD_GROUP]
    if await _recreate_if_changed(p, heads, everyone):
        return
    by_group: dict[str, list[Pod]] = {}
    for pod, group_name in everyone:
        if group_name != HEAD_GROUP:
            by_group.setdefault(group_name, []).append(pod)
    if upgrades.rolling_update(p.cluster) and await _roll_head(p, heads, everyone, by_group):
        return
    await _reconcile_head(p, heads)
    for spec in p.cluster.spec.worker_group_specs or ():
        await _reconcile_group(p, spec, by_group.pop(spec.group_name, []))
    for gone_group, members in by_group.items():
        await _delete_pods(
            p,
            [(pod, gone_group) for pod in members],
            why=f"worker group {gone_group} is no longer in the RayCluster spec",
            reason=E.DELETED_WORKER_POD,
        )
        deps.expectations.forget_group(p.key, gone_group)
