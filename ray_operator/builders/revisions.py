"""Revision hashes of a RayCluster spec: what ``upgradeStrategy`` compares (reference §2.15, §7.3).

Why: a pod carries the revision of the spec it was built from, so the reconciler can tell, from the pods
alone, which ones run an old spec — after an operator restart too (nothing is kept in memory). Which
fields count is decided once, in ``api.revisioninputs``; this module only hashes.

* ``cluster_revision``: the whole spec (the value of the head pod's
  ``ray.io/upgrade-strategy-recreate-hash``), compared under ``Recreate``;
* ``head_pod_revision`` / ``worker_pod_revision``: one role's view (its own group plus the cluster-wide
  fields it is built from), the ``ray.io/template-revision`` label of every head and worker pod, compared
  under ``RollingUpdate`` group by group;
* ``head_revision`` / ``worker_group_revision``: one group's own spec only, without cluster-wide fields.

Format: SHA-256 of the JSON with sorted keys and no whitespace, in lowercase hex; the pod label keeps the
first 16 hex digits (a label value is at most 63 characters, and 64 bits is plenty to tell a handful of
revisions of one group apart). KubeRay's value (SHA-1 of Go's struct-ordered JSON, base32) cannot be
reproduced from a dict and is never compared across operators: a head pod created by another operator
version gets its annotations refreshed, not recreated (the ``ray.io/kuberay-version`` rule).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ray_operator.api.models import RayCluster
from ray_operator.api.revisioninputs import cluster_spec_input, head_input, worker_input

__all__ = [
    "LABEL_DIGITS",
    "cluster_revision",
    "head_pod_revision",
    "head_revision",
    "worker_group_revision",
    "worker_pod_revision",
]

LABEL_DIGITS = 16
"""Hex digits of a template revision in the ``ray.io/template-revision`` label."""


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cluster_revision(cluster: RayCluster) -> str:
    """The Recreate hash of the whole spec (the value of ``ray.io/upgrade-strategy-recreate-hash``)."""
    return _digest(cluster_spec_input(cluster.spec.to_dict()))  # a fresh dict: the model is never mutated


def head_revision(cluster: RayCluster) -> str:
    """Hash of ``headGroupSpec`` alone, without the template's tolerations and schedulingGates."""
    return _digest(head_input(cluster.spec.to_dict())["head"])


def worker_group_revision(cluster: RayCluster, group_name: str) -> str:
    """Hash of one worker group's own spec with the exclusions; KeyError for an unknown group."""
    spec = cluster.spec.to_dict()
    return _digest(worker_input(spec, _group(spec, group_name))["group"])


def head_pod_revision(cluster: RayCluster) -> str:
    """The head pod's ``ray.io/template-revision``: its group and the cluster-wide fields it is built from."""
    return _digest(head_input(cluster.spec.to_dict()))[:LABEL_DIGITS]


def worker_pod_revision(cluster: RayCluster, group_name: str) -> str:
    """A worker pod's ``ray.io/template-revision`` for ``group_name``; KeyError for an unknown group."""
    spec = cluster.spec.to_dict()
    return _digest(worker_input(spec, _group(spec, group_name)))[:LABEL_DIGITS]


def _group(spec: dict[str, Any], group_name: str) -> dict[str, Any]:
    for group in spec.get("workerGroupSpecs") or ():
        if isinstance(group, dict) and group.get("groupName") == group_name:
            return group
    raise KeyError(group_name)
