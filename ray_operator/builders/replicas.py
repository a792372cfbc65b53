"""How many worker pods a group wants: the one implementation status and scaling share.

Why: KubeRay computes the desired count in several places (status, scaling, multi-host
reconciliation) and they drifted apart once already (§7.5: ``state`` never became ready with
``numOfHosts > 1``). Here every caller uses these functions, so the pod count the reconciler
creates is exactly the count the status reports.

Rules (reference §1.4, §2.13):

* ``replicas`` unset means ``minReplicas``; any value is clamped into ``[minReplicas, maxReplicas]``
  (unset min is 0, unset max is 2147483647), silently, as KubeRay does (validation warns);
* ``numOfHosts`` ≤ 0 (or unset) counts as 1, which protects against a CRD that lacks the field
  (issue #2084: a 0 default deleted every worker);
* a suspended group wants 0 pods;
* cluster-wide min and max skip suspended groups and saturate at int32 max, like the status fields
  they fill.
"""

from __future__ import annotations

from collections.abc import Iterable

from ray_operator.api import constants as c
from ray_operator.api.models import WorkerGroupSpec

__all__ = [
    "clamp_replicas",
    "desired_worker_count",
    "effective_num_of_hosts",
    "is_group_suspended",
    "total_desired_workers",
    "total_max_workers",
    "total_min_workers",
]


def effective_num_of_hosts(group: WorkerGroupSpec) -> int:
    """Pods per replica: ``numOfHosts``, with ≤ 0 or unset meaning 1."""
    hosts = group.num_of_hosts
    return hosts if hosts is not None and hosts > 0 else 1


def is_group_suspended(group: WorkerGroupSpec) -> bool:
    return group.suspend is True


def _bounds(group: WorkerGroupSpec) -> tuple[int, int]:
    low = group.min_replicas if group.min_replicas is not None else 0
    high = group.max_replicas if group.max_replicas is not None else c.MAX_INT32
    return low, high


def clamp_replicas(group: WorkerGroupSpec) -> int:
    """Replicas (pod sets) wanted, ignoring suspension: ``replicas`` clamped into [min, max], unset = min.

    Below min wins over above max, as in KubeRay, so a group with min > max (which validation
    refuses) still gets min.
    """
    low, high = _bounds(group)
    replicas = group.replicas
    if replicas is None or replicas < low:
        return low
    return min(replicas, high)


def desired_worker_count(group: WorkerGroupSpec) -> int:
    """Worker pods the group wants: ``clamp_replicas x effective_num_of_hosts``, or 0 when suspended."""
    if is_group_suspended(group):
        return 0
    return clamp_replicas(group) * effective_num_of_hosts(group)


def total_desired_workers(groups: Iterable[WorkerGroupSpec]) -> int:
    """``status.desiredWorkerReplicas``: the sum of every group's desired pods, saturating at int32 max."""
    return min(sum(desired_worker_count(group) for group in groups), c.MAX_INT32)


def total_min_workers(groups: Iterable[WorkerGroupSpec]) -> int:
    """``status.minWorkerReplicas``: Σ min x hosts over groups that are not suspended."""
    total = sum(_bounds(g)[0] * effective_num_of_hosts(g) for g in groups if not is_group_suspended(g))
    return min(total, c.MAX_INT32)


def total_max_workers(groups: Iterable[WorkerGroupSpec]) -> int:
    """``status.maxWorkerReplicas``: Σ max x hosts over groups that are not suspended, saturating at int32 max."""
    total = sum(_bounds(g)[1] * effective_num_of_hosts(g) for g in groups if not is_group_suspended(g))
    return min(total, c.MAX_INT32)
