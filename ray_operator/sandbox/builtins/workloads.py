"""The apps/v1 workloads (Deployment, StatefulSet, ReplicaSet, DaemonSet): their defaults and their pod templates'.

An operator comparing a Deployment it wrote with the stored one sees these fields on a real cluster,
so the sandbox adds them too (``SetDefaults_Deployment``, ``_StatefulSet``, ``_ReplicaSet``,
``_DaemonSet``, and the pod spec defaults inside the template). No workload controller runs: their
status stays empty and no ReplicaSets or Pods are made from them.
Decided against: defaulting Jobs (their generated selector and labels need the uid; they are stored
as sent).
"""

from __future__ import annotations

import copy
from typing import Any

from ray_operator.sandbox.builtins.pods import default_pod_spec
from ray_operator.sandbox.builtins.strategy import BuiltinStrategy
from ray_operator.sandbox.resources import ResourceType


def _default_template(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


_ROLLING_UPDATE_DEFAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "Deployment": ("strategy", {"maxUnavailable": "25%", "maxSurge": "25%"}),
    "StatefulSet": ("updateStrategy", {"partition": 0}),
    "DaemonSet": ("updateStrategy", {"maxUnavailable": 1, "maxSurge": 0}),
}
"""Kind → (its update-strategy field, the ``rollingUpdate`` defaults when the type is RollingUpdate)."""


def _set_default(target: dict[str, Any], key: str, value: Any) -> Any:
    """``setdefault`` that also replaces JSON null: kube-apiserver decodes null as an unset field."""
    if target.get(key) is None:
        target[key] = value
    return target[key]


def default_workload(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """apps/v1 defaulting (SetDefaults_Deployment, _StatefulSet, _ReplicaSet, _DaemonSet) and the pod template's.

    An operator comparing a Deployment it wrote with the stored one sees these fields on a real cluster,
    so the sandbox adds them too. Values already set are kept; a field sent as null is defaulted as if absent.
    """
    out = copy.deepcopy(obj)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        _set_default(spec, "replicas", 1)
    if kind in _ROLLING_UPDATE_DEFAULTS:
        field, rolling_defaults = _ROLLING_UPDATE_DEFAULTS[kind]
        strategy = _set_default(spec, field, {})
        if isinstance(strategy, dict):
            _set_default(strategy, "type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = _set_default(strategy, "rollingUpdate", {})
                if isinstance(rolling, dict):
                    for key, value in rolling_defaults.items():
                        _set_default(rolling, key, value)
        _set_default(spec, "revisionHistoryLimit", 10)
    if kind == "Deployment":
        _set_default(spec, "progressDeadlineSeconds", 600)
    elif kind == "StatefulSet":
        _set_default(spec, "podManagementPolicy", "OrderedReady")
        _set_default(spec, "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    _default_template(spec)
    return out


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet")


class WorkloadStrategy(BuiltinStrategy):
    def defaults(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return default_workload(rt.kind, obj)
