"""Which pods to create and delete: pure decisions from the pods the cache holds and the desired counts.

The reconciler asks two questions per pass, once for the head and once per worker group: which pods are
wrong (dead, surplus, asked for by the autoscaler) and how many are missing. Both answers are pure
functions of the observed pods, so every rule of KubeRay's pod reconciliation (reference §2.12, §2.13)
is unit-tested here without an API server, and the reconciler only turns a plan into API calls.

Rules, and where they differ from KubeRay on purpose:

* A pod being deleted (``deletionTimestamp`` set) no longer counts: its replacement is created while it
  terminates, as KubeRay does.
* A pod ``builders.health`` condemns (phase ``Failed``/``Succeeded``, or a dead Ray container under
  ``restartPolicy: Never``) is deleted. A pass that deletes an unhealthy pod creates nothing; the next
  pass, once the cache has seen the deletion, creates the replacement (no pod is ever created against a
  count that is about to change).
* ``workersToDelete`` names are honoured **only for pods of this group of this cluster** (KubeRay deletes any
  pod of that name in the namespace); other names are reported back so the caller can say so.
* Scale-down without the autoscaler removes pods that are not ready first, then the newest, instead of the
  first N in list order: the pods doing work survive. With the autoscaler on, surplus pods are never removed
  here (the autoscaler names them through ``workersToDelete``).
* Two or more live head pods (possible only after a manual create or a cache that lagged a delete): the
  oldest is kept and the others deleted, instead of KubeRay's endless "please delete extra head pods" error.
* Under ``upgradeStrategy: RollingUpdate`` (``rollout`` given), once broken pods and ``workersToDelete`` are
  dealt with, a group with pods of an old template revision is planned by ``controller.rollout`` instead of
  the scaling rules: surge new-revision pods, delete old ones as Ready capacity allows.
* New worker pods get the lowest free ``ray.io/worker-group-replica-index``. Multi-host groups are created,
  repaired and removed one whole replica (``numOfHosts`` pods sharing a ``ray.io/worker-group-replica-name``)
  at a time; an incomplete replica is deleted whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api.rollingupdate import resolve_budget
from ray_operator.builders import upgrades
from ray_operator.builders.health import should_delete_pod
from ray_operator.controller.rollout import RolloutDecision, Unit, plan_rollout

__all__ = [
    "CreateWorker",
    "DeletePod",
    "GroupPlan",
    "HeadPlan",
    "RolloutInputs",
    "is_terminating",
    "plan_head",
    "plan_worker_group",
    "unhealthy_reason",
]

Pod = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class DeletePod:
    name: str
    uid: str
    """Sent as a delete precondition: a pod recreated under the same name is never the one deleted."""
    why: str
    """Why it goes, for the event and the log: ``"phase Failed"``, ``"listed in workersToDelete"``, ..."""


@dataclass(frozen=True, kw_only=True)
class CreateWorker:
    replica_index: int
    """Value of ``ray.io/worker-group-replica-index``: the lowest index no live pod of the group holds."""
    replica_name: str | None = None
    """Multi-host groups only: the ``ray.io/worker-group-replica-name`` shared by the replica's pods."""
    host_index: int | None = None
    """Multi-host groups only: ``ray.io/replica-host-index``, 0 to numOfHosts - 1."""


@dataclass(frozen=True, kw_only=True)
class RolloutInputs:
    """What a RollingUpdate of one group needs besides its pods."""

    target_revision: str
    cluster_options: Mapping[str, Any] | None
    """``spec.upgradeStrategy.rollingUpdate`` in wire form."""
    group_options: Mapping[str, Any] | None
    """The group's ``rollingUpdate`` override in wire form."""
    autoscaling: bool
    now: datetime
    deadline_seconds: float


@dataclass(kw_only=True)
class GroupPlan:
    deletes: list[DeletePod] = field(default_factory=list)
    creates: list[CreateWorker] = field(default_factory=list)
    ignored_workers_to_delete: list[str] = field(default_factory=list)
    """``workersToDelete`` names that are not live pods of this group (gone already, or someone else's)."""
    repaired: bool = False
    """True when the plan deletes broken pods; nothing is created in such a pass."""
    rollout: RolloutDecision | None = None
    """Set when a RollingUpdate planned this pass (old-revision pods exist)."""


@dataclass(kw_only=True)
class HeadPlan:
    create: bool = False
    deletes: list[DeletePod] = field(default_factory=list)
    extra_heads: int = 0
    """How many surplus live head pods the plan deletes (more than one head is never right)."""
    repaired: bool = False
    """True when the plan deletes a broken head (a failure for ``controller.backoff``)."""


def _meta(pod: Pod) -> Mapping[str, Any]:
    meta = pod.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _labels(pod: Pod) -> Mapping[str, Any]:
    labels = _meta(pod).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _name(pod: Pod) -> str:
    return str(_meta(pod).get("name", ""))


def _status(pod: Pod) -> Mapping[str, Any]:
    status = pod.get("status")
    return status if isinstance(status, Mapping) else {}


def is_terminating(pod: Pod) -> bool:
    return bool(_meta(pod).get("deletionTimestamp"))


def _delete(pod: Pod, why: str) -> DeletePod:
    return DeletePod(name=_name(pod), uid=str(_meta(pod).get("uid", "")), why=why)


def unhealthy_reason(pod: Pod) -> str | None:
    """Why ``pod`` must be deleted and replaced (the rule of ``builders.health``), or None to keep it."""
    verdict = should_delete_pod(pod)
    return verdict.reason if verdict.delete else None


def _is_ready(pod: Pod) -> bool:
    if _status(pod).get("phase") != "Running":
        return False
    conditions = _status(pod).get("conditions")
    for condition in conditions if isinstance(conditions, list) else []:
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _age_key(pod: Pod) -> tuple[str, str]:
    """Sorts oldest first: RFC 3339 timestamps of one server compare as strings; the name breaks ties."""
    return (str(_meta(pod).get("creationTimestamp", "")), _name(pod))


def _scale_down_order(pods: Iterable[Pod]) -> list[Pod]:
    """Pods to remove first: not ready before ready, then newest before oldest."""
    newest_first = sorted(pods, key=_age_key, reverse=True)
    return sorted(newest_first, key=_is_ready)  # stable: keeps newest-first within each readiness class


def _replica_index(pod: Pod) -> int | None:
    raw = _labels(pod).get(c.RAY_WORKER_GROUP_REPLICA_INDEX_LABEL)
    try:
        return int(str(raw))
    except ValueError:
        return None


def _free_indexes(taken: Iterable[int | None]) -> Iterable[int]:
    used = {index for index in taken if index is not None}
    candidate = 0
    while True:
        if candidate not in used:
            yield candidate
        candidate += 1


def plan_head(*, heads: Sequence[Pod], provisioned: bool, restart_disabled: bool) -> HeadPlan:
    """The head of one cluster: replace it when it died, create it when missing, keep exactly one.

    ``provisioned`` and ``restart_disabled`` carry KubeRay's sidecar-RayJob rule: once the cluster was
    provisioned, a head that is gone is not recreated when ``ray.io/disable-provisioned-head-restart`` is set.
    """
    plan = HeadPlan()
    live = [pod for pod in heads if not is_terminating(pod)]
    broken = [(pod, why) for pod in live if (why := unhealthy_reason(pod)) is not None]
    if broken:
        plan.deletes = [_delete(pod, why) for pod, why in broken]
        plan.repaired = True
        return plan
    if len(live) > 1:
        keep, *extra = sorted(live, key=_age_key)
        plan.deletes = [_delete(pod, f"a second head pod; {_name(keep)} is kept") for pod in extra]
        plan.extra_heads = len(extra)
        return plan
    plan.create = not live and not (provisioned and restart_disabled)
    return plan


def plan_worker_group(
    *,
    pods: Sequence[Pod],
    desired_pods: int,
    num_of_hosts: int,
    suspended: bool,
    workers_to_delete: Sequence[str],
    may_scale_down: bool,
    new_replica_name: Callable[[], str],
    rollout: RolloutInputs | None = None,
) -> GroupPlan:
    """The pods of one worker group: what to delete and what to create so that ``desired_pods`` run.

    ``desired_pods`` is clamp(replicas, min, max) x numOfHosts, 0 when the group is suspended.
    ``new_replica_name`` returns a fresh ``<group>-<suffix>`` for each new multi-host replica.
    """
    live = [pod for pod in pods if not is_terminating(pod)]
    if suspended:
        return GroupPlan(deletes=[_delete(pod, "the worker group is suspended") for pod in live])
    if num_of_hosts > 1:
        return _plan_multi_host(
            live=live,
            desired_replicas=desired_pods // num_of_hosts,
            num_of_hosts=num_of_hosts,
            workers_to_delete=workers_to_delete,
            may_scale_down=may_scale_down,
            new_replica_name=new_replica_name,
            rollout=rollout,
        )
    broken = [(pod, why) for pod in live if (why := unhealthy_reason(pod)) is not None]
    if broken:
        return GroupPlan(deletes=[_delete(pod, why) for pod, why in broken], repaired=True)
    plan = GroupPlan()
    by_name = {_name(pod): pod for pod in live}
    for name in dict.fromkeys(workers_to_delete):
        if name in by_name:
            plan.deletes.append(_delete(by_name.pop(name), "listed in workersToDelete"))
        else:
            plan.ignored_workers_to_delete.append(name)
    remaining = list(by_name.values())
    if rollout is not None and _roll(plan, {_name(pod): [pod] for pod in remaining}, desired_pods, rollout, None):
        return plan
    missing = desired_pods - len(remaining)
    if missing > 0:
        free = iter(_free_indexes(_replica_index(pod) for pod in remaining))
        plan.creates = [CreateWorker(replica_index=next(free)) for _ in range(missing)]
    elif missing < 0 and may_scale_down:
        plan.deletes.extend(_delete(pod, "scaling down") for pod in _scale_down_order(remaining)[:-missing])
    return plan


def _plan_multi_host(
    *,
    live: list[Pod],
    desired_replicas: int,
    num_of_hosts: int,
    workers_to_delete: Sequence[str],
    may_scale_down: bool,
    new_replica_name: Callable[[], str],
    rollout: RolloutInputs | None,
) -> GroupPlan:
    replicas: dict[str, list[Pod]] = {}
    for pod in live:
        replica = str(_labels(pod).get(c.RAY_WORKER_GROUP_REPLICA_NAME_LABEL) or "")
        replicas.setdefault(replica, []).append(pod)
    plan = GroupPlan()
    for replica, members in replicas.items():
        if not replica or len(members) != num_of_hosts:
            incomplete = f"replica {replica or '(unnamed)'} has {len(members)} of {num_of_hosts} hosts"
            plan.deletes.extend(_delete(pod, incomplete) for pod in members)
            continue
        sick = next(((pod, why) for pod in members if (why := unhealthy_reason(pod)) is not None), None)
        if sick is not None:
            lost = f"replica {replica} lost host {_name(sick[0])}: {sick[1]}"
            plan.deletes.extend(_delete(pod, lost) for pod in members)
    if plan.deletes:
        plan.repaired = True
        return plan
    names = {_name(pod): replica for replica, members in replicas.items() for pod in members}
    for name in dict.fromkeys(workers_to_delete):
        holder = names.get(name)
        if holder is None:
            plan.ignored_workers_to_delete.append(name)
        elif holder in replicas:
            listed = f"replica {holder} holds {name} (workersToDelete)"
            plan.deletes.extend(_delete(pod, listed) for pod in replicas.pop(holder))
    if rollout is not None and _roll(plan, replicas, desired_replicas, rollout, (num_of_hosts, new_replica_name)):
        return plan
    missing = desired_replicas - len(replicas)
    if missing > 0:
        free = iter(_free_indexes(_replica_index(members[0]) for members in replicas.values()))
        for _ in range(missing):
            index, name = next(free), new_replica_name()
            plan.creates.extend(
                CreateWorker(replica_index=index, replica_name=name, host_index=host) for host in range(num_of_hosts)
            )
    elif missing < 0 and may_scale_down:
        # A replica is ready only when all its hosts are; among equals the newest goes first.
        newest_first = sorted(replicas, key=lambda r: max(_age_key(pod) for pod in replicas[r]), reverse=True)
        order = sorted(newest_first, key=lambda r: all(_is_ready(pod) for pod in replicas[r]))
        for replica in order[:-missing]:
            plan.deletes.extend(_delete(pod, f"scaling down replica {replica}") for pod in replicas[replica])
    return plan


def _deletion_cost(pod: Pod) -> int:
    annotations = _meta(pod).get("annotations")
    raw = annotations.get(c.POD_DELETION_COST_ANNOTATION) if isinstance(annotations, Mapping) else None
    try:
        return int(str(raw)) if raw is not None else 0
    except ValueError:
        return 0  # the API server refuses a non-int32 value on a Pod; treat a stray one as "no preference"


def _unit(key: str, members: Sequence[Pod], rollout: RolloutInputs) -> Unit:
    revisions = {upgrades.pod_revision(pod) for pod in members}
    revision = revisions.pop() if len(revisions) == 1 else None  # a replica of mixed revisions is old
    ready = all(_is_ready(pod) for pod in members)
    ages = [upgrades.seconds_since_created(pod, rollout.now) or 0.0 for pod in members]
    return Unit(
        key=key,
        revision=revision,
        ready=ready,
        created=min(_age_key(pod)[0] for pod in members),
        deletion_cost=max(_deletion_cost(pod) for pod in members),
        stalled=not ready and revision == rollout.target_revision and max(ages) > rollout.deadline_seconds,
    )


def _roll(
    plan: GroupPlan,
    units: Mapping[str, Sequence[Pod]],
    desired_units: int,
    rollout: RolloutInputs,
    multi_host: tuple[int, Callable[[], str]] | None,
) -> bool:
    """Plan this pass as a RollingUpdate when old-revision units exist; False when none do."""
    budget = resolve_budget(
        cluster_options=rollout.cluster_options, group_options=rollout.group_options, desired=desired_units
    )
    decision = plan_rollout(
        units=[_unit(key, members, rollout) for key, members in units.items()],
        desired=desired_units,
        target_revision=rollout.target_revision,
        budget=budget,
        autoscaling=rollout.autoscaling,
    )
    if decision is None:
        return False
    plan.rollout = decision
    why = f"rolling update to template revision {rollout.target_revision}"
    for key in decision.delete:
        plan.deletes.extend(_delete(pod, why) for pod in units[key])
    free = iter(_free_indexes(_replica_index(members[0]) for members in units.values() if members))
    for _ in range(decision.create):
        index = next(free)
        if multi_host is None:
            plan.creates.append(CreateWorker(replica_index=index))
            continue
        hosts, new_replica_name = multi_host
        name = new_replica_name()
        plan.creates.extend(CreateWorker(replica_index=index, replica_name=name, host_index=h) for h in range(hosts))
    return True
