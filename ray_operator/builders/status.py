"""The RayCluster status computed from what exists, and whether it is worth writing (§1.5, §1.6, §2.19).

Why pure: KubeRay's ``calculateStatus`` lists pods and services inside itself; here the reconciler
passes the cluster (with its previous status), its pods, its live head Service, the time and what
went wrong, and gets the status subresource body back, so every transition is a unit test.

Kept from KubeRay: the counters (ready = Running and Ready workers, available = Running workers,
desired/min/max from ``replicas``), the five condition types with their reasons and messages,
``lastTransitionTime`` kept while a condition's status does not change, the ``ReplicaFailure`` markers
(set by a reconcile error that carries one, removed by a successful reconcile, left alone by an
error without one), the atomic suspend sequence (Suspending until no pod is left, then Suspended),
``RayClusterProvisioned`` never flipping back except on suspension, ``endpoints`` (port name → nodePort,
else targetPort), head addresses with the head pod IP standing in for a headless Service's IP, and the
desired quantities printed as ``resource.Quantity`` does (a GPU total prints in exponent style, as the
sum of KubeRay's zero-started ``sumGPUs`` does).

Different on purpose:

* ``state`` reflects reality (§7.5, §7.9 "sticky state"): KubeRay never leaves ``ready``, so a cluster
  whose head crash-loops still says ready. Here ``ready`` is reached by KubeRay's rule (no reconcile
  error, exactly desired + 1 pods, all Running and Ready) and then *kept* only while the head pod is
  Running and Ready — worker churn from scaling does not flap it. When the head is not, the state
  is cleared and ``reason`` carries the ``HeadPodReady`` reason (``HeadPodNotFound``, ``CrashLoopBackOff``…);
  once the cluster has been provisioned a ready head brings ``ready`` back without waiting for every
  worker. ``suspended`` is set when ``spec.suspend`` is true and no pod is left, as in KubeRay, and
  cleared once ``spec.suspend`` is no longer true (KubeRay keeps it until the cluster is ready again).
* ``RayClusterSuspended`` turns False when ``spec.suspend`` is not true; KubeRay requires an explicit
  ``false``, so deleting the field never resumed the cluster.
* "All Running and Ready" means every pod has ``PodReady=True``; KubeRay also accepts a Running pod that
  has no Ready condition at all.
* Desired CPU/memory/GPU/TPU multiply each group's pod resources by the same desired pod count as
  ``desiredWorkerReplicas`` (clamped, hosts ≥ 1); KubeRay multiplies by the raw ``replicas``, so a group
  below its minimum reported fewer resources than pods.
* ``endpoints`` is recomputed from the live Service (KubeRay only ever adds keys, so a removed port
  stayed forever) and falls back to ``port`` when ``targetPort`` is missing.
* Several head pods give ``HeadPodReady=False`` with reason ``MultipleHeadPods`` (KubeRay fails the
  whole status computation and writes nothing).
* Conditions carry ``observedGeneration``.

Ours, for upgrades (issue 10): ``workerGroups`` lists each spec group's live pods, Ready pods, pods on the
target revision (``updatedReplicas``) and that ``targetRevision``; ``head.revision``/``head.targetRevision``
do the same for the head. The ``RayClusterUpgrading`` condition exists only under upgradeStrategy
RollingUpdate (with None old pods are expected to stay; Recreate replaces everything in one pass and
compares its own hash). It is True while a live pod is on an old revision, with reason ``RolloutStalled``
naming the pod that was not Ready within progressDeadlineSeconds, else ``RollingUpdateInProgress`` saying
per group how far it is; False with ``AllPodsUpdated`` otherwise. All of it comes from the pods'
``ray.io/template-revision`` labels (``builders.upgrades``), so it is right after an operator restart too.

``status_changed`` follows §2.19: ``state``, ``reason``, the five counters, ``endpoints``, ``head`` and
``conditions`` matter; ``lastUpdateTime``, ``stateTransitionTimes`` and the desired quantities alone
do not (writing every reconcile would cost a write per cluster per resync). It *also* compares
``observedGeneration``, which KubeRay ignores: a spec change must be acknowledged even when nothing
else moved, and it is cheap (generation changes only on spec edits). Desired quantities only change
with the spec, so they are written then too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.models import RayCluster
from ray_operator.builders import revisions, upgrades
from ray_operator.builders.quantities import Quantity
from ray_operator.builders.replicas import (
    desired_worker_count,
    is_group_suspended,
    total_desired_workers,
    total_max_workers,
    total_min_workers,
)
from ray_operator.builders.resources import is_gpu_resource, pod_resource_totals

__all__ = ["ReconcileError", "compute_status", "format_time", "status_changed"]

_REASON_RE = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
_MAX_MESSAGE = 32768
_COUNTERS = (
    "readyWorkerReplicas",
    "availableWorkerReplicas",
    "desiredWorkerReplicas",
    "minWorkerReplicas",
    "maxWorkerReplicas",
)


@dataclass(frozen=True, kw_only=True)
class ReconcileError:
    """What went wrong in this reconcile: its text, and the ReplicaFailure marker when it has one."""

    message: str
    reason: c.ConditionReason | None = None
    """One of the ``Failed*`` condition reasons (``FailedCreateWorkerPod``…); None for other errors."""


def format_time(moment: datetime) -> str:
    """RFC 3339 with second precision in UTC, as ``metav1.Time`` serialises."""
    if moment.tzinfo is None:
        raise ValueError("status times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- pods ---------------------------------------------------------------------------------------------------


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _is_running(pod: Mapping[str, Any]) -> bool:
    return _status(pod).get("phase") == "Running"


def _ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for condition in _status(pod).get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition
    return None


def _is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    ready = _ready_condition(pod)
    return _is_running(pod) and ready is not None and ready.get("status") == "True"


def _all_running_and_ready(pods: Sequence[Mapping[str, Any]]) -> bool:
    return bool(pods) and all(_is_running_and_ready(pod) for pod in pods)


# --- conditions ---------------------------------------------------------------------------------------------


def _find(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((cond for cond in conditions if cond.get("type") == kind), None)


def _is_true(conditions: list[dict[str, Any]], kind: str) -> bool:
    found = _find(conditions, kind)
    return found is not None and found.get("status") == "True"


def _set(
    conditions: list[dict[str, Any]],
    kind: str,
    *,
    status: str,
    reason: str,
    message: str = "",
    now: str,
    generation: int | None,
) -> None:
    """``meta.SetStatusCondition``: ``lastTransitionTime`` moves only when the status changes."""
    found = _find(conditions, kind)
    if found is None:
        found = {"type": str(kind), "lastTransitionTime": now}
        conditions.append(found)
    elif found.get("status") != status:
        found["lastTransitionTime"] = now
    found["status"] = str(status)
    found["reason"] = str(reason)  # plain str, not the StrEnum: the result is serialised as is
    found["message"] = message[:_MAX_MESSAGE]
    if generation is not None:
        found["observedGeneration"] = generation
    else:
        found.pop("observedGeneration", None)


def _head_pod_ready(heads: Sequence[Mapping[str, Any]]) -> tuple[str, str, str]:
    """(status, reason, message) of ``HeadPodReady``, from the head pod's own ``Ready`` condition."""
    if not heads:
        return "False", c.ConditionReason.HEAD_POD_NOT_FOUND, c.HEAD_POD_NOT_FOUND_MESSAGE
    if len(heads) > 1:
        names = ", ".join(sorted(str((pod.get("metadata") or {}).get("name")) for pod in heads))
        return "False", c.ConditionReason.MULTIPLE_HEAD_PODS, f"{len(heads)} head Pods exist ({names}); expected one"
    pod = heads[0]
    ready = _ready_condition(pod)
    if ready is None:
        return "False", c.ConditionReason.UNKNOWN, ""
    status = ready.get("status") if ready.get("status") in ("True", "False", "Unknown") else "Unknown"
    message = str(ready.get("message") or "")
    reason = str(ready.get("reason") or "")
    if status == "True" and not reason:
        reason = c.ConditionReason.HEAD_POD_RUNNING_AND_READY
    if reason == c.CONTAINERS_NOT_READY_REASON:
        # "ContainersNotReady" says nothing; the first waiting or terminated container says why (CrashLoopBackOff…).
        for container in _status(pod).get("containerStatuses") or ():
            state = container.get("state") if isinstance(container, Mapping) else None
            detail = (state.get("waiting") or state.get("terminated")) if isinstance(state, Mapping) else None
            if isinstance(detail, Mapping):
                reason = str(detail.get("reason") or "")
                extra = f"{container.get('name')}: {detail.get('message') or ''}"
                message = f"{message}; {extra}" if message else extra
                break
    if not _REASON_RE.match(reason):  # an empty or odd kubelet reason must not make the condition invalid
        reason = c.ConditionReason.UNKNOWN
    return str(status), reason, message


def _suspend_status(conditions: list[dict[str, Any]]) -> str | None:
    kinds = (c.ConditionType.RAY_CLUSTER_SUSPENDING, c.ConditionType.RAY_CLUSTER_SUSPENDED)
    for cond in conditions:
        if cond.get("type") in kinds and cond.get("status") == "True":
            return str(cond["type"])
    return None


# --- the rest of the fields ---------------------------------------------------------------------------------


def _endpoints(service: Mapping[str, Any] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for port in (service or {}).get("spec", {}).get("ports") or ():
        if not isinstance(port, Mapping) or not port.get("name"):
            continue  # unnamed ports cannot be keys
        target = port.get("targetPort")
        if port.get("nodePort"):
            result[port["name"]] = str(port["nodePort"])
        elif target not in (None, 0, ""):
            result[port["name"]] = str(target)
        elif port.get("port"):
            result[port["name"]] = str(port["port"])
    return result


def _head_info(head: Mapping[str, Any] | None, service: Mapping[str, Any] | None) -> dict[str, str]:
    info: dict[str, str] = {}
    pod_ip = _status(head).get("podIP") if head is not None else None
    if head is not None:
        info["podName"] = str((head.get("metadata") or {}).get("name") or "")
        if pod_ip:
            info["podIP"] = str(pod_ip)
    if service is not None:
        info["serviceName"] = str((service.get("metadata") or {}).get("name") or "")
        cluster_ip = (service.get("spec") or {}).get("clusterIP")
        if cluster_ip == "None":
            if pod_ip:
                info["serviceIP"] = str(pod_ip)  # a headless Service's address is the head pod's
        elif cluster_ip:
            info["serviceIP"] = str(cluster_ip)
    return {key: value for key, value in info.items() if value}


def _desired_resources(cluster: RayCluster) -> dict[str, str]:
    def containers(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        items = (template.get("spec") or {}).get("containers") or []
        return [item for item in items if isinstance(item, Mapping)]

    totals = pod_resource_totals(containers(cluster.spec.head_group_spec.template))
    for group in cluster.spec.worker_group_specs or ():
        if is_group_suspended(group):
            continue
        count = desired_worker_count(group)
        for name, quantity in pod_resource_totals(containers(group.template)).items():
            scaled = quantity.times(count)
            totals[name] = totals[name] + scaled if name in totals else scaled
    gpus = Quantity.zero()
    for name, quantity in totals.items():
        if is_gpu_resource(name) and not quantity.is_zero():
            gpus = gpus + quantity
    zero = Quantity.zero()
    return {
        "desiredCPU": str(totals.get("cpu", zero)),
        "desiredMemory": str(totals.get("memory", zero)),
        "desiredGPU": str(gpus),
        "desiredTPU": str(totals.get(c.TPU_CONTAINER_RESOURCE, zero)),
    }


def _live(pod: Mapping[str, Any]) -> bool:
    return not (pod.get("metadata") or {}).get("deletionTimestamp")


def _upgrade_parts(
    *,
    cluster: RayCluster,
    heads: Sequence[Mapping[str, Any]],
    workers: Sequence[Mapping[str, Any]],
    now: datetime,
) -> tuple[list[dict[str, Any]], dict[str, str], tuple[str, str, str] | None]:
    """(``workerGroups``, head revision fields, the ``RayClusterUpgrading`` status/reason/message or None)."""
    deadline = upgrades.progress_deadline_seconds(cluster)
    groups: list[dict[str, Any]] = []
    in_progress: list[str] = []
    stalled: list[str] = []
    for group in cluster.spec.worker_group_specs or ():
        members = [pod for pod in workers if _labels(pod).get(c.RAY_GROUP_LABEL) == group.group_name and _live(pod)]
        target = revisions.worker_pod_revision(cluster, group.group_name)
        progress = upgrades.group_progress(pods=members, target_revision=target, now=now, deadline_seconds=deadline)
        groups.append(
            {
                "groupName": group.group_name,
                "replicas": progress.total,
                "readyReplicas": sum(1 for pod in members if _is_running_and_ready(pod)),
                "updatedReplicas": progress.updated,
                "targetRevision": target,
            }
        )
        if progress.outdated == 0:
            continue
        if progress.stalled:
            stalled.append(
                f"worker group {group.group_name}: Pod {', '.join(progress.stalled)} did not become Ready within "
                f"{deadline}s; the group's rollout is stopped and no further pod is deleted (fix the template or "
                "apply the previous one)"
            )
            continue
        waiting = f"; waiting for Pod {', '.join(progress.waiting)} to become Ready" if progress.waiting else ""
        counts = f"{progress.updated} of {progress.total} pods on revision {target}"
        in_progress.append(f"worker group {group.group_name}: {counts}{waiting}")
    head_target = revisions.head_pod_revision(cluster)
    head_fields = {"targetRevision": head_target}
    live_heads = [pod for pod in heads if _live(pod)]
    if len(live_heads) == 1:
        revision = upgrades.pod_revision(live_heads[0])
        if revision:
            head_fields["revision"] = revision
        if revision != head_target:
            after = " after the worker groups" if in_progress or stalled else ""
            in_progress.append(f"head: to be replaced{after} by revision {head_target}")
    if not upgrades.rolling_update(cluster):
        # None keeps old pods on purpose; Recreate compares its own hash (pods it made before revision
        # labels existed have none, and must not look like an upgrade that never ends).
        return groups, head_fields, None
    if stalled:
        return groups, head_fields, ("True", c.ConditionReason.ROLLOUT_STALLED, "; ".join(stalled + in_progress))
    if in_progress:
        return groups, head_fields, ("True", c.ConditionReason.ROLLING_UPDATE_IN_PROGRESS, "; ".join(in_progress))
    return groups, head_fields, ("False", c.ConditionReason.ALL_PODS_UPDATED, "every pod runs its target revision")


def compute_status(
    *,
    cluster: RayCluster,
    pods: Sequence[Mapping[str, Any]],
    head_service: Mapping[str, Any] | None,
    now: datetime,
    reconcile_error: ReconcileError | None = None,
) -> dict[str, Any]:
    """The new ``status`` of ``cluster`` (wire form), from its previous status and what exists now.

    ``pods`` are the cluster's pods (others, and pods that are neither head nor worker, are ignored);
    ``head_service`` is the live head Service, None when it does not exist.
    """
    stamp = format_time(now)
    name = cluster.metadata.get("name")
    generation = cluster.metadata.get("generation")
    generation = generation if isinstance(generation, int) and not isinstance(generation, bool) else None
    previous = cluster.status.to_dict() if cluster.status is not None else {}
    conditions: list[dict[str, Any]] = copy.deepcopy(previous.get("conditions") or [])
    previously_provisioned = _is_true(conditions, c.ConditionType.RAY_CLUSTER_PROVISIONED)
    suspend_status = _suspend_status(conditions)
    suspend = cluster.spec.suspend is True

    ray_pods = [
        pod
        for pod in pods
        if _labels(pod).get(c.RAY_CLUSTER_LABEL) == name
        and _labels(pod).get(c.RAY_NODE_TYPE_LABEL) in (c.NodeType.HEAD, c.NodeType.WORKER)
    ]
    heads = [pod for pod in ray_pods if _labels(pod).get(c.RAY_NODE_TYPE_LABEL) == c.NodeType.HEAD]
    workers = [pod for pod in ray_pods if _labels(pod).get(c.RAY_NODE_TYPE_LABEL) == c.NodeType.WORKER]
    groups = list(cluster.spec.worker_group_specs or ())
    desired_workers = total_desired_workers(groups)

    def put(kind: str, *, status: str, reason: str, message: str = "") -> None:
        _set(conditions, kind, status=status, reason=reason, message=message, now=stamp, generation=generation)

    if reconcile_error is None:
        conditions = [cond for cond in conditions if cond.get("type") != c.ConditionType.REPLICA_FAILURE]
    elif reconcile_error.reason is not None:
        put(
            c.ConditionType.REPLICA_FAILURE,
            status="True",
            reason=reconcile_error.reason,
            message=reconcile_error.message,
        )

    head_status, head_reason, head_message = _head_pod_ready(heads)
    put(c.ConditionType.HEAD_POD_READY, status=head_status, reason=head_reason, message=head_message)

    all_ready = _all_running_and_ready(ray_pods)
    if (
        not _is_true(conditions, c.ConditionType.RAY_CLUSTER_PROVISIONED)
        and suspend_status != c.ConditionType.RAY_CLUSTER_SUSPENDED
    ):
        if all_ready:
            put(
                c.ConditionType.RAY_CLUSTER_PROVISIONED,
                status="True",
                reason=c.ConditionReason.ALL_POD_RUNNING_AND_READY_FIRST_TIME,
                message=c.PROVISIONED_MESSAGE,
            )
        else:
            put(
                c.ConditionType.RAY_CLUSTER_PROVISIONED,
                status="False",
                reason=c.ConditionReason.RAY_CLUSTER_PODS_PROVISIONING,
                message=c.PODS_PROVISIONING_MESSAGE,
            )
    suspending, suspended = c.ConditionType.RAY_CLUSTER_SUSPENDING, c.ConditionType.RAY_CLUSTER_SUSPENDED
    if suspend_status == suspending:
        if not ray_pods:  # atomic: finishes even if spec.suspend was flipped back meanwhile
            put(
                c.ConditionType.RAY_CLUSTER_PROVISIONED,
                status="False",
                reason=c.ConditionReason.RAY_CLUSTER_PODS_PROVISIONING,
                message=c.SUSPENDED_MESSAGE,
            )
            put(suspending, status="False", reason=c.ConditionReason.RAY_CLUSTER_SUSPENDING)
            put(suspended, status="True", reason=c.ConditionReason.RAY_CLUSTER_SUSPENDED)
    elif suspend_status == suspended:
        if not suspend:
            put(suspended, status="False", reason=c.ConditionReason.RAY_CLUSTER_SUSPENDED)
    else:
        put(suspended, status="False", reason=c.ConditionReason.RAY_CLUSTER_SUSPENDED)
        put(suspending, status="True" if suspend else "False", reason=c.ConditionReason.RAY_CLUSTER_SUSPENDING)

    previous_state = previous.get("state")
    head_ready = len(heads) == 1 and _is_running_and_ready(heads[0])
    was_ready = previous_state == c.ClusterState.READY or previously_provisioned
    # KubeRay's first-time rule, or a cluster that was ready and still has a ready head.
    first_ready = reconcile_error is None and len(ray_pods) == desired_workers + 1 and all_ready
    state: str | None
    if suspend and not ray_pods:
        state = c.ClusterState.SUSPENDED
    elif first_ready or (head_ready and was_ready):
        state = c.ClusterState.READY
    else:
        state = None
    reason = head_reason if state is None and was_ready else None

    transitions = dict(previous.get("stateTransitionTimes") or {})
    if state is not None and state != previous_state:
        transitions[str(state)] = stamp

    worker_groups, head_revisions, upgrading = _upgrade_parts(cluster=cluster, heads=heads, workers=workers, now=now)
    if upgrading is None:
        conditions = [cond for cond in conditions if cond.get("type") != c.ConditionType.RAY_CLUSTER_UPGRADING]
    else:
        put(c.ConditionType.RAY_CLUSTER_UPGRADING, status=upgrading[0], reason=upgrading[1], message=upgrading[2])

    head = heads[0] if len(heads) == 1 else None
    status: dict[str, Any] = {}
    if state is not None:
        status["state"] = str(state)
    if reason:
        status["reason"] = str(reason)
    if transitions:
        status["stateTransitionTimes"] = transitions
    status["conditions"] = conditions
    status["readyWorkerReplicas"] = sum(1 for pod in workers if _is_running_and_ready(pod))
    status["availableWorkerReplicas"] = sum(1 for pod in workers if _is_running(pod))
    status["desiredWorkerReplicas"] = desired_workers
    status["minWorkerReplicas"] = total_min_workers(groups)
    status["maxWorkerReplicas"] = total_max_workers(groups)
    status.update(_desired_resources(cluster))
    endpoints = _endpoints(head_service)
    if endpoints:
        status["endpoints"] = endpoints
    status["head"] = {**_head_info(head, head_service), **head_revisions}
    if worker_groups:
        status["workerGroups"] = worker_groups
    status["lastUpdateTime"] = stamp
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def _comparable(status: Mapping[str, Any] | None) -> tuple[Any, ...]:
    status = status or {}
    conditions = {
        cond.get("type"): (
            cond.get("status"),
            cond.get("reason"),
            cond.get("message") or "",
            cond.get("lastTransitionTime"),
            cond.get("observedGeneration") or 0,
        )
        for cond in status.get("conditions") or ()
        if isinstance(cond, Mapping)
    }
    head = {key: value for key, value in (status.get("head") or {}).items() if value}
    return (
        status.get("state") or None,
        status.get("reason") or None,
        tuple(status.get(key) or 0 for key in _COUNTERS),
        dict(status.get("endpoints") or {}),
        head,
        conditions,
        status.get("observedGeneration"),
        [dict(group) for group in status.get("workerGroups") or () if isinstance(group, Mapping)],
    )


def status_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether ``new`` differs from the stored ``old`` status in a field worth a write (module docstring)."""
    return _comparable(old) != _comparable(new)
