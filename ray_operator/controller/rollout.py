"""The RollingUpdate decision for one worker group: how many new-revision units to create, which old to delete.

Why pure and separate: a rollout is the riskiest thing the operator does to a running Ray cluster, so
every rule is a function of plain facts (each unit's revision, readiness, age and deletion cost, the
desired count and the budget) and is unit-tested exhaustively without an API server; ``podplan`` turns
pods into units and the decision into pod creates and deletes, ``podsync`` into API calls. A *unit* is
one pod, or one whole replica of a multi-host group (its hosts are created and deleted together).

The rules (a Deployment's, with Ray in mind):

* **Surge first.** Units may exist up to ``desired + maxSurge``; new-revision units are created up to
  ``desired`` of them within that ceiling.
* **Delete only what Ready capacity allows.** Old units that are Ready may be deleted while more than
  ``desired - maxUnavailable`` Ready units would remain; with the default ``maxUnavailable: 0`` an old unit
  goes only once a new one is Ready, so Ready capacity never drops below ``desired``. An old unit that is
  not Ready gives no capacity and is deleted first, without budget.
* **Order of old units**: not Ready first, then the lowest ``controller.kubernetes.io/pod-deletion-cost``
  (pods that say they are idle), then the oldest revision (the revision whose first unit is oldest), then
  the oldest unit.
* **Scale changes apply to the new revision**: ``desired`` is today's count, so a scale-up during a rollout
  creates new-revision units and a scale-down removes old ones first; once no old unit is left the normal
  scaling of ``podplan`` takes over.
* **With the autoscaler on** the rollout only replaces, it never scales: a Ready old unit goes only for a
  Ready new unit that has not replaced another yet (``ready new - (desired - old)``), so units above
  ``desired`` that the autoscaler has not named in ``workersToDelete`` yet stay until it does (the rollout
  waits for it rather than choosing which pods to remove for it). ``replicas`` is never written.
* **A stalled unit freezes the group**: a new-revision unit not Ready within the progress deadline stops
  all creates and deletes of the group (a bad image never takes more capacity than the surge already
  took); reverting the template makes it old, and it is deleted first.

Decided against: a rollout record (a ControllerRevision or an annotation on the RayCluster). The pods'
revision labels already say everything, and a record could disagree with them after a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ray_operator.api.rollingupdate import Budget

__all__ = ["RolloutDecision", "Unit", "plan_rollout"]


@dataclass(frozen=True, kw_only=True)
class Unit:
    key: str
    """The pod name, or the replica name of a multi-host replica."""
    revision: str | None
    """``ray.io/template-revision`` (None: unlabelled, which counts as old)."""
    ready: bool
    """Every pod of the unit is Running and Ready."""
    created: str
    """``creationTimestamp`` of the unit's oldest pod (RFC 3339 strings of one server compare as times)."""
    deletion_cost: int = 0
    """``controller.kubernetes.io/pod-deletion-cost`` (the highest of the unit's pods); lower goes first."""
    stalled: bool = False
    """A new-revision unit not Ready within the progress deadline (``builders.upgrades``)."""


@dataclass(frozen=True, kw_only=True)
class RolloutDecision:
    create: int
    """New-revision units to create."""
    delete: tuple[str, ...]
    """Keys of old units to delete, in order."""
    updated: int
    outdated: int
    stalled: tuple[str, ...] = ()
    """Keys of stalled new-revision units; non-empty means nothing is created or deleted."""


def _old_order(old: Sequence[Unit]) -> list[Unit]:
    first_seen: dict[str | None, str] = {}
    for unit in old:
        seen = first_seen.get(unit.revision)
        first_seen[unit.revision] = unit.created if seen is None else min(seen, unit.created)
    return sorted(
        old,
        key=lambda u: (u.ready, u.deletion_cost, first_seen[u.revision], u.created, u.key),
    )


def plan_rollout(
    *, units: Sequence[Unit], desired: int, target_revision: str, budget: Budget, autoscaling: bool
) -> RolloutDecision | None:
    """What this pass does for one group; None when no old unit is left (normal scaling applies).

    ``units`` are the group's live, healthy units (podplan removed broken ones and ``workersToDelete``
    first); ``desired`` is in units; ``budget`` is resolved against ``desired``.
    """
    new = [unit for unit in units if unit.revision == target_revision]
    old = [unit for unit in units if unit.revision != target_revision]
    if not old:
        return None
    stalled = tuple(unit.key for unit in new if unit.stalled and not unit.ready)
    if stalled:
        return RolloutDecision(create=0, delete=(), updated=len(new), outdated=len(old), stalled=stalled)
    target = max(desired, 0)
    create = max(0, min(target - len(new), target + budget.max_surge - len(units)))
    deletable = sum(unit.ready for unit in units) - (target - budget.max_unavailable)
    if autoscaling:
        replacing = sum(unit.ready for unit in new) - max(0, target - len(old))
        deletable = min(deletable, max(0, replacing))
    delete: list[str] = []
    for unit in _old_order(old):
        if not unit.ready:
            delete.append(unit.key)
        elif deletable > 0:
            delete.append(unit.key)
            deletable -= 1
    return RolloutDecision(create=create, delete=tuple(delete), updated=len(new), outdated=len(old))
