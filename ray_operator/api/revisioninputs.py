"""Which parts of a RayCluster spec a running pod depends on: the inputs of the template revisions.

Why in ``api``: two layers need the same answer. ``builders.revisions`` hashes these views into the
revisions pods carry, and ``api.validation`` warns at admission when an update changes the head's view
without GCS fault tolerance (the whole cluster restarts). Both read the functions here, so the warning
and the rollout can never disagree about what counts as a change.

Excluded everywhere, as KubeRay's Recreate hash does (reference §2.15): ``replicas``, ``minReplicas``,
``maxReplicas`` and ``scaleStrategy.workersToDelete`` (the autoscaler changes them all the time), each
template's ``tolerations`` and ``schedulingGates`` (Kueue injects and removes them), ``upgradeStrategy``
and a group's ``rollingUpdate`` (how to roll out is not what runs). ``null`` values are dropped, so an
explicit ``null`` and an absent field, which the API server stores alike, look alike.

Per pod role, on top of its own group:

* both see the **cluster-wide** fields a pod is built from: ``rayVersion``, ``enableInTreeAutoscaling``,
  GCS FT and auth options... but not ``suspend``, ``managedBy`` or ``headServiceAnnotations`` (they
  change no pod);
* a worker sees of ``autoscalerOptions`` only ``version`` (the sidecar's resources, image and env live
  in the head pod), and of the head only its ``rayStartParams.port`` (part of every worker's address);
* the head sees all of ``autoscalerOptions``.

Decided against: hashing the built pod. It would roll every pod when an operator upgrade changes what the
builders add (a new env var), which KubeRay's ``ray.io/kuberay-version`` rule exists to avoid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["cluster_spec_input", "head_input", "worker_input"]

_GROUP_SCALE_FIELDS = ("replicas", "minReplicas", "maxReplicas", "rollingUpdate")
_TEMPLATE_SCHEDULING_FIELDS = ("tolerations", "schedulingGates")
_NOT_POD_FIELDS = ("upgradeStrategy", "suspend", "managedBy", "headServiceAnnotations")


def _plain(value: Any) -> Any:
    """A copy without ``null`` values (dicts and lists new, scalars shared)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _strip_template(group: dict[str, Any]) -> None:
    template = group.get("template")
    spec = template.get("spec") if isinstance(template, dict) else None
    if isinstance(spec, dict):
        for key in _TEMPLATE_SCHEDULING_FIELDS:
            spec.pop(key, None)


def _strip_worker_group(group: dict[str, Any], *, drop_empty_strategy: bool) -> None:
    for key in _GROUP_SCALE_FIELDS:
        group.pop(key, None)
    strategy = group.get("scaleStrategy")
    if isinstance(strategy, dict):
        strategy.pop("workersToDelete", None)
        if drop_empty_strategy and not strategy:
            group.pop("scaleStrategy")  # {} is what defaulting writes for an absent strategy
    _strip_template(group)


def cluster_spec_input(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The whole spec with the exclusions: what ``upgradeStrategy: Recreate`` compares."""
    data: dict[str, Any] = _plain(spec)
    data.pop("upgradeStrategy", None)
    head = data.get("headGroupSpec")
    if isinstance(head, dict):
        _strip_template(head)
    for group in data.get("workerGroupSpecs") or ():
        if isinstance(group, dict):
            # The Recreate hash keeps an empty scaleStrategy: its value must not move under existing clusters.
            _strip_worker_group(group, drop_empty_strategy=False)
    return data


def _cluster_wide(spec: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = _plain(spec)
    for key in ("headGroupSpec", "workerGroupSpecs", *_NOT_POD_FIELDS):
        data.pop(key, None)
    return data


def head_input(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the head pod is built from (module docstring)."""
    head = spec.get("headGroupSpec")
    group: dict[str, Any] = _plain(head) if isinstance(head, Mapping) else {}
    _strip_template(group)
    return {"cluster": _cluster_wide(spec), "head": group}


def worker_input(spec: Mapping[str, Any], group_spec: Mapping[str, Any]) -> dict[str, Any]:
    """What a worker pod of ``group_spec`` (one of ``spec``'s groups) is built from (module docstring)."""
    cluster = _cluster_wide(spec)
    autoscaler = cluster.pop("autoscalerOptions", None)
    if isinstance(autoscaler, dict) and autoscaler.get("version") is not None:
        cluster["autoscalerOptions"] = {"version": autoscaler["version"]}
    head = spec.get("headGroupSpec")
    params = head.get("rayStartParams") if isinstance(head, Mapping) else None
    port = params.get("port") if isinstance(params, Mapping) else None
    if port is not None:
        cluster["headPort"] = port
    group: dict[str, Any] = _plain(group_spec)
    _strip_worker_group(group, drop_empty_strategy=True)
    return {"cluster": cluster, "group": group}
