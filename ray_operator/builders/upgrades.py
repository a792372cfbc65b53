"""How far an upgrade has come, read from the pods alone: the facts status and the rollout plan share.

Why: the reconciler keeps no rollout state in memory (an operator restarted mid-rollout must resume
from what the pods say), so the status (``builders.status``) and the decisions (``controller.rollout``)
both derive everything from each pod's ``ray.io/template-revision`` label, its Ready condition and its
``creationTimestamp``. The rules are written once here:

* a pod is **updated** when its label equals the target revision of its group (``builders.revisions``);
  a pod without the label counts as old;
* a new-revision pod that is not Ready is **waiting**; once it has existed longer than
  ``progressDeadlineSeconds`` it is **stalled**, and its group's rollout deletes nothing more until it is
  Ready or the template changes (a revert makes the stalled pods old, and they go first);
* the **strategy** is ``spec.upgradeStrategy.type``; only ``RollingUpdate`` and ``Recreate`` replace pods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ray_operator.api import constants as c
from ray_operator.api import rollingupdate as ru
from ray_operator.api.models import RayCluster

__all__ = [
    "GroupProgress",
    "group_progress",
    "is_ready",
    "pod_revision",
    "progress_deadline_seconds",
    "rolling_update",
    "seconds_since_created",
]


def _meta(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = pod.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def pod_name(pod: Mapping[str, Any]) -> str:
    return str(_meta(pod).get("name", ""))


def pod_revision(pod: Mapping[str, Any]) -> str | None:
    labels = _meta(pod).get("labels")
    value = labels.get(c.RAY_TEMPLATE_REVISION_LABEL) if isinstance(labels, Mapping) else None
    return value if isinstance(value, str) else None


def is_ready(pod: Mapping[str, Any]) -> bool:
    """Running with ``Ready=True`` (the readiness probe: the Ray node registered)."""
    status = pod.get("status")
    if not isinstance(status, Mapping) or status.get("phase") != "Running":
        return False
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def seconds_since_created(pod: Mapping[str, Any], now: datetime) -> float | None:
    raw = _meta(pod).get("creationTimestamp")
    if not isinstance(raw, str):
        return None
    try:
        created = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None:
        return None
    return (now - created).total_seconds()


def rolling_update(cluster: RayCluster) -> bool:
    strategy = cluster.spec.upgrade_strategy
    return strategy is not None and strategy.type == ru.ROLLING_UPDATE


def progress_deadline_seconds(cluster: RayCluster) -> int:
    strategy = cluster.spec.upgrade_strategy
    options = strategy.rolling_update if strategy is not None else None
    value = options.progress_deadline_seconds if options is not None else None
    return value if value is not None and value > 0 else ru.DEFAULT_PROGRESS_DEADLINE_SECONDS


@dataclass(frozen=True, kw_only=True)
class GroupProgress:
    """One group's pods against its target revision."""

    target_revision: str
    total: int
    updated: int
    waiting: list[str] = field(default_factory=list)
    """New-revision pods that are not Ready yet (names, oldest first)."""
    stalled: list[str] = field(default_factory=list)
    """Waiting pods older than the progress deadline."""

    @property
    def outdated(self) -> int:
        return self.total - self.updated


def group_progress(
    *, pods: Sequence[Mapping[str, Any]], target_revision: str, now: datetime, deadline_seconds: float
) -> GroupProgress:
    """``pods`` are the group's live pods (not being deleted)."""
    updated = [pod for pod in pods if pod_revision(pod) == target_revision]
    ordered = sorted(updated, key=lambda pod: (str(_meta(pod).get("creationTimestamp", "")), pod_name(pod)))
    waiting = [pod for pod in ordered if not is_ready(pod)]
    stalled = [pod for pod in waiting if (seconds_since_created(pod, now) or 0.0) > deadline_seconds]
    return GroupProgress(
        target_revision=target_revision,
        total=len(pods),
        updated=len(updated),
        waiting=[pod_name(pod) for pod in waiting],
        stalled=[pod_name(pod) for pod in stalled],
    )
