"""Revision hashes of a RayCluster spec: what ``upgradeStrategy: Recreate`` compares (reference §2.15).

Why: with ``Recreate`` every pod is replaced when the spec changes in a way that matters to pods.
The head pod carries the hash it was built from (``ray.io/upgrade-strategy-recreate-hash``); the
reconciler compares it with ``cluster_revision`` of the current spec. Excluded, as in KubeRay:

* ``replicas``, ``minReplicas``, ``maxReplicas`` and ``scaleStrategy.workersToDelete`` of every group —
  the autoscaler changes them all the time;
* ``tolerations`` and ``schedulingGates`` of every pod template — Kueue injects and removes them;
* ``upgradeStrategy`` itself.

``head_revision`` and ``worker_group_revision`` apply the same exclusions to one group's spec only,
for a later per-group rolling upgrade (§7.3). They deliberately do not include cluster-wide fields
(``rayVersion``, autoscaler, GCS FT or auth options, the head Service name behind the workers'
address): a change there changes ``cluster_revision``, and a rollout must treat it as touching every
group.

Format: SHA-256 of the JSON of the remaining spec with sorted keys and no whitespace, in lowercase
hex. KubeRay's value (SHA-1 of Go's struct-ordered JSON, base32) cannot be reproduced from a dict
and is never compared across operators: a head pod created by another operator version gets its
annotations refreshed, not recreated (the ``ray.io/kuberay-version`` rule). ``null`` values are dropped
first so that an explicit ``null`` and an absent field, which the API server stores alike, hash alike.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ray_operator.api.models import RayCluster

__all__ = ["cluster_revision", "head_revision", "worker_group_revision"]

_GROUP_SCALE_FIELDS = ("replicas", "minReplicas", "maxReplicas")
_TEMPLATE_SCHEDULING_FIELDS = ("tolerations", "schedulingGates")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _digest(value: Any) -> str:
    text = json.dumps(_without_nulls(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _strip_template(group: dict[str, Any]) -> None:
    template = group.get("template")
    spec = template.get("spec") if isinstance(template, dict) else None
    if isinstance(spec, dict):
        for key in _TEMPLATE_SCHEDULING_FIELDS:
            spec.pop(key, None)


def _strip_worker_group(group: dict[str, Any]) -> None:
    for key in _GROUP_SCALE_FIELDS:
        group.pop(key, None)
    strategy = group.get("scaleStrategy")
    if isinstance(strategy, dict):
        strategy.pop("workersToDelete", None)
    _strip_template(group)


def cluster_revision(cluster: RayCluster) -> str:
    """The Recreate hash of the whole spec (the value of ``ray.io/upgrade-strategy-recreate-hash``)."""
    spec = cluster.spec.to_dict()  # a fresh dict: the model is never mutated
    spec.pop("upgradeStrategy", None)
    head = spec.get("headGroupSpec")
    if isinstance(head, dict):
        _strip_template(head)
    for group in spec.get("workerGroupSpecs") or ():
        if isinstance(group, dict):
            _strip_worker_group(group)
    return _digest(spec)


def head_revision(cluster: RayCluster) -> str:
    """Hash of ``headGroupSpec`` without the template's tolerations and schedulingGates."""
    head = cluster.spec.head_group_spec.to_dict()
    _strip_template(head)
    return _digest(head)


def worker_group_revision(cluster: RayCluster, group_name: str) -> str:
    """Hash of one worker group's spec with the Recreate exclusions; KeyError for an unknown group."""
    for group in cluster.spec.worker_group_specs or ():
        if group.group_name == group_name:
            data = group.to_dict()
            _strip_worker_group(data)
            return _digest(data)
    raise KeyError(group_name)
